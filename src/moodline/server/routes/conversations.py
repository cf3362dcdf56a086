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
from moodline.inference.emotions import EmotionPrediction
from moodline.server.dependencies import ERROR_RESPONSES, get_state, key_matches, ready_state, require_api_key
from moodline.server.errors import ApiError
from moodline.server.service import ServerState
from moodline.transcripts import Cue, Transcript, get_parser, parse_transcript
from moodline.transcripts.collection import CallCollection
from moodline.transcripts.conversation_metrics import conversation_metrics
from moodline.transcripts.emotions import summarise_emotions
from moodline.transcripts.insights import (
    UtteranceSentiment,
    check_insight_options,
    summarise,
    utterances_to_score,
    with_emotion,
)
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
                        "emotions": {
                            "type": "string",
                            "enum": ["true", "false", "1", "0", "yes", "no", "on", "off"],
                            "description": "score each utterance's emotion (default: the server's setting, on)",
                        },
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
                        "emotions": {"type": "boolean", "description": "default: the server's setting, on"},
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
    asked: Any = None
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
        asked = _form_flag(form.get("emotions"), "emotions")
        files = [
            (upload.filename or "upload", await upload.read()) for upload in uploads if isinstance(upload, UploadFile)
        ]
        emotions = state.wants_emotions(asked)
        if len(files) > 1:
            if fmt:
                get_parser(fmt)  # an unknown format is the request's mistake, not each file's
            return await _analyse_many(state, files, fmt or None, emotions)
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
        asked = body.get("emotions")
        if asked is not None and not isinstance(asked, bool):
            raise InvalidInputError("'emotions' must be true or false")
    if fmt is not None and not isinstance(fmt, str):
        raise InvalidInputError("'format' must be a string")
    if not isinstance(window, int) or isinstance(window, bool) or window < 1:
        raise InvalidInputError("'window' must be a positive integer")
    return await _analyse_one(state, data, name, fmt or None, window, state.wants_emotions(asked))


_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}


def _form_flag(value: Any, name: str) -> bool | None:
    """A yes/no multipart field: ``None`` when absent or empty, else true/false (1/0, yes/no, on/off)."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise InvalidInputError(f"'{name}' must be true or false")


async def _analyse_one(
    state: ServerState, data: bytes | str, name: str, fmt: str | None, window: int, emotions: bool
) -> dict[str, Any]:
    conversation = parse_transcript(data, format=fmt, source=name)
    check_insight_options(window=window)
    utterances = utterances_to_score(conversation)
    texts = [u.text for u in utterances]
    scored = await state.predict(texts)
    predictions = state.three_way_scorer().from_predictions(scored.predictions)
    felt = await state.predict_emotions(texts) if emotions else None
    result: dict[str, Any] = summarise(conversation, utterances, predictions, window=window, emotions=felt).to_dict()
    return result


async def _analyse_many(
    state: ServerState, files: list[tuple[str, bytes]], fmt: str | None, emotions: bool
) -> dict[str, Any]:
    """Each file on its own: one that is not a transcript gets its error, the others their insights.

    The answer is 200 whenever the request itself is sound; each entry of ``calls`` says ``ok`` or
    ``failed``. Errors of the server (overloaded, timed out) still fail the whole request.
    """
    collection = CallCollection()
    calls: list[dict[str, Any]] = []
    for name, data in files:
        try:
            insights = await _analyse_one(state, data, name, fmt, 5, emotions)
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

    emotions: bool = False

    def remember(
        self,
        speaker: str,
        text: str,
        start: float | None,
        end: float | None,
        label: str,
        sentiment: float,
        emotion: EmotionPrediction | None = None,
    ) -> None:
        """Keep an utterance (the one :meth:`add` just counted) for :meth:`summary`."""
        turn = 0
        if self.said:
            last = self.said[-1]
            turn = last.turn_index + (last.speaker != speaker)
        said = UtteranceSentiment(self.count - 1, turn, speaker, text, start, end, label, sentiment)
        self.said.append(with_emotion(said, emotion) if emotion is not None else said)

    def summary(self) -> dict[str, Any]:
        """Conversation metrics, sentiment segments and (when scored) emotions of the utterances kept so far,
        as in ``POST /transcripts``."""
        said = list(self.said)
        emotions = summarise_emotions(said) if self.emotions and said else None
        cues = [Cue(u.speaker, u.text, u.start, u.end, i, i + 1) for i, u in enumerate(said)]
        metrics = conversation_metrics(Transcript(tuple(cues), format="live", source="live"))
        return {
            "type": "summary",
            "utterances": len(said),
            "first_index": said[0].position if said else None,
            "conversation_metrics": metrics.to_dict(),
            "segments": [asdict(segment) for segment in find_segments(said)],
            "emotions": asdict(emotions) if emotions is not None else None,
        }


@router.websocket("/live")
async def live(websocket: WebSocket) -> None:
    """Score utterances as they happen: send {speaker, text, time, end}; get sentiment, emotion, rolling state, alerts.

    A message ``{"type": "summary"}`` answers with the conversation metrics, sentiment segments and emotions
    so far. ``?emotions=false`` on the URL leaves emotions out of the session (faster); so does
    ``MOODLINE_EMOTIONS=0`` for the whole server.
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
    try:
        emotions = state.wants_emotions(_form_flag(websocket.query_params.get("emotions"), "emotions"))
    except InvalidInputError as exc:
        await websocket.close(code=1008, reason=exc.message)
        return
    conversation = LiveConversation(settings.live_window, settings.live_alert_threshold, settings.live_alert_count)
    conversation.emotions = emotions
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
                [felt] = await state.predict_emotions([text]) if emotions else [None]
            except MoodlineError as exc:  # at capacity, timed out: this message fails, the session goes on
                await websocket.send_json({"type": "error", "message": exc.message})
                continue
            [result] = scorer.from_predictions(scored.predictions)
            rolling, alert = conversation.add(speaker, result.sentiment)
            conversation.remember(speaker, text, when, ends, result.label, result.sentiment, felt)
            reply: dict[str, Any] = {
                "type": "utterance",
                "index": conversation.count - 1,
                "speaker": speaker,
                "text": text,
                "time": when,
                "label": result.label,
                "sentiment": result.sentiment,
                "rolling": rolling,
            }
            if felt is not None:
                reply.update(emotion=felt.label, emotion_score=felt.score)
            await websocket.send_json(reply)
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
