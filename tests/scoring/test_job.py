"""The local scoring job and the `moodline score` command: outputs, bad rows, resume checks, clean errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from moodline.cli import main
from moodline.core.errors import InvalidInputError
from moodline.inference.engine import Engine
from moodline.scoring import ScoreOptions, score_file, work_directory
from tests.scoring.conftest import sentence, write_csv
from tests.servers import require_module

pq = require_module("pyarrow.parquet")


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, list(args))


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_scores_every_row_in_order_with_all_label_scores(tmp_path, tiny_onnx_model):
    source = write_csv(tmp_path / "in.csv", 50, bad_every=10)
    output = tmp_path / "out.csv"
    result = run(
        "score",
        str(source),
        str(output),
        "--text-column",
        "text",
        "--id-column",
        "id",
        "--model",
        str(tiny_onnx_model),
        "--chunk-rows",
        "8",
    )
    assert result.exit_code == 0, result.output
    assert "scored 50 rows" in result.output
    assert "5 rows kept unscored, marked in the error column: 5 empty text" in result.output
    assert "line 11 (id 'r9'): empty text" in result.output
    rows = read_csv(output)
    assert list(rows[0]) == [
        "id",
        "text",
        "note",
        "label",
        "score",
        "score_negative",
        "score_neutral",
        "score_positive",
        "error",
    ]
    assert [row["id"] for row in rows] == [f"r{i}" for i in range(50)]
    assert rows[3]["note"] == 'note, "3"'
    engine = Engine.load(tiny_onnx_model)
    expected = engine.predict([sentence(i) for i in range(8)])
    for row, prediction in zip(rows, expected, strict=False):
        assert row["label"] == prediction.label
        assert float(row["score"]) == pytest.approx(prediction.score, abs=1e-6)
        assert sum(float(row[f"score_{label}"]) for label in engine.labels) == pytest.approx(1.0, abs=1e-5)
    bad = [row for row in rows if row["error"]]
    assert [row["id"] for row in bad] == ["r9", "r19", "r29", "r39", "r49"]
    assert all(row["label"] == "" and row["score"] == "" for row in bad)
    assert not work_directory(output).exists()


@pytest.mark.parametrize("suffix", ["tsv", "jsonl", "parquet"])
def test_every_output_format_holds_the_same_predictions(tmp_path, tiny_engine, suffix):
    source = write_csv(tmp_path / "in.csv", 30, bad_every=7)
    options = ScoreOptions(text_column="text", chunk_rows=16)
    score_file(source, tmp_path / "ref.csv", tiny_engine, options)
    summary = score_file(source, tmp_path / f"out.{suffix}", tiny_engine, options)
    assert summary.rows == 30 and summary.bad_rows == {"empty text": 4}
    reference = read_csv(tmp_path / "ref.csv")
    if suffix == "parquet":
        rows = pq.read_table(tmp_path / "out.parquet").to_pylist()
    elif suffix == "jsonl":
        rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    else:
        with (tmp_path / "out.tsv").open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert [row["id"] for row in rows] == [row["id"] for row in reference]
    assert [row["label"] or None for row in rows] == [row["label"] or None for row in reference]
    for row, ref in zip(rows, reference, strict=True):
        if ref["score"]:
            assert float(row["score"]) == float(ref["score"])


def test_parquet_in_keeps_column_types(tmp_path, tiny_engine):
    pa = require_module("pyarrow")
    source = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": [1, 2, 3], "text": ["fine film", None, "dull plot"], "w": [0.5, 1.0, 2.0]}), source)
    summary = score_file(source, tmp_path / "out.parquet", tiny_engine, ScoreOptions(text_column="text"))
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.schema.field("id").type == pa.int64()
    assert table.schema.field("w").type == pa.float64()
    assert table.column("error").to_pylist() == [None, "missing text", None]
    assert summary.examples == ["row 2: missing text"]


def test_label_column_clash_asks_for_a_prefix(tmp_path, tiny_onnx_model):
    source = tmp_path / "in.tsv"
    source.write_text("sentence\tlabel\ngreat film\t1\n", encoding="utf-8")
    result = run(
        "score", str(source), str(tmp_path / "o.tsv"), "--text-column", "sentence", "--model", str(tiny_onnx_model)
    )
    assert result.exit_code == 1
    assert "already has a column 'label'" in result.output and "--prefix" in result.output
    result = run(
        "score",
        str(source),
        str(tmp_path / "o.tsv"),
        "--text-column",
        "sentence",
        "--model",
        str(tiny_onnx_model),
        "--prefix",
        "pred_",
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "o.tsv").read_text().splitlines()[0].startswith("sentence\tlabel\tpred_label\tpred_score")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'id,text\n1,"broken\n2,x\n', "line 2 (a record running to line 3): malformed CSV"),
        (b"id,text\n1,a,b\n", "line 2: expected 2 fields"),
        (b"id,body\n1,a\n", "no text column 'text'; the file has 'id', 'body'"),
    ],
)
def test_malformed_input_is_one_clean_line(tmp_path, tiny_onnx_model, content, message):
    source = tmp_path / "in.csv"
    source.write_bytes(content)
    output = tmp_path / "out.csv"
    result = run("score", str(source), str(output), "--text-column", "text", "--model", str(tiny_onnx_model))
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and message in result.output
    assert "Traceback" not in result.output
    assert not output.exists()


def write_hostile_csv(path: Path) -> Path:
    """Reviews whose text and columns a spreadsheet would run as formulas, and a numeric rating of -1."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["id", "text", "@rating"])
        writer.writerow(["=cmd|' /C calc'!A0", "good film, lovely actors", "-1"])
        writer.writerow(["r2", "-2+3 stars, a dull plot", "+4"])
    return path


def test_score_cli_neutralises_formulas_in_csv_output(tmp_path, tiny_onnx_model):
    source = write_hostile_csv(tmp_path / "in.csv")
    output = tmp_path / "out.csv"
    result = run("score", str(source), str(output), "--text-column", "text", "--model", str(tiny_onnx_model))
    assert result.exit_code == 0, result.output
    rows = read_csv(output)
    assert list(rows[0])[:3] == ["id", "text", "'@rating"]
    assert [row["id"] for row in rows] == ["'=cmd|' /C calc'!A0", "r2"]
    assert [row["text"] for row in rows] == ["good film, lovely actors", "'-2+3 stars, a dull plot"]
    assert [row["'@rating"] for row in rows] == ["-1", "+4"]  # numbers, not formulas: kept as they are
    assert all(0 <= float(row["score"]) <= 1 for row in rows)


def test_raw_csv_keeps_the_input_text_as_it_was(tmp_path, tiny_onnx_model):
    source = write_hostile_csv(tmp_path / "in.csv")
    output = tmp_path / "out.csv"
    result = run(
        "score", str(source), str(output), "--text-column", "text", "--model", str(tiny_onnx_model), "--raw-csv"
    )
    assert result.exit_code == 0, result.output
    rows = read_csv(output)
    assert list(rows[0])[:3] == ["id", "text", "@rating"]
    assert [row["id"] for row in rows] == ["=cmd|' /C calc'!A0", "r2"]
    assert [row["text"] for row in rows] == ["good film, lovely actors", "-2+3 stars, a dull plot"]


def test_existing_output_needs_overwrite(tmp_path, tiny_engine):
    source = write_csv(tmp_path / "in.csv", 5)
    output = tmp_path / "out.csv"
    output.write_text("keep me", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="--overwrite"):
        score_file(source, output, tiny_engine, ScoreOptions(text_column="text"))
    assert output.read_text() == "keep me"
    score_file(source, output, tiny_engine, ScoreOptions(text_column="text"), overwrite=True)
    assert len(read_csv(output)) == 5


def test_resume_refuses_a_different_input_or_options(tmp_path, tiny_engine):
    source = write_csv(tmp_path / "in.csv", 40)
    output = tmp_path / "out.csv"
    work = work_directory(output)
    work.mkdir()
    manifest = {
        "version": 1,
        "input": {"path": "elsewhere"},
        "options": {},
        "model": {},
        "chunks": 0,
        "rows": 0,
        "bad_rows": {},
        "examples": [],
    }
    (work / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InvalidInputError, match="different input.*--restart"):
        score_file(source, output, tiny_engine, ScoreOptions(text_column="text"))
    summary = score_file(source, output, tiny_engine, ScoreOptions(text_column="text"), restart=True)
    assert summary.rows == 40 and summary.resumed_rows == 0


def test_resume_after_an_interruption_skips_committed_chunks(tmp_path, tiny_engine):
    source = write_csv(tmp_path / "in.csv", 100)
    options = ScoreOptions(text_column="text", chunk_rows=10)
    score_file(source, tmp_path / "ref.csv", tiny_engine, options)

    class Interrupting:
        """The real engine, interrupted on its fifth chunk (as Ctrl-C would)."""

        def __init__(self) -> None:
            self.calls = 0

        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(tiny_engine, name)

        def probabilities(self, texts, **kwargs):  # type: ignore[no-untyped-def]
            self.calls += 1
            if self.calls == 5:
                raise KeyboardInterrupt
            return tiny_engine.probabilities(texts, **kwargs)

    output = tmp_path / "out.csv"
    with pytest.raises(KeyboardInterrupt):
        score_file(source, output, Interrupting(), options)
    assert not output.exists()
    assert json.loads((work_directory(output) / "manifest.json").read_text())["rows"] == 40
    counting = Interrupting()
    counting.calls = -100
    summary = score_file(source, output, counting, options)
    assert summary.resumed_rows == 40 and counting.calls == -100 + 6
    assert output.read_bytes() == (tmp_path / "ref.csv").read_bytes()


def test_ray_engine_without_ray_says_how_to_install(tmp_path, tiny_onnx_model, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name == "ray" or name.startswith("ray."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    source = write_csv(tmp_path / "in.csv", 3)
    result = run("score", str(source), str(tmp_path / "o.csv"), "--text-column", "text", "--engine", "ray")
    assert result.exit_code == 1
    assert "pip install 'moodline[batch]'" in result.output
