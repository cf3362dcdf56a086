"""Virtual environments for the peer servers, kept apart from moodline's own dependencies.

Each peer (BentoML, Ray Serve) gets a venv of its own under ``~/.cache/moodline-bench/venvs/NAME``
(``$XDG_CACHE_HOME`` is honoured), created with ``python -m venv`` and filled by pip with pinned
versions. The pins are written into the venv once the install succeeds, so a later run reuses it, and
a changed pin (or a half-finished install) makes a fresh one.

    python benchmarks/peers/environments.py bentoml ray     # install ahead of a benchmark run
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

# The same onnxruntime, tokenizers and numpy as moodline's environment where possible, so the peers
# run the same kernels; the serving frameworks at their latest release when this was written.
COMMON = ["onnxruntime==1.32.0", "tokenizers==0.23.3", "numpy==2.4.6"]
REQUIREMENTS: dict[str, list[str]] = {
    "bentoml": ["bentoml==1.4.40", *COMMON],
    "ray": ["ray[serve]==2.60.0", *COMMON],
}
PINS_FILE = "moodline-pins.txt"


def cache_root() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "moodline-bench" / "venvs"


def venv_python(name: str) -> Path:
    return cache_root() / name / "bin" / "python"


def ensure_venv(name: str, *, quiet: bool = True) -> Path:
    """The Python of peer ``name``'s venv, created and installed first if needed."""
    if name not in REQUIREMENTS:
        raise SystemExit(f"error: unknown peer {name!r}; choose from {', '.join(REQUIREMENTS)}")
    directory = cache_root() / name
    pins = "\n".join(REQUIREMENTS[name]) + "\n"
    marker = directory / PINS_FILE
    if marker.exists() and marker.read_text() == pins and venv_python(name).exists():
        return venv_python(name)
    if directory.exists():
        shutil.rmtree(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", str(directory)], check=True)
    pip = [str(venv_python(name)), "-m", "pip", "install", "--disable-pip-version-check"]
    if quiet:
        pip.append("-q")
    try:
        subprocess.run([*pip, *REQUIREMENTS[name]], check=True)
    except subprocess.CalledProcessError as exc:
        raise SystemExit(f"error: could not install {name} into {directory} (pip exited {exc.returncode})") from exc
    marker.write_text(pins)  # last: a venv without it is reinstalled next time
    return venv_python(name)


def main(argv: list[str]) -> int:
    for name in argv or list(REQUIREMENTS):
        print(f"{name}: {ensure_venv(name, quiet=False)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
