from __future__ import annotations

import time
from pathlib import Path

import pytest

from moodline.inference.prediction import Prediction
from moodline.lifecycle.prediction_log import PredictionLogger
from moodline.lifecycle.store import Store, StoreError, normalise_url
from tests.servers import free_port

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "sqlite":
        return Store(f"sqlite:///{tmp_path / 'lifecycle.db'}")
    url = request.getfixturevalue("postgres_url")
    schema_free = Store(url)
    # Each test starts from empty tables on the shared cluster.
    from moodline.lifecycle.store import metadata

    metadata.drop_all(schema_free.engine)
    return Store(url)


def predictions(count: int, label: str = "POSITIVE") -> list[Prediction]:
    other = "NEGATIVE" if label == "POSITIVE" else "POSITIVE"
    return [Prediction(label, 0.9, {label: 0.9, other: 0.1}) for _ in range(count)]


def test_logged_predictions_and_feedback_round_trip(store: Store) -> None:
    logger = PredictionLogger(store, sample_rate=1.0)
    logger.start()
    ids = logger.record(["good", "bad"], predictions(2), "m", "v1")
    ids += logger.record(["fine"], predictions(1, "NEGATIVE"), "m", "v2")
    assert logger.flush(10)
    logger.close()
    assert len(set(ids)) == 3 and all(len(i) == 32 for i in ids)
    found = store.get_prediction(ids[1])
    assert found is not None and found.text == "bad" and found.scores == {"POSITIVE": 0.9, "NEGATIVE": 0.1}
    assert [p.text for p in store.first_predictions("v1", 10)] == ["good", "bad"]
    assert [p.text for p in store.recent_predictions("v1", 1)] == ["bad"]
    assert store.count_predictions("v2") == 1 and store.count_predictions() == 3
    store.add_feedback(label="NEGATIVE", text="bad", prediction_id=ids[1])
    store.add_feedback(label="POSITIVE", text="great")
    rows = store.recent_feedback()
    assert [(r.text, r.label, r.prediction_id) for r in rows] == [
        ("bad", "NEGATIVE", ids[1]),
        ("great", "POSITIVE", None),
    ]


def test_rows_of_one_gathering_are_written_in_one_transaction_and_flush_does_not_wait_for_it(tmp_path: Path) -> None:
    """A transaction per sampled request cost the serving path (see prediction_log's docstring).

    The gathering here is a minute long: ``flush`` returning True within its 10 s means it cut the
    gathering short, as a ``POST /feedback`` for a prediction still queued needs.
    """
    transactions: list[int] = []

    class CountingStore(Store):
        def add_predictions(self, rows):  # type: ignore[no-untyped-def]
            transactions.append(len(rows))
            super().add_predictions(rows)

    store = CountingStore(f"sqlite:///{tmp_path / 'lifecycle.db'}")
    logger = PredictionLogger(store, sample_rate=1.0, gather_s=60.0)
    logger.start()
    for number in range(20):
        logger.record([f"request {number}"], predictions(1), "m", "v1")
    assert logger.flush(10)
    assert transactions == [20] and store.count_predictions("v1") == 20
    logger.record(["after the flush"], predictions(1), "m", "v1")
    logger.close()  # writes what is gathered before it stops
    assert transactions == [20, 1] and store.count_predictions("v1") == 21


def test_sampling_rate_is_respected(store: Store) -> None:
    import random

    logger = PredictionLogger(store, sample_rate=0.25, rng=random.Random(3))
    logger.start()
    logged = sum(bool(logger.record(["x"], predictions(1), "m", "v")) for _ in range(400))
    logger.close()
    assert 60 < logged < 140
    assert store.count_predictions("v") == logged
    never = PredictionLogger(store, sample_rate=0.0)
    assert never.record(["x"], predictions(1), "m", "v") == []


def test_a_check_alerts_once_per_failing_episode(store: Store) -> None:
    assert store.mark_failing("accuracy") == 1
    assert store.mark_failing("accuracy") is None  # still the same problem
    assert store.mark_passing("accuracy") is True
    assert store.mark_passing("accuracy") is False
    assert store.mark_failing("accuracy") == 2  # a new failure after recovering
    assert store.enqueue_alert("check:accuracy:2", ["email", "webhook"], "s", "b") != []
    assert store.enqueue_alert("check:accuracy:2", ["email", "webhook"], "s", "b") == []  # never queued twice
    now = time.time()
    claimed = store.claim_due_alerts(now)
    assert [a.channel for a in claimed] == ["email", "webhook"]
    assert store.claim_due_alerts(now) == []  # claimed: another worker does not get them
    store.alert_failed(claimed[0].id, "down", retry_at=now + 60)
    store.alert_sent(claimed[1].id)
    assert store.claim_due_alerts(now + 1) == []
    [retry] = store.claim_due_alerts(now + 61)
    assert retry.attempts == 1 and retry.last_error == "down"
    assert [a.status for a in store.alerts()] == ["pending", "sent"]


def test_an_unreachable_database_never_fails_a_prediction() -> None:
    store = Store(f"postgresql://nobody@127.0.0.1:{free_port()}/none")
    logger = PredictionLogger(store, sample_rate=1.0, retry_delay_s=0.01)
    ids = logger.record(["a", "b"], predictions(2), "m", "v")
    # Queued, not written inline: with the writer not started yet, nothing has been tried (a clock
    # could not tell, since a refused connection fails as fast as a queue takes a row).
    assert len(ids) == 2 and (logger.stats.written, logger.stats.failed) == (0, 0)
    logger.start()
    assert logger.flush(30)
    logger.close()
    assert logger.stats.failed == 2 and logger.stats.written == 0
    with pytest.raises(StoreError, match="nobody@127.0.0.1") as caught:
        store.recent_feedback()
    assert "password" not in caught.value.message


def test_a_full_queue_drops_and_counts_instead_of_blocking(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'x.db'}")
    logger = PredictionLogger(store, sample_rate=1.0, max_queue=3)  # writer not started: the queue fills
    ids = logger.record([str(i) for i in range(5)], predictions(5), "m", "v")
    assert ids[3:] == ["", ""] and logger.stats.dropped == 2


def test_postgres_urls_use_psycopg_3() -> None:
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"
