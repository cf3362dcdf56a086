"""The figures per CPU kind: how a kind is named, and the model cards' section made from the records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from benchmarks.cpu_kinds import RECORDS, SECTION, kind_label, update_card
from benchmarks.machine import CpuInfo

from moodline.inference.model_dir import load_metadata
from moodline.inference.sources import BUNDLED_MODEL_DIR, MODELS_DIR, SST2_MODEL_NAME

CARD = """# a model

| | |
|---|---|

## Accuracy

figures

## Reproduce

commands
"""


def sst2_record(kind: str, version: str, right: int) -> dict[str, object]:
    band = {"low": 0.16, "high": 0.97}
    return {
        "kind": kind,
        "sst2_model_version": version,
        "sst2_model_sst2_dev_right": right,
        "sst2_model_sst2_dev_examples": 872,
        "meld_dev_tuned_band": band,
        "meld_dev_tuned_band_macro_f1": 0.4609,
        "meld_dev_shipped_band": band,
        "meld_dev_shipped_band_macro_f1": 0.4601,
    }


def write_records(directory: Path, *records: dict[str, object]) -> None:
    directory.mkdir()
    for number, record in enumerate(records):
        (directory / f"{number}.json").write_text(json.dumps(record))


def test_kinds_are_named_by_maker_and_int8_path():
    amx = CpuInfo("Intel(R) Xeon(R) Platinum 8480+", frozenset({"avx2", "avx512f", "avx512_vnni", "amx_int8"}))
    vnni = CpuInfo("AMD EPYC 7B13 64-Core Processor", frozenset({"avx2", "avx512f", "avx512_vnni"}))
    avx2 = CpuInfo("Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz", frozenset({"avx2", "fma"}))
    assert kind_label(amx) == "Intel Xeon, AVX-512 VNNI + AMX"
    assert kind_label(vnni) == "AMD EPYC, AVX-512 VNNI"
    assert kind_label(avx2) == "Intel Core, AVX2 only"
    assert kind_label(amx, emulated="Haswell-v4") == "AVX2 only (Haswell, emulated)"


def test_the_section_lists_the_records_of_the_cards_version_only(tmp_path: Path):
    records = tmp_path / "records"
    write_records(
        records,
        sst2_record("AMD EPYC, AVX-512 VNNI", "v2", 786),
        sst2_record("AVX2 only (Haswell, emulated)", "v2", 785),
        sst2_record("Intel Xeon, AVX-512 VNNI + AMX", "v1", 700),
    )
    (tmp_path / "MODEL_CARD.md").write_text(CARD)
    update_card(tmp_path, "v2", "sst2", records)
    card = (tmp_path / "MODEL_CARD.md").read_text()

    section = card[card.index(SECTION) : card.index("## Reproduce")]
    assert "| AMD EPYC, AVX-512 VNNI | 786/872 (0.9014) | 0.16-0.97 (0.4609) | 0.16-0.97 (0.4601) |" in section
    assert "| AVX2 only (Haswell, emulated) | 785/872 (0.9002) |" in section
    assert "Intel Xeon" not in section  # a record of another version
    # Added once, before Reproduce, and the rest of the card kept as it was.
    assert card.count(SECTION) == 1
    assert card.replace(section, "") == CARD


def test_rewriting_replaces_the_section_and_a_new_version_starts_empty(tmp_path: Path):
    records = tmp_path / "records"
    write_records(records, sst2_record("AMD EPYC, AVX-512 VNNI", "v1", 786))
    (tmp_path / "MODEL_CARD.md").write_text(CARD)
    update_card(tmp_path, "v1", "sst2", records)
    update_card(tmp_path, "v1", "sst2", records)
    once = (tmp_path / "MODEL_CARD.md").read_text()
    assert once.count(SECTION) == 1 and "786/872" in once

    update_card(tmp_path, "v2", "sst2", records)
    rebuilt = (tmp_path / "MODEL_CARD.md").read_text()
    assert "786/872" not in rebuilt
    assert "No CPU kind is recorded yet for version `v2`." in rebuilt
    assert rebuilt.count(SECTION) == 1 and rebuilt.endswith("## Reproduce\n\ncommands\n")


def test_the_shipped_cards_show_what_the_committed_records_say(tmp_path: Path):
    # Each shipped card's section is exactly what benchmarks/cpu_kinds.py renders from docs/model/cpu_kinds/:
    # a hand edit, a record left out or a model rebuilt without re-measuring shows up here.
    shipped_models: list[tuple[Path, Literal["default", "sst2"]]] = [
        (BUNDLED_MODEL_DIR, "default"),
        (MODELS_DIR / SST2_MODEL_NAME, "sst2"),
    ]
    for model_dir, model in shipped_models:
        copy = tmp_path / model_dir.name
        copy.mkdir()
        shipped = (model_dir / "MODEL_CARD.md").read_text()
        (copy / "MODEL_CARD.md").write_text(shipped)
        update_card(copy, load_metadata(model_dir)["version"], model, RECORDS)
        assert (copy / "MODEL_CARD.md").read_text() == shipped, model
        assert "No CPU kind is recorded yet" not in shipped, model
