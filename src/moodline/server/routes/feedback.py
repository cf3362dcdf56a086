"""Lifecycle endpoints: ``POST /feedback`` (the true label of a prediction), ``GET /monitor`` (checks now)
and ``GET /monitor/report`` (the same as a readable HTML page, with the alert history).

Both need the lifecycle store; without the ``lifecycle`` extra they answer with the extra to install.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field, model_validator

from moodline.core.errors import InvalidInputError
from moodline.core.texts import check_text
from moodline.server.dependencies import ERROR_RESPONSES, StateDep, require_api_key
from moodline.server.errors import ApiError
from moodline.server.service import ServerState

if TYPE_CHECKING:
    from moodline.lifecycle.store import Store

__all__ = ["router"]

log = logging.getLogger("moodline.server")

router = APIRouter(dependencies=[Depends(require_api_key)], responses=ERROR_RESPONSES)


class FeedbackRequest(BaseModel):
    """The true label of one prediction (by the id from ``X-Prediction-Id``) or of a text."""

    label: str = Field(description="The correct label, one of the model's labels (case-insensitive).")
    prediction_id: str | None = Field(None, description="An id from the X-Prediction-Id response header.")
    text: str | None = Field(None, description="The text, when the prediction was not logged.")

    @model_validator(mode="after")
    def _one_target(self) -> FeedbackRequest:
        if (self.prediction_id is None) == (self.text is None):
            raise ValueError("give exactly one of prediction_id or text")
        return self


class FeedbackResponse(BaseModel):
    id: int
    prediction_id: str | None
    label: str


async def _store(state: ServerState) -> Store:
    from moodline.lifecycle.store import StoreError

    try:
        return await state.lifecycle_services().store()
    except StoreError as exc:
        log.error("feedback store: %s", exc.message)
        raise ApiError(503, "the feedback store is unavailable; try again later", "store_unavailable") from exc


@router.post("/feedback", status_code=201, response_model=FeedbackResponse)
async def feedback(body: FeedbackRequest, state: StateDep) -> FeedbackResponse:
    """Record the true label of a logged prediction (``prediction_id``) or of a text."""
    from moodline.lifecycle.store import StoreError

    assert state.engine is not None
    labels = {label.lower(): label for label in state.engine.labels}
    label = labels.get(body.label.strip().lower())
    if label is None:
        raise InvalidInputError(f"label {body.label!r} is not one of the model's labels {state.engine.labels}")
    store = await _store(state)
    text = body.text
    try:
        if body.prediction_id is not None:
            found = await asyncio.to_thread(store.get_prediction, body.prediction_id)
            logger = state.prediction_log
            if found is None and logger is not None:  # it may still be queued for writing, here or in
                await asyncio.to_thread(logger.flush, 2.0)  # another worker, which writes within its gather time
                found = await asyncio.to_thread(store.get_prediction, body.prediction_id)
                if found is None:
                    await asyncio.sleep(2 * logger.gather_s)
                    found = await asyncio.to_thread(store.get_prediction, body.prediction_id)
            if found is None:
                raise ApiError(404, f"no logged prediction has the id {body.prediction_id!r}", "prediction_not_found")
            text = found.text
        text = check_text(text, max_chars=state.settings.max_text_chars)
        row = await asyncio.to_thread(store.add_feedback, label=label, text=text, prediction_id=body.prediction_id)
    except StoreError as exc:
        log.error("feedback store: %s", exc.message)
        raise ApiError(503, "the feedback store is unavailable; try again later", "store_unavailable") from exc
    return FeedbackResponse(id=row.id, prediction_id=row.prediction_id, label=row.label)


@router.get("/monitor")
async def monitor(state: StateDep) -> dict[str, Any]:
    """Run the lifecycle checks now on the stored predictions and feedback; their results as JSON."""
    from moodline.lifecycle.store import StoreError

    await _store(state)
    try:
        report = await state.lifecycle_services().run_checks()
    except StoreError as exc:
        log.error("monitor: %s", exc.message)
        raise ApiError(503, "the prediction store is unavailable; try again later", "store_unavailable") from exc
    return report.to_dict()


@router.get("/monitor/report", response_class=HTMLResponse)
async def monitor_report(state: StateDep) -> HTMLResponse:
    """The checks run now, as the HTML monitor report (estimate over time, drift explained, alert history)."""
    from moodline.lifecycle.monitor_report import render_monitor_html
    from moodline.lifecycle.store import StoreError

    store = await _store(state)
    try:
        report = await state.lifecycle_services().run_checks()
        alerts = await asyncio.to_thread(store.alerts)
    except StoreError as exc:
        log.error("monitor report: %s", exc.message)
        raise ApiError(503, "the prediction store is unavailable; try again later", "store_unavailable") from exc
    return HTMLResponse(render_monitor_html(report, alerts))
