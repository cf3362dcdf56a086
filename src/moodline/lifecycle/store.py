"""The lifecycle database: prediction log, feedback, check state and the alert outbox.

SQLAlchemy Core over SQLite (the embedded default, a file under the data directory) or PostgreSQL
(``postgresql://...``, driven by psycopg 3). Every state change that several server workers could race
on (a check starting to fail, an alert being sent) is one conditional ``UPDATE`` whose row count says
who won, so two workers never raise or deliver the same alert twice.

Example::

    store = Store.open("sqlite:////tmp/moodline.db")
    store.add_feedback(text="Great!", label="POSITIVE")
    store.recent_feedback(100)
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine as SqlEngine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError, SQLAlchemyError

from moodline.core.errors import MoodlineError
from moodline.core.texts import SOURCE_MAX_CHARS

__all__ = ["FeedbackRow", "LoggedPrediction", "OutboxAlert", "Store", "StoreError", "normalise_url"]


class StoreError(MoodlineError):
    """The lifecycle database cannot be reached or refused a write."""

    status_code = 503
    error_type = "store_unavailable"


metadata = sa.MetaData()

predictions = sa.Table(
    "moodline_predictions",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(32), nullable=False, unique=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("model_name", sa.String(200), nullable=False),
    sa.Column("model_version", sa.String(64), nullable=False, index=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("label", sa.String(64), nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("scores", sa.Text, nullable=False),
    sa.Column("source", sa.String(SOURCE_MAX_CHARS), nullable=True),
    sa.Index("ix_moodline_predictions_version_source", "model_version", "source"),
)

feedback = sa.Table(
    "moodline_feedback",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("prediction_id", sa.String(32), nullable=True, index=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("label", sa.String(64), nullable=False),
)

check_state = sa.Table(
    "moodline_check_state",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("failing", sa.Boolean, nullable=False, default=False),
    sa.Column("episode", sa.Integer, nullable=False, default=0),
    sa.Column("since", sa.Float, nullable=True),
)

alerts = sa.Table(
    "moodline_alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("dedupe_key", sa.String(200), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", sa.Float, nullable=False),
    sa.Column("claimed_until", sa.Float, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("sent_at", sa.Float, nullable=True),
    sa.UniqueConstraint("dedupe_key", "channel", name="uq_moodline_alert"),
)


@dataclass(frozen=True)
class LoggedPrediction:
    id: str
    created_at: float
    model_name: str
    model_version: str
    text: str
    label: str
    score: float
    scores: dict[str, float]
    source: str | None = None  # the request's segment (tenant, feed), when the client named one
    seq: int | None = None  # position in the log, set when read back


@dataclass(frozen=True)
class FeedbackRow:
    id: int
    created_at: float
    prediction_id: str | None
    text: str
    label: str


@dataclass(frozen=True)
class OutboxAlert:
    id: int
    dedupe_key: str
    channel: str
    subject: str
    body: str
    status: str
    attempts: int
    next_attempt_at: float
    last_error: str | None
    sent_at: float | None


def normalise_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean the psycopg 3 driver; anything else is passed through."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Store:
    """Thread-safe access to the lifecycle tables (one SQLAlchemy engine, pooled connections)."""

    _opened: dict[str, Store] = {}
    _opened_lock = threading.Lock()

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.dialect = self.url.split(":", 1)[0].split("+", 1)[0]
        options: dict[str, Any] = {"pool_pre_ping": True}
        if self.dialect == "sqlite":
            database = sa.engine.make_url(self.url).database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            # Writers from several threads and worker processes: wait for the lock instead of failing.
            options["connect_args"] = {"timeout": 30, "check_same_thread": False}
        elif self.dialect == "postgresql":
            options["connect_args"] = {"connect_timeout": 5}
        try:
            self.engine: SqlEngine = sa.create_engine(self.url, **options)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise StoreError(f"cannot use the lifecycle database {self.safe_url}: {exc}") from exc
        if self.dialect == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        # Tables are created on first use, not here: a database that is down when the server starts
        # must not stop it from serving predictions.
        self._ready = False
        self._ready_lock = threading.Lock()

    @classmethod
    def open(cls, url: str) -> Store:
        """One store per URL and process, created on first use."""
        with cls._opened_lock:
            store = cls._opened.get(url)
            if store is None:
                store = cls._opened[url] = cls(url)
            return store

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden, for messages."""
        try:
            return sa.engine.make_url(self.url).render_as_string(hide_password=True)
        except Exception:  # noqa: BLE001 - a malformed URL is reported as it is, minus nothing secret
            return self.url.split("@")[-1]

    def _prepare(self) -> None:
        if self._ready:
            return
        with self._ready_lock:
            if not self._ready:
                self._create_tables()
                self._ready = True

    def _create_tables(self) -> None:
        for attempt in range(3):
            try:
                metadata.create_all(self.engine)
                self._add_missing_columns()
                return
            except (IntegrityError, ProgrammingError) as exc:
                # Two workers creating the same table at once on PostgreSQL: the loser retries and finds it.
                if attempt == 2:
                    raise StoreError(f"cannot create the lifecycle tables in {self.safe_url}: {exc}") from exc
                time.sleep(0.2)
            except (OperationalError, SQLAlchemyError) as exc:
                raise StoreError(f"cannot reach the lifecycle database {self.safe_url}: {_reason(exc)}") from exc

    def _add_missing_columns(self) -> None:
        """Columns added since a table was created (``create_all`` never alters an existing table)."""
        present = {column["name"] for column in sa.inspect(self.engine).get_columns(predictions.name)}
        if "source" in present:
            return
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    sa.text(f"ALTER TABLE {predictions.name} ADD COLUMN source VARCHAR({SOURCE_MAX_CHARS})")
                )
        except SQLAlchemyError:
            # Another worker added it a moment ago; anything else fails again just below.
            present = {column["name"] for column in sa.inspect(self.engine).get_columns(predictions.name)}
            if "source" not in present:
                raise
        with self.engine.begin() as connection:
            connection.execute(
                sa.text(
                    "CREATE INDEX IF NOT EXISTS ix_moodline_predictions_version_source "
                    f"ON {predictions.name} (model_version, source)"
                )
            )

    def dispose(self) -> None:
        self.engine.dispose()

    def _run(self, work: Any) -> Any:
        self._prepare()
        try:
            with self.engine.begin() as connection:
                return work(connection)
        except SQLAlchemyError as exc:
            raise StoreError(f"lifecycle database {self.safe_url}: {_reason(exc)}") from exc

    # Predictions and feedback

    def add_predictions(self, rows: Sequence[LoggedPrediction]) -> None:
        if not rows:
            return
        values = [
            {
                "id": r.id,
                "created_at": r.created_at,
                "model_name": r.model_name,
                "model_version": r.model_version,
                "text": r.text,
                "label": r.label,
                "score": r.score,
                "scores": json.dumps(r.scores),
                "source": r.source,
            }
            for r in rows
        ]
        self._run(lambda c: c.execute(predictions.insert(), values))

    def get_prediction(self, prediction_id: str) -> LoggedPrediction | None:
        row = self._run(lambda c: c.execute(predictions.select().where(predictions.c.id == prediction_id)).first())
        return _prediction(row) if row is not None else None

    def recent_predictions(self, model_version: str, limit: int, source: str | None = None) -> list[LoggedPrediction]:
        """The latest ``limit`` predictions of one model version (of one ``source`` if given), oldest first."""
        query = _of(model_version, source).order_by(predictions.c.seq.desc()).limit(limit)
        rows = self._run(lambda c: c.execute(query).all())
        return [_prediction(r) for r in reversed(rows)]

    def first_predictions(self, model_version: str, limit: int, source: str | None = None) -> list[LoggedPrediction]:
        """The first ``limit`` predictions a model version made (of one ``source`` if given): what it saw
        when it went live."""
        query = _of(model_version, source).order_by(predictions.c.seq).limit(limit)
        return [_prediction(r) for r in self._run(lambda c: c.execute(query).all())]

    def prediction_slice(self, model_version: str, offset: int, limit: int) -> list[LoggedPrediction]:
        """Predictions ``offset`` to ``offset + limit`` of a model version, in log order (one window)."""
        query = _of(model_version, None).order_by(predictions.c.seq).offset(offset).limit(limit)
        return [_prediction(r) for r in self._run(lambda c: c.execute(query).all())]

    def count_predictions(self, model_version: str | None = None, source: str | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(predictions)
        if model_version is not None:
            query = query.where(predictions.c.model_version == model_version)
        if source is not None:
            query = query.where(predictions.c.source == source)
        return int(self._run(lambda c: c.execute(query).scalar_one()))

    def sources(self, model_version: str, limit: int) -> list[tuple[str, int]]:
        """The named sources of a model version's predictions with their counts, most predictions first."""
        count = sa.func.count().label("n")
        query = (
            sa.select(predictions.c.source, count)
            .where(predictions.c.model_version == model_version, predictions.c.source.is_not(None))
            .group_by(predictions.c.source)
            .order_by(count.desc(), predictions.c.source)
            .limit(limit)
        )
        return [(str(r.source), int(r.n)) for r in self._run(lambda c: c.execute(query).all())]

    def feedback_labels(self, prediction_ids: Sequence[str]) -> dict[str, str]:
        """The latest feedback label of each of these logged predictions that has one."""
        found: dict[str, str] = {}
        wanted = [i for i in prediction_ids if i]
        for first in range(0, len(wanted), 500):  # bounded IN lists
            chunk = wanted[first : first + 500]
            query = (
                sa.select(feedback.c.prediction_id, feedback.c.label)
                .where(feedback.c.prediction_id.in_(chunk))
                .order_by(feedback.c.id)
            )
            for row in self._run(lambda c, q=query: c.execute(q).all()):
                found[str(row.prediction_id)] = str(row.label)
        return found

    def add_feedback(self, *, label: str, text: str, prediction_id: str | None = None) -> FeedbackRow:
        now = time.time()

        def insert(connection: sa.Connection) -> int:
            result = connection.execute(
                feedback.insert().values(created_at=now, prediction_id=prediction_id, text=text, label=label)
            )
            return _primary_key(result)

        return FeedbackRow(self._run(insert), now, prediction_id, text, label)

    def recent_feedback(self, limit: int | None = None) -> list[FeedbackRow]:
        """The latest ``limit`` feedback rows (all with ``None``), oldest first."""
        query = feedback.select().order_by(feedback.c.id.desc())
        if limit is not None:
            query = query.limit(limit)
        rows = self._run(lambda c: c.execute(query).all())
        return [FeedbackRow(r.id, r.created_at, r.prediction_id, r.text, r.label) for r in reversed(rows)]

    # Check state: one row per check, flipped with conditional updates

    def mark_failing(self, name: str) -> int | None:
        """Record that ``name`` fails; return the new episode number if it was passing before, else ``None``."""
        now = time.time()

        def flip(connection: sa.Connection) -> int | None:
            _ensure_check_row(connection, name)
            changed = connection.execute(
                check_state.update()
                .where(check_state.c.name == name, check_state.c.failing.is_(False))
                .values(failing=True, episode=check_state.c.episode + 1, since=now)
            ).rowcount
            if changed != 1:
                return None
            episode = connection.execute(
                sa.select(check_state.c.episode).where(check_state.c.name == name)
            ).scalar_one()
            return int(episode)

        result: int | None = self._run(flip)
        return result

    def mark_passing(self, name: str) -> bool:
        """Record that ``name`` passes; return whether it was failing (it recovered)."""

        def flip(connection: sa.Connection) -> bool:
            _ensure_check_row(connection, name)
            changed = connection.execute(
                check_state.update()
                .where(check_state.c.name == name, check_state.c.failing.is_(True))
                .values(failing=False, since=None)
            ).rowcount
            return bool(changed == 1)

        result: bool = self._run(flip)
        return result

    # Alert outbox

    def enqueue_alert(self, dedupe_key: str, channels: Iterable[str], subject: str, body: str) -> list[int]:
        """Add one outbox row per channel; a key already queued for a channel is skipped (never sent twice)."""
        self._prepare()
        now = time.time()
        created: list[int] = []
        for channel in channels:
            try:
                with self.engine.begin() as connection:
                    result = connection.execute(
                        alerts.insert().values(
                            created_at=now,
                            dedupe_key=dedupe_key,
                            channel=channel,
                            subject=subject,
                            body=body,
                            status="pending",
                            attempts=0,
                            next_attempt_at=now,
                        )
                    )
                    created.append(_primary_key(result))
            except IntegrityError:
                continue
            except SQLAlchemyError as exc:
                raise StoreError(f"lifecycle database {self.safe_url}: {_reason(exc)}") from exc
        return created

    def claim_due_alerts(self, now: float, lease_s: float = 120.0) -> list[OutboxAlert]:
        """Pending alerts due now, each claimed for ``lease_s`` so no other worker sends it meanwhile."""
        due_query = (
            alerts.select()
            .where(alerts.c.status == "pending", alerts.c.next_attempt_at <= now)
            .where(sa.or_(alerts.c.claimed_until.is_(None), alerts.c.claimed_until < now))
            .order_by(alerts.c.id)
        )

        def claim(connection: sa.Connection) -> list[OutboxAlert]:
            claimed = []
            for row in connection.execute(due_query).all():
                won = connection.execute(
                    alerts.update()
                    .where(alerts.c.id == row.id, alerts.c.status == "pending")
                    .where(sa.or_(alerts.c.claimed_until.is_(None), alerts.c.claimed_until < now))
                    .values(claimed_until=now + lease_s)
                ).rowcount
                if won == 1:
                    claimed.append(_alert(row))
            return claimed

        result: list[OutboxAlert] = self._run(claim)
        return result

    def alert_sent(self, alert_id: int) -> None:
        values = {"status": "sent", "sent_at": time.time(), "claimed_until": None, "last_error": None}
        self._run(
            lambda c: c.execute(
                alerts.update().where(alerts.c.id == alert_id).values(attempts=alerts.c.attempts + 1, **values)
            )
        )

    def alert_failed(self, alert_id: int, error: str, retry_at: float) -> None:
        self._run(
            lambda c: c.execute(
                alerts.update()
                .where(alerts.c.id == alert_id)
                .values(attempts=alerts.c.attempts + 1, last_error=error[:2000], next_attempt_at=retry_at)
                .values(claimed_until=None)
            )
        )

    def alerts(self, status: str | None = None) -> list[OutboxAlert]:
        query = alerts.select().order_by(alerts.c.id)
        if status is not None:
            query = query.where(alerts.c.status == status)
        return [_alert(r) for r in self._run(lambda c: c.execute(query).all())]


def _ensure_check_row(connection: sa.Connection, name: str) -> None:
    values = {"name": name, "failing": False, "episode": 0, "since": None}
    # ON CONFLICT DO NOTHING: another worker may insert the same row at the same moment.
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        connection.execute(pg_insert(check_state).values(**values).on_conflict_do_nothing())
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        connection.execute(sqlite_insert(check_state).values(**values).on_conflict_do_nothing())


def _of(model_version: str, source: str | None) -> sa.Select[Any]:
    query = predictions.select().where(predictions.c.model_version == model_version)
    return query.where(predictions.c.source == source) if source is not None else query


def _prediction(row: Any) -> LoggedPrediction:
    return LoggedPrediction(
        row.id,
        row.created_at,
        row.model_name,
        row.model_version,
        row.text,
        row.label,
        row.score,
        json.loads(row.scores),
        row.source,
        row.seq,
    )


def _alert(row: Any) -> OutboxAlert:
    return OutboxAlert(
        row.id,
        row.dedupe_key,
        row.channel,
        row.subject,
        row.body,
        row.status,
        row.attempts,
        row.next_attempt_at,
        row.last_error,
        row.sent_at,
    )


def _reason(exc: BaseException) -> str:
    # SQLAlchemy's messages carry the SQL and parameters; the driver's first line says what went wrong.
    original = getattr(exc, "orig", None)
    text = str(original if original is not None else exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers (checks) never block the prediction writer
    cursor.execute("PRAGMA synchronous=FULL")  # a committed prediction or alert survives a power cut too
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _primary_key(result: Any) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])
