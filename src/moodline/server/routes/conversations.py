"""Conversation endpoints: ``POST /transcripts`` (whole transcripts) and ``WebSocket /live`` (as they happen)."""

from __future__ import annotations

import json
import math
from collections import defaultdict, deque
from dataclasses import asdict, dataclass, field
from typing import Any

from fastapi import APIRouter, Depends, Request, WebSocket, WebSocketDisconnect
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from moodline.core.errors import InvalidInputError, MoodlineError
from moodline.core.texts import text_problem
from moodline.server.dependencies import ERROR_RESPONSES, get_state, key_matches, ready_state, require_api_key
from moodline.server.errors import ApiError
from moodline.server.service import ServerState
from moodline.transcripts import Cue, Transcript, get_parser, parse_transcript
from moodline.transcripts.collection import CallCollection
from moodline.transcripts.conversation_metrics import conversation_metrics
from moodline.transcripts.insights import UtteranceSentiment, check_insight_options, summarise, utterances_to_score
from moodline.transcripts.segments import find_segments

__all__ = ["LiveConversation", "router"]

router = APIRouter()

# A live session's summary covers at most its latest utterances, so that a session left open for days
# holds bounded memory; an hour's meeting is one to two thousand utterances.
LIVE_SUMMARY_UTTERANCES = 10_000

TRANSCRIPT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "oneOf": [
                                {"type": "string", "format": "binary"},
                                {"type": "array", "items": {"type": "string", "format": "binary"}},
                            ],
                            "description": "the transcript; repeat the part for several calls",
                        },
                        "format": {"type": "string", "description": "vtt, srt, sbv, otter, plain, json or csv"},
                    },
                },
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["transcript"],
                    "properties": {
                        "transcript": {"type": "string"},
                        "format": {"type": "string"},
                        "window": {"type": "integer", "minimum": 1},
                    },
                },
            },
        },
    }
}


@router.post(
    "/transcripts", dependencies=[Depends(require_api_key)], responses=ERROR_RESPONSES, openapi_extra=TRANSCRIPT_BODY
)
async def transcripts(request: Request) -> dict[str, Any]:
    """Analyse whole transcripts (file uploads or JSON): per utterance, per speaker, over time, across calls."""
    state = await ready_state(request)
    content_type = request.headers.get("content-type", "")
    window: Any = 5
    if content_type.startswith("multipart/form-data"):
        limit = state.settings.max_transcript_files
        try:
            form = await request.form(max_files=limit)
        except HTTPException as exc:
            if "Too many files" not in str(exc.detail):
                raise
            raise ApiError(413, f"too many files: at most {limit} transcripts in one request") from exc
        uploads = form.getlist("file")
        if not uploads or any(not isinstance(upload, UploadFile) for upload in uploads):
            raise InvalidInputError("multipart body needs a 'file' part with the transcript (one part per file)")
        fmt = form.get("format")
        if fmt is not None and not isinstance(fmt, str):
            raise InvalidInputError("'format' must be a string")
        files = [
            (upload.filename or "upload", await upload.read()) for upload in uploads if isinstance(upload, UploadFile)
        ]
        if len(files) > 1:
            if fmt:
                get_parser(fmt)  # an unknown format is the request's mistake, not each file's
            return await _analyse_many(state, files, fmt or None)
        [(name, data)] = files
    else:
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidInputError('body must be JSON {"transcript": "..."} or a multipart file upload') from exc
        if not isinstance(body, dict) or not isinstance(body.get("transcript"), str):
            raise InvalidInputError("JSON body needs a 'transcript' string")
        data, name, fmt = body["transcript"], "transcript", body.get("format")
        window = body.get("window", 5)
    if fmt is not None and not isinstance(fmt, str):
        raise InvalidInputError("'format' must be a string")
    if not isinstance(window, int) or isinstance(window, bool) or window < 1:
        raise InvalidInputError("'window' must be a positive integer")
    return await _analyse_one(state, data, name, fmt or None, window)


async def _analyse_one(
    state: ServerState, data: bytes | str, name: str, fmt: str | None, window: int
) -> dict[str, Any]:
    conversation = parse_transcript(data, format=fmt, source=name)
    check_insight_options(window=window)
    utterances = utterances_to_score(conversation)
    scored = await state.predict([u.text for u in utterances])
    predictions = state.three_way_scorer().from_predictions(scored.predictions)
    result: dict[str, Any] = summarise(conversation, utterances, predictions, window=window).to_dict()
    return result


async def _analyse_many(state: ServerState, files: list[tuple[str, bytes]], fmt: str | None) -> dict[str, Any]:
    """Each file on its own: one that is not a transcript gets its error, the others their insights.

    The answer is 200 whenever the request itself is sound; each entry of ``calls`` says ``ok`` or
    ``failed``. Errors of the server (overloaded, timed out) still fail the whole request.
    """
    collection = CallCollection()
    calls: list[dict[str, Any]] = []
    for name, data in files:
        try:
            insights = await _analyse_one(state, data, name, fmt, 5)
        except InvalidInputError as exc:
            collection.add_failure(file=name, error=exc.message)
            calls.append({"file": name, "status": "failed", "error": {"type": exc.error_type, "message": exc.message}})
        else:
            collection.add(insights, file=name)
            calls.append({"file": name, "status": "ok", "insights": insights})
    return {"calls": calls, "summary": collection.summary()}


@dataclass
class LiveConversation:
    """Rolling per-speaker sentiment of one live conversation, and when to raise an alert."""

    window: int
    threshold: float
    alert_after: int
    history: dict[str, deque[float]] = field(default_factory=dict)
    streak: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    alerted: set[str] = field(default_factory=set)
    count: int = 0
    said: deque[UtteranceSentiment] = field(default_factory=lambda: deque(maxlen=LIVE_SUMMARY_UTTERANCES))

    def add(self, speaker: str, sentiment: float) -> tuple[dict[str, float], bool]:
        """Record one utterance; return every speaker's rolling mean and whether to alert now."""
        recent = self.history.setdefault(speaker, deque(maxlen=self.window))
        recent.append(sentiment)
        rolling = {name: sum(values) / len(values) for name, values in self.history.items()}
        if rolling[speaker] < self.threshold:
            self.streak[speaker] += 1
        else:
            self.streak[speaker] = 0
            self.alerted.discard(speaker)  # recovered: the next bad streak alerts again
        alert = self.streak[speaker] >= self.alert_after and speaker not in self.alerted
        if alert:
            self.alerted.add(speaker)
        self.count += 1
        return rolling, alert

    def remember(
        self, speaker: str, text: str, start: float | None, end: float | None, label: str, sentiment: float
    ) -> None:
        """Keep an utterance (the one :meth:`add` just counted) for :meth:`summary`."""
        turn = 0
        if self.said:
            last = self.said[-1]
            turn = last.turn_index + (last.speaker != speaker)
        self.said.append(UtteranceSentiment(self.count - 1, turn, speaker, text, start, end, label, sentiment))

    def summary(self) -> dict[str, Any]:
        """Conversation metrics and sentiment segments of the utterances kept so far, as in ``POST /transcripts``."""
        said = list(self.said)
        cues = [Cue(u.speaker, u.text, u.start, u.end, i, i + 1) for i, u in enumerate(said)]
        metrics = conversation_metrics(Transcript(tuple(cues), format="live", source="live"))
        return {
            "type": "summary",
            "utterances": len(said),
            "first_index": said[0].position if said else None,
            "conversation_metrics": metrics.to_dict(),
            "segments": [asdict(segment) for segment in find_segments(said)],
        }


@router.websocket("/live")
async def live(websocket: WebSocket) -> None:
    """Score utterances as they happen: send {speaker, text, time, end}; get sentiment, rolling state, alerts.

    A message ``{"type": "summary"}`` answers with the conversation metrics and sentiment segments so far.
    """
    state = get_state(websocket)  # type: ignore[arg-type]
    settings = state.settings
    if settings.api_keys:
        token = websocket.query_params.get("api_key") or websocket.headers.get("authorization", "").partition(" ")[2]
        if not key_matches(settings.api_keys, token):
            await websocket.close(code=1008, reason="missing or invalid API key")
            return
    await websocket.accept()
    if not state.ready:
        await websocket.close(code=1013, reason="the model is still loading")
        return
    conversation = LiveConversation(settings.live_window, settings.live_alert_threshold, settings.live_alert_count)
    scorer = state.three_way_scorer()
    try:
        while True:
            message = await websocket.receive_text()
            try:
                event = json.loads(message)
                if not isinstance(event, dict):
                    raise ValueError("expected a JSON object")
                if event.get("type") == "summary":
                    await websocket.send_json(conversation.summary())
                    continue
                speaker, text, when = str(event.get("speaker") or "Unknown"), event.get("text"), event.get("time")
                ends = event.get("end")
                problem = text_problem(text, max_chars=settings.max_text_chars)
                if problem is not None:
                    raise ValueError(f"'text' {problem.message}")
                assert isinstance(text, str)
                if when is not None and not _seconds(when):
                    raise ValueError("'time' must be a number of seconds")
                if ends is not None and (not _seconds(ends) or when is None or ends < when):
                    raise ValueError("'end' must be a number of seconds, with a 'time' no later than it")
            except ValueError as exc:  # JSONDecodeError is a ValueError too
                await websocket.send_json({"type": "error", "message": str(exc)})
                continue
            try:
                scored = await state.predict([text])
            except MoodlineError as exc:  # at capacity, timed out: this message fails, the session goes on
                await websocket.send_json({"type": "error", "message": exc.message})
                continue
            [result] = scorer.from_predictions(scored.predictions)
            rolling, alert = conversation.add(speaker, result.sentiment)
            conversation.remember(speaker, text, when, ends, result.label, result.sentiment)
            await websocket.send_json(
                {
                    "type": "utterance",
                    "index": conversation.count - 1,
                    "speaker": speaker,
                    "text": text,
                    "time": when,
                    "label": result.label,
                    "sentiment": result.sentiment,
                    "rolling": rolling,
                }
            )
            if alert:
                await websocket.send_json(
                    {
                        "type": "alert",
                        "speaker": speaker,
                        "rolling": rolling[speaker],
                        "time": when,
                        "threshold": conversation.threshold,
                        "utterances": conversation.streak[speaker],
                        "message": f"{speaker}'s tone has stayed negative for "
                        f"{conversation.streak[speaker]} utterances",
                    }
                )
    except WebSocketDisconnect:
        return


def _seconds(value: Any) -> bool:
    """A time a live message may carry: a finite number (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
