from __future__ import annotations

import json
from pathlib import Path

import pytest

from moodline.core.datafiles import read_labelled, split_holdout
from moodline.core.errors import DataFileError


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_tsv_reads_bare_quotes_like_sst2(tmp_path):
    path = write(tmp_path / "d.tsv", "sentence\tlabel\nit 's a \"charming\" film \t1\n`` bleak '' \t0\n")
    data = read_labelled(path, label_names=["NEGATIVE", "POSITIVE"])
    assert data.texts == ['it \'s a "charming" film', "`` bleak ''"]
    assert data.labels == [1, 0]


def test_csv_with_named_labels_and_custom_columns(tmp_path):
    path = write(tmp_path / "d.csv", 'review,stars\n"Great, really",pos\nAwful,neg\nFine,pos\n')
    data = read_labelled(path, text_column="review", label_column="stars")
    assert data.label_names == ["neg", "pos"]
    assert data.labels == [1, 0, 1]


def test_jsonl_labels_map_to_given_names(tmp_path):
    rows = [{"text": "good", "label": "POSITIVE"}, {"text": "bad", "label": "negative"}]
    path = write(tmp_path / "d.jsonl", "\n".join(json.dumps(r) for r in rows))
    data = read_labelled(path, text_column="text", label_names=["NEGATIVE", "POSITIVE"])
    assert data.labels == [1, 0]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.tsv", None, "no such file"),
        ("d.tsv", "sentence\tlabel\nok\t1\n", None),
        ("d.tsv", b"sentence\tlabel\nok \xff\xfe\t1\n", "not valid UTF-8"),
        ("d.csv", 'sentence,label\n"unterminated,1\n', "malformed CSV"),
        ("d.tsv", "sentence\tlabel\nok\t1\textra\n", "line 2: expected 2 fields"),
        ("d.jsonl", '{"sentence": "ok", "label": 1}\n{broken\n', "line 2: invalid JSON"),
        ("d.tsv", "sentence\tlabel\n \t1\n", "line 2: empty"),
        ("d.xlsx", "x", "cannot tell the format"),
        ("d.tsv", "sentence\tlabel\nok\t7\n", "match neither"),
    ],
)
def test_bad_files_raise_clear_errors(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        write(path, content)
    if message is None:  # the control case: a valid file reads fine
        assert len(read_labelled(path, label_names=["NEGATIVE", "POSITIVE"])) == 1
        return
    with pytest.raises(DataFileError, match=message):
        read_labelled(path, label_names=["NEGATIVE", "POSITIVE"])


def test_wrong_column_lists_the_available_ones(tmp_path):
    path = write(tmp_path / "d.tsv", "text\tlabel\nok\t1\n")
    with pytest.raises(DataFileError, match="no text column 'sentence'; the file has 'text', 'label'"):
        read_labelled(path)


def test_holdout_split_is_disjoint_and_reproducible(tmp_path):
    path = write(tmp_path / "d.tsv", "sentence\tlabel\n" + "".join(f"s{i}\t{i % 2}\n" for i in range(100)))
    data = read_labelled(path)
    train, dev = split_holdout(data, 0.2, seed=3)
    assert len(dev) == 20 and len(train) == 80
    assert not set(train.texts) & set(dev.texts)
    assert split_holdout(data, 0.2, seed=3)[1].texts == dev.texts
