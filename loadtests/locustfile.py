"""Load test of a moodline server: mostly repeated texts (the cache's case), some unique ones.

    locust --config loadtests/locust.conf --host http://127.0.0.1:8000 \
        --html test-artifacts/load.html --csv test-artifacts/load

Users (10 by default, ramping up 2 per second) send single-text predictions, 70 % drawn from a small
pool of recurring texts and 20 % unique (SST-2 dev sentences when the file is there, generated ones
otherwise), plus 10 % batches of 8 mixed texts. At the end the run fails (exit code 1) when the
99th-percentile latency or the error rate is over its threshold, or when nothing was sent.
"""

from __future__ import annotations

import csv
import itertools
import logging
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from locust import FastHttpUser, between, events, task

log = logging.getLogger("moodline.loadtest")

DEFAULT_SST2_DEV = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "sst2" / "dev.tsv"

# Texts that recur in real traffic (canned replies, common short reviews): after the first request
# each one should be answered from the cache.
REPEATED = [
    "It is worth it.",
    "It is a waste of time and money.",
    "Great service, thank you!",
    "The delivery was late again.",
    "I love this product.",
    "Terrible experience, never again.",
    "Thanks for the quick reply.",
    "The app keeps crashing when I open it.",
    "Works as advertised.",
    "Not bad, but not great either.",
    "Absolutely fantastic support team.",
    "My order arrived damaged.",
    "Five stars, would recommend.",
    "The refund took three weeks.",
    "Easy to set up and use.",
    "The screen is too dim outdoors.",
    "Best purchase I made this year.",
    "Customer service hung up on me.",
    "Fast shipping and good packaging.",
    "It stopped working after a week.",
]

SUBJECTS = ["The movie", "The support call", "This update", "The new release", "Our meeting", "The hotel stay"]
VERDICTS = ["was wonderful", "was a disappointment", "felt too long", "exceeded expectations", "was just fine"]


@events.init_command_line_parser.add_listener
def add_arguments(parser: Any) -> None:
    group = parser.add_argument_group("moodline thresholds and data")
    group.add_argument(
        "--max-p99-ms",
        type=float,
        default=500.0,
        env_var="MOODLINE_LOADTEST_MAX_P99_MS",
        help="Fail the run when the 99th-percentile response time is above this (ms).",
    )
    group.add_argument(
        "--max-error-rate",
        type=float,
        default=0.01,
        env_var="MOODLINE_LOADTEST_MAX_ERROR_RATE",
        help="Fail the run when more than this share of requests failed.",
    )
    group.add_argument(
        "--sst2-dev",
        default=str(DEFAULT_SST2_DEV),
        env_var="MOODLINE_LOADTEST_SST2_DEV",
        help="SST-2 dev.tsv for the unique texts (generated texts when the file is absent).",
    )


def sst2_sentences(path: Path) -> list[str]:
    # SST-2 is tab-separated without quoting: csv's quote handling would merge lines.
    with path.open(encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [row["sentence"].strip() for row in rows if row.get("sentence", "").strip()]


def unique_texts(sentences: list[str]) -> Iterator[str]:
    """Every text once: the SST-2 sentences, then numbered variants, so no text repeats in a run."""
    if sentences:
        yield from sentences
    for n in itertools.count(1):
        if sentences:
            yield f"{sentences[n % len(sentences)]} ({n})"
        else:
            yield f"{SUBJECTS[n % len(SUBJECTS)]} number {n} {VERDICTS[n % len(VERDICTS)]}."


class Source:
    """Texts for the users of this process (gevent: one thread, no locking needed)."""

    unique: Iterator[str] = unique_texts([])
    texts_sent = 0
    cache_hits = 0


@events.test_start.add_listener
def load_texts(environment: Any, **_kwargs: Any) -> None:
    options = environment.parsed_options
    path = Path(options.sst2_dev) if options is not None else DEFAULT_SST2_DEV
    sentences = sst2_sentences(path) if path.is_file() else []
    random.Random(0).shuffle(sentences)
    Source.unique = unique_texts(sentences)
    origin = f"{len(sentences)} SST-2 dev sentences from {path}" if sentences else "generated sentences"
    log.info("unique texts: %s", origin)


@events.quitting.add_listener
def check_thresholds(environment: Any, **_kwargs: Any) -> None:
    """Turn the run into a pass or a fail for CI: non-zero exit code on a missed threshold."""
    options = environment.parsed_options
    total = environment.stats.total
    p99 = total.get_response_time_percentile(0.99) if total.num_requests else 0.0
    failures = []
    if total.num_requests == 0:
        failures.append("no requests were made")
    if options is not None and total.fail_ratio > options.max_error_rate:
        failures.append(f"error rate {total.fail_ratio:.2%} > {options.max_error_rate:.2%}")
    if options is not None and p99 > options.max_p99_ms:
        failures.append(f"p99 {p99:.0f} ms > {options.max_p99_ms:g} ms")
    if Source.texts_sent:
        log.info("cache: %d of %d texts answered from the cache", Source.cache_hits, Source.texts_sent)
    if failures:
        log.error("load test failed: %s", "; ".join(failures))
        environment.process_exit_code = 1
    else:
        log.info(
            "load test passed: %d requests, p99 %.0f ms, %.2f%% errors", total.num_requests, p99, 100 * total.fail_ratio
        )


class MoodlineUser(FastHttpUser):
    """A client of the prediction API, pausing 0.1-0.5 s between requests."""

    wait_time = between(0.1, 0.5)
    api_key = os.environ.get("MOODLINE_API_KEY")

    def post(self, path: str, texts: list[str], name: str) -> None:
        body = {"text": texts[0]} if path == "/predict" else {"texts": texts}
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        with self.client.post(path, json=body, headers=headers, name=name, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}: {(response.text or '')[:200]}")
                return
            try:
                predictions = response.json()["predictions"]
            except (ValueError, KeyError, TypeError):
                response.failure("the body has no predictions")
                return
            if len(predictions) != len(texts) or not all("label" in p for p in predictions):
                response.failure(f"{len(predictions)} predictions for {len(texts)} texts")
                return
            Source.texts_sent += len(texts)
            Source.cache_hits += int(response.headers.get("X-Moodline-Cache-Hits") or 0)

    @task(7)
    def predict_repeated(self) -> None:
        self.post("/predict", [random.choice(REPEATED)], name="/predict (repeated)")

    @task(2)
    def predict_unique(self) -> None:
        self.post("/predict", [next(Source.unique)], name="/predict (unique)")

    @task(1)
    def batch_predict(self) -> None:
        texts = [*random.sample(REPEATED, 6), next(Source.unique), next(Source.unique)]
        self.post("/batch_predict", texts, name="/batch_predict (8 texts)")
