from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from moodline.core.errors import DataFileError, InvalidInputError
from moodline.training.distillation import SoftLabels
from moodline.training.mixture import MIXES_DIR, DataMixture, in_holdout, normalise_tweet
from tests.conftest import SHARED_DATA, require_shared_data

LABELS = '["NEGATIVE", "NEUTRAL", "POSITIVE"]'


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture()
def mix_dir(tmp_path: Path) -> Path:
    write(
        tmp_path / "dialogue.csv",
        "utterance,emotion\n"
        "I love it,happiness\nThat is awful,anger\nThe train leaves at six,no_emotion\n"
        "Really?,surprise\n,no_emotion\nI'm scared,fear\n",
    )
    write(tmp_path / "phrases.tsv", "sentence\tlabel\na gem of a film \t1\na dull mess \t0\n")
    write(tmp_path / "stars.csv", "text,stars\n" + "".join(f"review number {i},{1 + i % 5}\n" for i in range(200)))
    write(
        tmp_path / "titled.csv",
        "title,text,stars\n" + "".join(f"title {i},review number {i},{1 + i % 5}\n" for i in range(200)),
    )
    write(tmp_path / "tweets.txt", "@bob loving this http://x.co/a\nmeh\n")
    write(tmp_path / "tweet_labels.txt", "2\n1\n")
    return tmp_path


def mix_file(directory: Path, body: str) -> Path:
    return write(directory / "mix.toml", f'labels = {LABELS}\nroot = "."\n{body}')


DIALOGUE = """
[[source]]
name = "dialogue"
path = "dialogue.csv"
text_column = "utterance"
label_column = "emotion"
weight = 2.0
labels = { happiness = "POSITIVE", anger = "NEGATIVE", fear = "NEGATIVE", no_emotion = "NEUTRAL", surprise = "" }
"""
# Star ratings onto sentiment, as the review sources map them.
STARS = 'labels = { 1 = "NEGATIVE", 2 = "NEGATIVE", 3 = "NEUTRAL", 4 = "POSITIVE", 5 = "POSITIVE" }'
PHRASES = """
[[source]]
name = "phrases"
path = "phrases.tsv"
weight = 0.5
labels = { 0 = "NEGATIVE", 1 = "POSITIVE" }
"""


def test_labels_are_mapped_dropped_and_empty_texts_skipped(mix_dir):
    data = DataMixture.load(mix_file(mix_dir, DIALOGUE + PHRASES)).read_training()
    dialogue, phrases = data.sources
    assert dialogue.texts == ["I love it", "That is awful", "The train leaves at six", "I'm scared"]
    assert [data.label_names[i] for i in dialogue.labels] == ["POSITIVE", "NEGATIVE", "NEUTRAL", "NEGATIVE"]
    assert (dialogue.dropped, dialogue.skipped_empty) == (1, 1)  # surprise mapped to "", one empty text
    # SST-2-style source: only two of the three labels, so the trainer's loss ignores NEUTRAL for it.
    assert dialogue.allowed == (0, 1, 2) and phrases.allowed == (0, 2)
    assert phrases.texts == ["a gem of a film", "a dull mess"]
    assert data.source_of == [0, 0, 0, 0, 1, 1]
    assert data.summary()[0] == {
        "source": "dialogue",
        "rows": 4,
        "rows_per_epoch": 8,
        "labels": ["NEGATIVE", "NEUTRAL", "POSITIVE"],
        "skipped_empty": 1,
        "dropped_by_mapping": 1,
    }


CALM = """
[[source]]
name = "calm"
path = "dialogue.csv"
text_column = "utterance"
label_column = "emotion"
labels = { no_emotion = "NEUTRAL", happiness = "", anger = "", fear = "", surprise = "" }
"""


def test_a_source_of_one_label_is_taught_against_all_labels(mix_dir):
    # Over its one label alone the loss would be zero and the source would teach nothing.
    (calm,) = DataMixture.load(mix_file(mix_dir, CALM)).read_training().sources
    assert calm.texts == ["The train leaves at six"]
    assert calm.allowed == (0, 1, 2)


def test_weights_set_each_sources_share_of_an_epoch(mix_dir):
    data = DataMixture.load(mix_file(mix_dir, DIALOGUE + PHRASES)).read_training()
    rng = random.Random(0)
    for _ in range(5):
        rows = data.epoch_indices(rng)
        per_source = Counter(data.source_of[i] for i in rows)
        assert per_source == {0: 8, 1: 1}  # weight 2 -> every row twice; weight 0.5 -> one of two rows
        assert Counter(i for i in rows if data.source_of[i] == 0) == dict.fromkeys(range(4), 2)
    draws = {tuple(data.epoch_indices(rng)[-1:]) for _ in range(40)}
    assert draws == {(4,), (5,)}  # a fresh half each epoch


def test_an_unmapped_label_names_the_file_line_and_value(mix_dir):
    body = DIALOGUE.replace(', surprise = ""', "")
    with pytest.raises(DataFileError, match=r"dialogue.csv, line 5: label 'surprise' is not in the mapping"):
        DataMixture.load(mix_file(mix_dir, body)).read_training()


def test_a_mapping_onto_an_unknown_label_is_refused(mix_dir):
    with pytest.raises(InvalidInputError, match="maps to 'HAPPY'"):
        DataMixture.load(mix_file(mix_dir, DIALOGUE.replace('"POSITIVE"', '"HAPPY"'))).read_training()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "no \\[\\[source\\]\\] tables"),
        (DIALOGUE.replace("weight = 2.0", "weight = 0"), "weight must be positive"),
        (DIALOGUE.replace("weight = 2.0", "wieght = 2.0"), "unknown keys \\['wieght'\\]"),
        (DIALOGUE + DIALOGUE, "source names must be unique"),
        ("[[source]]\npath = 'x.csv'\n", "needs 'name' and 'path'"),
    ],
)
def test_malformed_mix_files_are_refused_with_a_reason(mix_dir, body, message):
    with pytest.raises(InvalidInputError, match=message):
        DataMixture.load(mix_file(mix_dir, body))


def test_not_toml_and_missing_files_are_data_errors(tmp_path):
    with pytest.raises(DataFileError, match="not a valid TOML"):
        DataMixture.load(write(tmp_path / "bad.toml", "labels = [\n"))
    with pytest.raises(DataFileError, match="no such data-mix file .*shipped mixes: .*sentiment-3way"):
        DataMixture.load(tmp_path / "absent.toml")


def test_holdout_is_a_stable_hash_split_disjoint_from_training(mix_dir):
    body = f"""
[[source]]
name = "stars"
path = "stars.csv"
text_column = "text"
label_column = "stars"
holdout = 0.25
{STARS}

[[dev]]
name = "stars-holdout"
path = "stars.csv"
text_column = "text"
label_column = "stars"
holdout = 0.25
split = "holdout"
{STARS}
"""
    mix = DataMixture.load(mix_file(mix_dir, body))
    train = set(mix.read_training().texts)
    [held] = mix.read_dev()
    assert not train & set(held.texts)
    assert len(train) + len(held) == 200
    assert 30 <= len(held) <= 70  # a quarter, give or take the hash
    assert all(in_holdout(text, 0.25) for text in held.texts)
    assert held.texts == mix.read_dev()[0].texts  # the same rows every time


def test_a_holdout_column_holds_out_the_same_rows_as_the_text_it_names(mix_dir):
    body = f"""
[[source]]
name = "titles"
path = "titled.csv"
text_column = "title"
label_column = "stars"
holdout = 0.25
holdout_column = "text"
{STARS}

[[dev]]
name = "reviews-holdout"
path = "titled.csv"
text_column = "text"
label_column = "stars"
holdout = 0.25
split = "holdout"
{STARS}
"""
    mix = DataMixture.load(mix_file(mix_dir, body))
    trained_titles = set(mix.read_training().texts)
    [held] = mix.read_dev()
    held_rows = {text.removeprefix("review number ") for text in held.texts}
    assert held_rows and not {title.removeprefix("title ") for title in trained_titles} & held_rows
    assert len(trained_titles) + len(held) == 200
    missing = body.replace('holdout_column = "text"', 'holdout_column = "body"')
    with pytest.raises(DataFileError, match="no holdout column 'body'"):
        DataMixture.load(mix_file(mix_dir, missing)).read_training()


def test_a_conversation_carries_the_line_before_in_its_dialogue(mix_dir):
    write(
        mix_dir / "calls.csv",
        "call,who,text,label\n"
        "1,agent,Thanks for calling,neutral\n"
        "1,customer,My order arrived broken,negative\n"
        "1,customer,And nobody answers,negative\n"
        "1,customer,Really?,surprise\n"  # dropped by the mapping, but still the next line's context
        '1,agent,"I hear you, let\'s fix it",positive\n'
        "2,agent,Hello again,neutral\n",
    )
    mapping = '{ negative = "NEGATIVE", neutral = "NEUTRAL", positive = "POSITIVE", surprise = "" }'
    body = f"""
[[source]]
name = "calls"
path = "calls.csv"
text_column = "text"
dialogue_column = "call"
speaker_column = "who"
labels = {mapping}

[[source]]
name = "phrases"
path = "phrases.tsv"
labels = {{ 0 = "NEGATIVE", 1 = "POSITIVE" }}
"""
    data = DataMixture.load(mix_file(mix_dir, body)).read_training()
    calls, phrases = data.sources
    assert calls.texts == [
        "Thanks for calling",
        "My order arrived broken",
        "And nobody answers",
        "I hear you, let's fix it",
        "Hello again",
    ]
    # The first line of each call has none; a line after its own speaker's is marked so.
    assert calls.contexts == ["", "Thanks for calling", "(same speaker) My order arrived broken", "Really?", ""]
    assert phrases.contexts is None and data.has_contexts
    assert data.contexts == [*calls.contexts, "", ""]
    without_speaker = body.replace('speaker_column = "who"\n', "")
    assert DataMixture.load(mix_file(mix_dir, without_speaker)).read_training().sources[0].contexts == [
        "",
        "Thanks for calling",
        "My order arrived broken",
        "Really?",
        "",
    ]
    with pytest.raises(InvalidInputError, match="speaker_column needs dialogue_column"):
        DataMixture.load(mix_file(mix_dir, body.replace('dialogue_column = "call"\n', "")))
    with pytest.raises(DataFileError, match="no dialogue column 'session'"):
        DataMixture.load(mix_file(mix_dir, body.replace('"call"', '"session"'))).read_training()


def test_line_files_and_tweet_normalisation(mix_dir):
    body = """
[[source]]
name = "tweets"
path = "tweets.txt"
labels_path = "tweet_labels.txt"
format = "lines"
preprocess = "tweets"
labels = { 0 = "NEGATIVE", 1 = "NEUTRAL", 2 = "POSITIVE" }
"""
    [tweets] = DataMixture.load(mix_file(mix_dir, body)).read_training().sources
    assert tweets.texts == ["@user loving this", "meh"]
    assert tweets.labels == [2, 1]
    assert normalise_tweet("RT @a_b: see www.x.org now, mail me@home") == "RT @user: see now, mail me@home"


def test_a_root_argument_overrides_where_paths_start(mix_dir, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    mix = mix_file(elsewhere, PHRASES)
    with pytest.raises(DataFileError, match="no such file"):
        DataMixture.load(mix).read_training()
    assert len(DataMixture.load(mix, root=mix_dir).read_training()) == 2


@pytest.mark.needs_data
def test_the_shipped_mix_reads_every_source_and_dev_set():
    require_shared_data()
    assert (MIXES_DIR / "sentiment-3way.toml").is_file()
    mix = DataMixture.load("sentiment-3way", root=SHARED_DATA)
    data = mix.read_training()
    names = [s.name for s in data.sources]
    assert names == ["meld", "emorynlp", "dailydialog", "semeval-tweets", "clothing-reviews", "yelp-reviews", "sst2"]
    counts = {row["source"]: row["rows"] for row in data.summary()}
    assert counts["meld"] == 9415 and counts["sst2"] == 67349 and counts["semeval-tweets"] == 47461
    dev = {d.name: d for d in mix.read_dev()}
    assert {name: len(d) for name, d in dev.items() if name in {"meld-dev", "tweeteval-val", "sst2-dev"}} == {
        "meld-dev": 1109,
        "tweeteval-val": 2000,
        "sst2-dev": 872,
    }
    assert dev["sst2-dev"].allowed == (0, 2)
    # The review holdouts the suite scores never reach training.
    clothing = next(s for s in data.sources if s.name == "clothing-reviews")
    assert not set(clothing.texts) & set(dev["clothing-holdout"].texts)
    # The variant that also trains on review titles holds out the titles of the suite's reviews.
    plain = DataMixture.load("sentiment-3way-plain", root=SHARED_DATA)
    titles = next(s for s in plain.read_training().sources if s.name == "clothing-titles")
    assert 17000 < len(titles) < 18500
    # The measured third stage: the second stage's sources at half their weight, plus the titles.
    stage3 = DataMixture.load("sentiment-3way-stage3", root=SHARED_DATA)
    weights = {s.name: s.weight for s in stage3.sources}
    assert weights.pop("clothing-titles") == 0.25
    assert weights == {s.name: s.weight / 2 for s in mix.sources}
    # The default model's mix: the third stage plus DailyDialog's no-emotion lines as neutral, a
    # source of its own so that the teacher's soft labels (keyed by source) teach them nothing.
    calm = DataMixture.load("sentiment-3way-calm", root=SHARED_DATA)
    assert {s.name: s.weight for s in calm.sources} == {s.name: s.weight for s in stage3.sources} | {
        "dailydialog-calm": 0.15
    }
    calm_lines = next(s for s in calm.read_training().sources if s.name == "dailydialog-calm")
    assert 60000 < len(calm_lines) < 70000 and set(calm_lines.labels) == {calm.label_names.index("NEUTRAL")}
    _, taught = SoftLabels.load(MIXES_DIR / "sentiment-3way-stage3.teacher.npz").lookup(
        ["dailydialog-calm"] * len(calm_lines), calm_lines.texts
    )
    assert not taught.any()


def test_leaving_a_source_out_keeps_the_dev_sets(mix_dir):
    mix = DataMixture.load(mix_file(mix_dir, DIALOGUE + PHRASES))
    assert [s.name for s in mix.without(["dialogue"]).sources] == ["phrases"]
    with pytest.raises(InvalidInputError, match="no training source named tweets"):
        mix.without(["tweets"])
    with pytest.raises(InvalidInputError, match="leaves nothing"):
        mix.without(["dialogue", "phrases"])
