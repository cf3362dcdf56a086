"""Writes that leave a file or directory complete or absent, even across a crash or power loss.

Every writer that promises "complete or absent" (reports, calibrated metadata, exported and
averaged models, training checkpoints and results, batch-scoring parts, manifest and output,
registry downloads) goes through here. The recipe is always the same: write a temporary beside
the target, fsync it, rename it into place, fsync the directory so the rename itself survives.
Without the fsyncs a rename can reach the disk before the data does, and a crash leaves a complete
name on an empty or partial file.

Example::

    write_atomically("report.json", text)
    with durable_path(Path("scored.parquet")) as temporary:
        write_table(table, temporary)         # any writer that takes a path
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "durable_path",
    "fsync_directory",
    "fsync_file",
    "move_durably",
    "staged_directory",
    "write_atomically",
]


def fsync_file(path: Path) -> None:
    """Flush ``path``'s data to disk (a read-only descriptor is enough on POSIX)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def fsync_directory(directory: Path) -> None:
    """Flush ``directory``'s entries, so a rename or a new file in it survives a crash."""
    fsync_file(directory)


@contextmanager
def durable_path(path: str | Path, *, scratch: Path | None = None) -> Iterator[Path]:
    """Yield a temporary file path for any writer; when the block ends it becomes ``path``, durably.

    The temporary lies beside ``path`` (or in ``scratch``, which must be on the same file system); it
    is removed when the block raises, and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=scratch or path.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        fsync_file(temporary)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; outputs are read by other users and services
        os.replace(temporary, path)
        fsync_directory(path.parent)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_atomically(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8, newlines as given) so that ``path`` holds all of it or its old content."""
    path = Path(path)
    with durable_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8", newline="")
    return path


def move_durably(sources: Iterable[Path], directory: Path) -> None:
    """Move finished files into ``directory`` (same file system), each flushed first, then the directory."""
    for source in sources:
        fsync_file(source)
        os.replace(source, directory / source.name)
    fsync_directory(directory)


@contextmanager
def staged_directory(output: str | Path) -> Iterator[Path]:
    """Yield an empty directory beside ``output`` to build in.

    When the block finishes, every file in it is flushed and the directory replaces ``output`` whole;
    when it raises, it is removed, and ``output`` is left as it was.
    """
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    try:
        yield work
        for directory, _, files in os.walk(work):
            for name in files:
                fsync_file(Path(directory, name))
            fsync_directory(Path(directory))
        if output.exists():
            shutil.rmtree(output)
        work.chmod(0o755)  # mkdtemp makes it private; model directories are read by other users (services)
        work.rename(output)
        fsync_directory(output.parent)
    finally:
        shutil.rmtree(work, ignore_errors=True)
