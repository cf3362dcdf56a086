"""POST /transcripts with several files in one multipart request, against a real server with the default model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from moodline.core.settings import Settings
from moodline.server import create_app
from tests.servers import app_in_thread

SAMPLES = Path(__file__).parent.parent / "transcripts" / "samples"
BROKEN = b"WEBVTT\n\n1\n00:00:0x.000 --> 00:00:06.000\nAlex: hello\n"


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with app_in_thread(create_app(Settings(max_transcript_files=3, cache_size=0))) as url:
        with httpx.Client(base_url=url, timeout=60) as client:
            yield client


def upload(*names: str) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("file", (name, (SAMPLES / name).read_bytes(), "text/plain")) for name in names]


def test_several_files_answer_per_call_and_across_calls_with_a_bad_one_reported(client):
    files = [*upload("zoom_customer_call.vtt", "support_call.srt"), ("file", ("broken.vtt", BROKEN, "text/vtt"))]
    answer = client.post("/transcripts", files=files)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [(c["file"], c["status"]) for c in body["calls"]] == [
        ("zoom_customer_call.vtt", "ok"),
        ("support_call.srt", "ok"),
        ("broken.vtt", "failed"),
    ]
    error = body["calls"][2]["error"]
    assert error["type"] == "invalid_transcript" and "broken.vtt, line 4" in error["message"]
    alone = client.post("/transcripts", files=upload("zoom_customer_call.vtt")).json()
    assert body["calls"][0]["insights"] == alone  # each call's insights are what a single upload answers
    summary = body["summary"]
    assert summary["totals"]["calls"] == 2 and summary["totals"]["failed"] == 1
    assert summary["failures"] == [{"file": "broken.vtt", "error": error["message"]}]
    assert {row["speaker"] for row in summary["speakers"]} == {
        "Dana Whitfield", "Marcus Lee", "Priya Raman", "Agent", "Caller"
    }  # fmt: skip
    zoom = summary["calls"][0]
    assert zoom["mean_sentiment"] == pytest.approx(alone["summary"]["mean_sentiment"])
    assert zoom["negative_share"] == pytest.approx(alone["summary"]["label_shares"]["negative"])


def test_one_file_keeps_the_single_call_answer(client):
    body = client.post("/transcripts", files=upload("support_call.srt")).json()
    assert "calls" not in body and body["source"] == "support_call.srt"
    assert set(body) >= {"summary", "speakers", "utterances", "timeline", "turning_points"}


def test_too_many_files_get_413_and_bad_parts_422(client):
    four = upload("zoom_customer_call.vtt", "support_call.srt", "product_review.sbv", "teams_standup.vtt")
    refused = client.post("/transcripts", files=four)
    assert refused.status_code == 413, refused.text
    assert refused.json()["error"] == {
        "type": "payload_too_large",
        "message": "too many files: at most 3 transcripts in one request",
        "details": [],
    }
    no_file = client.post("/transcripts", files=[("other", ("a.vtt", b"x", "text/plain"))])
    assert no_file.status_code == 422 and "'file' part" in no_file.json()["error"]["message"]
    as_text = client.post("/transcripts", data={"file": "Alex: hi"}, files=[("x", ("a", b"", "text/plain"))])
    assert as_text.status_code == 422
    unknown = client.post(
        "/transcripts", data={"format": "docx"}, files=upload("support_call.srt", "product_review.sbv")
    )
    assert unknown.status_code == 422 and "unknown transcript format 'docx'" in unknown.json()["error"]["message"]
    forced = client.post("/transcripts", data={"format": "srt"}, files=upload("support_call.srt", "product_review.sbv"))
    assert [call["status"] for call in forced.json()["calls"]] == ["ok", "failed"]  # the SBV file is no SRT
