"""Request and response bodies of the HTTP API (they become the OpenAPI schema at ``/docs``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from moodline.core.texts import SOURCE_MAX_CHARS, SOURCE_PATTERN

__all__ = ["ErrorBody", "KServeRequest", "KServeResponse", "PredictRequest", "PredictResponse", "PredictionOut"]

TextOrTexts = str | list[str]


class PredictRequest(BaseModel):
    """One text or a list, in any of the shapes existing sentiment clients send.

    Exactly one of ``text``, ``texts``, ``review`` or ``inputs`` (the Hugging Face TEI shape) must be given.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"text": "It is worth it"}, {"texts": ["Great!", "Awful."]}]},
    )

    text: TextOrTexts | None = None
    texts: list[str] | None = None
    review: str | None = None
    inputs: TextOrTexts | None = None
    long_text: Literal["truncate", "chunk"] | None = Field(
        None, description="Texts longer than the model maximum: keep the start, or score every window."
    )
    three_way: bool = Field(
        False,
        description="Answer negative / neutral / positive (a neutral band for binary models) with a signed sentiment.",
    )
    two_way: bool = Field(
        False,
        description="Answer NEGATIVE or POSITIVE only: a three-label model's two probabilities renormalised.",
    )
    source: str | None = Field(
        None,
        min_length=1,
        max_length=SOURCE_MAX_CHARS,
        pattern=SOURCE_PATTERN,
        description="Who or what sent the texts (a tenant, a feed): kept in the prediction log so the monitor "
        "checks each source on its own. Letters, digits, '.', '_' and '-', at most 40.",
        examples=["acme"],
    )

    @model_validator(mode="after")
    def _one_shape(self) -> PredictRequest:
        if self.three_way and self.two_way:
            raise ValueError("three_way and two_way ask for different answers; give one of them")
        given = [name for name in ("text", "texts", "review", "inputs") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of 'text', 'texts', 'review' or 'inputs'"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self

    def text_list(self) -> tuple[list[str], bool]:
        """The texts, and whether the request was for a single text."""
        value = (
            self.text
            if self.text is not None
            else self.texts
            if self.texts is not None
            else (self.review if self.review is not None else self.inputs)
        )
        if isinstance(value, str):
            return [value], True
        return list(value or []), False


class PredictionOut(BaseModel):
    label: str = Field(description="The most probable label.")
    score: float = Field(description="Its probability.")
    scores: dict[str, float] = Field(description="Every label's probability.")
    truncated: bool = Field(description="The text exceeded the model maximum and only its start was read.")
    chunks: int = Field(1, description="Windows scored (more than 1 with long_text='chunk').")
    sentiment: float | None = Field(
        None, description="With three_way: P(positive) - P(negative), in [-1, 1]; score is then |sentiment|."
    )


class ModelRef(BaseModel):
    name: str
    version: str


class PredictResponse(BaseModel):
    """``predictions`` in request order; for a single-text request ``label`` and ``score`` repeat the first."""

    predictions: list[PredictionOut]
    model: ModelRef
    label: str | None = None
    score: float | None = None


class BatchPredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    texts: list[str]
    long_text: Literal["truncate", "chunk"] | None = None
    source: str | None = Field(None, min_length=1, max_length=SOURCE_MAX_CHARS, pattern=SOURCE_PATTERN)


class KServeRequest(BaseModel):
    instances: list[str | dict[str, str]] = Field(description="Texts, or objects with a 'text' field.")

    def text_list(self) -> list[str]:
        texts = []
        for index, instance in enumerate(self.instances):
            if isinstance(instance, dict):
                if "text" not in instance:
                    raise ValueError(f"instance {index} has no 'text' field")
                texts.append(instance["text"])
            else:
                texts.append(instance)
        return texts


class KServeResponse(BaseModel):
    predictions: list[PredictionOut]


class ErrorDetail(BaseModel):
    loc: list[str | int] | None = None
    message: str


class ErrorContent(BaseModel):
    type: str = Field(description="Stable machine-readable error kind, e.g. 'invalid_input', 'overloaded'.")
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)


class ErrorBody(BaseModel):
    """The body of every 4xx and 5xx response."""

    error: ErrorContent
