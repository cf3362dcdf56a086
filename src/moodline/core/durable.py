"""Writing output files so that they appear complete or not at all."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["staged_directory", "write_atomically"]


def write_atomically(path: str | Path, text: str) -> Path:
    """Write ``text`` to a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


@contextmanager
def staged_directory(output: str | Path) -> Iterator[Path]:
    """Yield an empty directory beside ``output`` to build in.

    When the block finishes, the directory replaces ``output`` whole; when it raises, it is removed,
    and ``output`` is left as it was.
    """
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    try:
        yield work
        if output.exists():
            shutil.rmtree(output)
        work.chmod(0o755)  # mkdtemp makes it private; model directories are read by other users (services)
        work.rename(output)
    finally:
        shutil.rmtree(work, ignore_errors=True)
