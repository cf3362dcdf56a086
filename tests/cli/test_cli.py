"""CLI behaviour: help everywhere, predictions, and a clean message (no traceback) for every bad input."""

from __future__ import annotations

import json
import subprocess

import click
import pytest
from click.testing import CliRunner

from moodline.cli import main
from tests.conftest import ROOT
from tests.servers import require_script


def run(*args: str, input: str | bytes | None = None) -> click.testing.Result:
    return CliRunner().invoke(main, list(args), input=input)


def all_commands() -> list[str]:
    return sorted(main.commands)


@pytest.mark.parametrize("command", all_commands())
@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_every_command_has_help(command, flag):
    result = run(command, flag)
    assert result.exit_code == 0
    assert "Usage: main " + command in result.output or f"Usage: moodline {command}" in result.output


def test_top_level_help_lists_the_commands():
    result = run("-h")
    assert result.exit_code == 0
    for command in ("predict", "evaluate", "train", "export", "info", "demo"):
        assert command in result.output


def test_predict_with_the_tiny_model_json(tiny_onnx_model):
    result = run("predict", "--model", str(tiny_onnx_model), "--json", "good", "bad")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["text"] for r in rows] == ["good", "bad"]
    assert all(set(r["scores"]) == {"negative", "neutral", "positive"} for r in rows)


def test_predict_reads_stdin_lines(tiny_onnx_model):
    result = run("predict", "--model", str(tiny_onnx_model), "--json", input="first line\n\nsecond line\n")
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["text"] for line in result.output.splitlines()] == ["first line", "second line"]


def test_predict_flags_truncation_in_the_table(tiny_onnx_model):
    result = run("predict", "--model", str(tiny_onnx_model), "word " * 200)
    assert result.exit_code == 0
    assert "truncated" in result.output and "--long-text chunk" in result.output


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["predict", ""], None, "text 1 is empty"),
        (["predict", "fine", "   "], None, "text 2 is empty"),
        (["predict"], b"ok\n\xff\xfe broken\n", "stdin line 2 is not valid UTF-8"),
        (["predict"], "\n \n", "stdin held no non-empty lines"),
        (["predict", "x" * 1_000_001], None, "the limit is 1,000,000"),
        (["predict", "--model", "/no/such/model", "hi"], None, "model '/no/such/model': no such directory"),
        (["evaluate", "--data", "missing.tsv"], None, "missing.tsv: no such file"),
        (["train", "--data", "missing.tsv", "--output", "out"], None, "missing.tsv: no such file"),
        (["export", "/no/such/model", "out"], None, "no such directory"),
    ],
)
def test_bad_input_gives_one_clean_error(tiny_onnx_model, tmp_path, monkeypatch, args, stdin, message):
    monkeypatch.chdir(tmp_path)
    if args[0] == "predict" and "--model" not in args:
        args = [args[0], "--model", str(tiny_onnx_model), *args[1:]]
    if args[0] == "evaluate":
        args = [args[0], str(tiny_onnx_model), *args[1:]]
    result = run(*args, input=stdin)
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing half-written


def test_unknown_hub_id_offline_names_the_model(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = run("predict", "--backend", "transformers", "--model", "someone/not-a-real-model", "hi")
    assert result.exit_code == 1
    assert "someone/not-a-real-model" in result.output and "not found" in result.output


def test_wrong_column_names_the_columns(tiny_onnx_model, tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("review,label\ngood,positive\n")
    result = run("evaluate", str(tiny_onnx_model), "--data", str(data))
    assert result.exit_code == 1
    assert "no text column 'sentence'; the file has 'review', 'label'" in result.output
    ok = run("evaluate", str(tiny_onnx_model), "--data", str(data), "--text-column", "review", "--json")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["examples"] == 1


def test_usage_errors_exit_2():
    assert run("predict", "--threads", "0", "x").exit_code == 2
    assert run("evaluate").exit_code == 2


def test_installed_console_script_runs_without_traceback(tmp_path):
    script = require_script("moodline")
    result = subprocess.run(
        [str(script), "predict", "--model", str(tmp_path / "nope"), "hi"], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 1
    assert result.stderr.strip().startswith("Error: model") and "Traceback" not in result.stderr


def test_info_prints_model_metadata(tiny_onnx_model):
    result = run("info", str(tiny_onnx_model))
    assert result.exit_code == 0
    info = json.loads(result.output)
    assert info["name"] == "tiny" and info["labels"] == ["negative", "neutral", "positive"]


def test_three_way_with_url_is_refused_before_any_model_loads(monkeypatch):
    from moodline.cli import predict as predict_module

    def no_loading(*_args, **_kwargs):
        raise AssertionError("a model was loaded for a combination that is refused")

    monkeypatch.setattr(predict_module, "load_engine", no_loading)
    result = run("predict", "--three-way", "--url", "http://127.0.0.1:9", "It is worth it")
    assert result.exit_code == 2
    assert "cannot be combined with --url" in result.output


@pytest.mark.parametrize(
    ("args", "hidden", "extra"),
    [(["serve"], "fastapi", "serve"), (["serve"], "gunicorn", "serve")],
)
def test_a_command_whose_extra_is_missing_names_the_extra(monkeypatch, args, hidden, extra):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *rest: None if name == hidden else real(name, *rest))
    result = run(*args)
    assert result.exit_code == 1
    assert f"needs the {extra} extra ({hidden} is missing): pip install 'moodline[{extra}]'" in result.output


def test_charts_without_matplotlib_name_the_plots_extra(monkeypatch):
    import importlib.util

    from moodline.core.errors import MissingDependencyError
    from moodline.core.plots import pyplot

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *rest: None if name == "matplotlib" else real(name, *rest)
    )
    with pytest.raises(MissingDependencyError, match=r"pip install 'moodline\[plots\]'"):
        pyplot()
