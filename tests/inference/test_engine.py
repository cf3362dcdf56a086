from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moodline import Analyzer, Engine
from moodline.core.errors import InvalidInputError, ModelLoadError, ModelNotFoundError
from tests.conftest import TINY_MAX_LENGTH

SENTENCES = [
    "It is worth it",
    "It is a waste of time and money and I regret every minute I spent on it, honestly",
    "ok",
    "The support team fixed my problem in five minutes.",
    "Meh.",
    "A long, winding, occasionally brilliant and often frustrating film about nothing in particular",
    "great",
]


def test_all_label_scores_form_a_distribution(tiny_engine):
    for prediction in tiny_engine.predict(SENTENCES):
        assert set(prediction.scores) == {"negative", "neutral", "positive"}
        assert sum(prediction.scores.values()) == pytest.approx(1.0, abs=1e-5)
        assert prediction.label == max(prediction.scores, key=prediction.scores.__getitem__)
        assert prediction.score == prediction.scores[prediction.label]


def test_batched_results_match_one_by_one_in_input_order(tiny_engine):
    batched = tiny_engine.predict(SENTENCES)
    single = [tiny_engine.predict([s])[0] for s in SENTENCES]
    for a, b in zip(batched, single, strict=True):
        assert a.label == b.label
        for label in a.scores:
            assert a.scores[label] == pytest.approx(b.scores[label], abs=1e-5)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.permutations(list(range(len(SENTENCES)))))
def test_order_is_restored_whatever_the_input_order(tiny_engine, order):
    reference = dict(zip(SENTENCES, tiny_engine.predict(SENTENCES), strict=True))
    shuffled = [SENTENCES[i] for i in order]
    for text, prediction in zip(shuffled, tiny_engine.predict(shuffled), strict=True):
        assert prediction.scores == pytest.approx(reference[text].scores, abs=1e-5)


def test_truncation_is_flagged_only_past_the_model_maximum(tiny_engine):
    short = "fine " * 10
    long = "fine " * (TINY_MAX_LENGTH * 2)
    flags = [p.truncated for p in tiny_engine.predict([short, long])]
    assert flags == [False, True]


def test_chunk_mode_reads_the_whole_text(tiny_engine):
    head = "this is wonderful and delightful. " * 12
    tail = "this is awful, broken and a disaster. " * 30
    text = head + tail
    truncated = tiny_engine.predict([text])[0]
    chunked = tiny_engine.predict([text], long_text="chunk")[0]
    assert truncated.truncated and truncated.chunks == 1
    assert not chunked.truncated and chunked.chunks > 2
    assert chunked.scores != pytest.approx(truncated.scores, abs=1e-4)
    short = tiny_engine.predict(["short text"], long_text="chunk")[0]
    assert short.chunks == 1 and short.scores == pytest.approx(tiny_engine.predict(["short text"])[0].scores)


def test_chunk_mode_averages_window_probabilities(tiny_engine):
    text = "good day. " * 50
    probs, _, chunks = tiny_engine.probabilities([text], long_text="chunk")
    windows = tiny_engine.tokenizer.encode([text])[0]
    pieces = [windows.ids, *windows.overflow]
    window_probs, _, _ = tiny_engine.probabilities(["x"])  # shape check only
    assert chunks == [len(pieces)]
    assert probs.shape == window_probs.shape
    scored = tiny_engine._score_windows(pieces)
    weights = np.array([len(p) for p in pieces], dtype=np.float32)
    expected = (scored * weights[:, None]).sum(0) / weights.sum()
    assert probs[0] == pytest.approx(expected, abs=1e-5)


def test_padding_is_per_batch_not_fixed(tiny_engine):
    # The base tokenizer.json pads every text to 128 tokens; the engine must not.
    [encoded] = tiny_engine.tokenizer.encode(["hi"])
    assert encoded.ids[0] == 101 and encoded.ids[-1] == 102 and len(encoded.ids) == 3


@pytest.mark.parametrize("bad", [[""], ["   \n\t"], ["ok", ""], [None], [3]])
def test_invalid_texts_are_refused(tiny_engine, bad):
    with pytest.raises(InvalidInputError, match="text"):
        tiny_engine.predict(bad)


def test_a_bare_string_is_refused_by_the_engine_but_accepted_by_the_analyzer(tiny_engine):
    with pytest.raises(InvalidInputError, match="single string"):
        tiny_engine.predict("It is worth it")
    analyzer = Analyzer(engine=tiny_engine)
    assert analyzer.predict("It is worth it").label in analyzer.labels
    assert len(analyzer.predict(["a", "b"])) == 2


def test_empty_list_gives_empty_result(tiny_engine):
    assert tiny_engine.predict([]) == []


def test_engine_info_reflects_the_model(tiny_engine):
    info = tiny_engine.info
    assert info.backend == "onnxruntime" and info.labels == ["negative", "neutral", "positive"]
    assert info.max_length == TINY_MAX_LENGTH and len(info.version) == 12


def test_transformers_backend_agrees_with_onnx(tiny_hf_model, tiny_engine):
    torch_engine = Engine.load(tiny_hf_model, backend="transformers")
    assert torch_engine.info.backend == "transformers"
    a, _, _ = torch_engine.probabilities(SENTENCES)
    b, _, _ = tiny_engine.probabilities(SENTENCES)
    assert np.abs(a - b).max() < 1e-4


def test_unknown_local_path_is_a_clear_error(tmp_path):
    with pytest.raises(ModelNotFoundError, match="no such directory"):
        Engine.load(tmp_path / "missing-model")


def test_unknown_hub_id_offline_names_the_model(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="'nobody/no-such-sentiment-model'"):
        Engine.load("nobody/no-such-sentiment-model")


def test_onnx_backend_on_a_plain_hf_directory_says_to_export(tiny_hf_model):
    with pytest.raises(ModelLoadError, match="moodline export"):
        Engine.load(tiny_hf_model, backend="onnx")
