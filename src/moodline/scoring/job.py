"""Resumable batch scoring of one file on one machine.

The job reads the input a chunk at a time (a reader thread parses ahead while the engine scores),
and commits every scored chunk as a part file in a work directory beside the output, then records
it in ``manifest.json`` (each written to a temporary file, fsynced, renamed). Killed at any moment,
SIGKILL included, the same command finds the manifest, checks it belongs to the same input and
options, and carries on after the last committed chunk. When every chunk is in, the parts are
streamed into a temporary file beside the output, which is fsynced and renamed into place, and the
work directory is removed: the output is complete or absent, never half-written.

Example::

    engine = Engine.load()
    summary = score_file(Path("reviews.csv"), Path("scored.csv"), engine, ScoreOptions(text_column="review"))
    summary.rows, summary.bad_rows
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import queue
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from moodline.core.datafiles import table_format
from moodline.core.durable import durable_path, write_atomically
from moodline.core.errors import InvalidInputError
from moodline.core.progress import progress_bar
from moodline.scoring.formats import Chunk, TableReader, assemble, estimate_rows, write_part

__all__ = ["ScoreOptions", "ScoreSummary", "output_columns", "score_file", "work_directory"]

MANIFEST_VERSION = 1
HEAD_BYTES = 1 << 20
MAX_EXAMPLES = 5


@dataclass(frozen=True)
class ScoreOptions:
    """What to read and how to write it; a resumed job must be given the same."""

    text_column: str
    id_column: str | None = None
    input_format: str | None = None
    output_format: str | None = None
    chunk_rows: int = 4096
    prefix: str = ""
    long_text: str = "truncate"
    # CSV/TSV text exactly as read; by default a cell a spreadsheet would run as a formula gets a "'" first.
    raw_csv: bool = False

    def __post_init__(self) -> None:
        if self.chunk_rows < 1:
            raise InvalidInputError(f"chunk_rows must be at least 1, got {self.chunk_rows}")


@dataclass
class ScoreSummary:
    """What a finished job did; ``bad_rows`` counts rows kept with an ``error``, by reason."""

    output: str
    rows: int
    scored: int
    bad_rows: dict[str, int]
    examples: list[str]
    resumed_rows: int
    seconds: float
    engine: str = "local"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        done = self.rows - self.resumed_rows
        return done / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rows_per_second": self.rows_per_second}


def output_columns(input_columns: list[str], labels: list[str], prefix: str) -> list[str]:
    """The input's columns, then label, score, one ``score_<LABEL>`` per label and ``error``."""
    added = [f"{prefix}label", f"{prefix}score", *(f"{prefix}score_{label}" for label in labels), f"{prefix}error"]
    clash = [name for name in added if name in input_columns]
    if clash:
        raise InvalidInputError(
            f"the input already has a column {clash[0]!r}; "
            "name the new columns apart with --prefix (e.g. --prefix pred_)"
        )
    return [*input_columns, *added]


def output_types(reader: TableReader, columns: list[str], input_count: int) -> dict[str, Any]:
    """Arrow types for Parquet output: the input's own where it has them, fixed for the added columns."""
    types: dict[str, Any] = {} if reader.schema is None else {f.name: f.type for f in reader.schema}
    try:
        import pyarrow as pa
    except ImportError:
        return types
    if reader.format in ("csv", "tsv"):
        types.update({name: pa.string() for name in columns[:input_count]})
    added = columns[input_count:]
    types[added[0]] = pa.string()
    for name in added[1:-1]:
        types[name] = pa.float64()
    types[added[-1]] = pa.string()
    return types


def scored_rows(chunk: Chunk, probabilities: np.ndarray, labels: list[str]) -> list[list[Any]]:
    """Each input row followed by label, score, per-label scores and error."""
    out = []
    empty = [None] * (len(labels) + 2)
    position = 0
    for values, error in zip(chunk.rows, chunk.errors, strict=True):
        if error is not None:
            out.append([*values, *empty, error])
            continue
        row = probabilities[position]
        position += 1
        best = int(row.argmax())
        out.append([*values, labels[best], float(row[best]), *(float(p) for p in row), None])
    return out


def score_chunk(engine: Any, chunk: Chunk, long_text: str) -> np.ndarray:
    texts = [text for text in chunk.texts if text is not None]
    probabilities, _, _ = engine.probabilities(texts, long_text=long_text)
    result: np.ndarray = probabilities
    return result


def work_directory(output: Path) -> Path:
    """Where an unfinished job keeps its parts and manifest."""
    return output.parent / f".{output.name}.moodline-parts"


def _fingerprint(path: Path) -> dict[str, Any]:
    stat = path.stat()
    with path.open("rb") as handle:
        head = hashlib.sha256(handle.read(HEAD_BYTES)).hexdigest()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "head_sha256": head}


def _write_json_durably(path: Path, data: dict[str, Any]) -> None:
    write_atomically(path, json.dumps(data, indent=1))


class _Work:
    """The work directory of one output: lock, manifest and committed parts."""

    def __init__(self, output: Path, identity: dict[str, Any], restart: bool) -> None:
        self.directory = work_directory(output)
        for trash in self.directory.parent.glob(f"{self.directory.name}.removed-*"):
            shutil.rmtree(trash, ignore_errors=True)  # left by a run killed while cleaning up
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = (self.directory / "lock").open("w")
        try:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            self._lock.close()
            raise InvalidInputError(f"another 'moodline score' is writing {output} right now") from exc
        self.path = self.directory / "manifest.json"
        self.manifest: dict[str, Any] = {
            "version": MANIFEST_VERSION,
            **identity,
            "chunks": 0,
            "rows": 0,
            "bad_rows": {},
            "examples": [],
        }
        if self.path.is_file() and not restart:
            found = json.loads(self.path.read_text(encoding="utf-8"))
            for key in ("version", *identity):
                if found.get(key) != self.manifest[key]:
                    self.close()
                    raise InvalidInputError(
                        f"{self.directory} holds an unfinished job for a different {key.replace('_', ' ')} "
                        f"than this one; run with the same input and options to resume it, or pass --restart"
                    )
            self.manifest = found
        else:
            for stale in self.directory.glob("part-*"):
                stale.unlink()
            _write_json_durably(self.path, self.manifest)

    def part(self, index: int, fmt: str) -> Path:
        return self.directory / f"part-{index:07d}.{fmt}"

    def commit(self, chunk: Chunk, bad: Counter[str], examples: list[str]) -> None:
        """Record a chunk whose part file is already durable: from now on a resume skips it."""
        manifest = self.manifest
        manifest["chunks"] = chunk.index + 1
        manifest["rows"] = chunk.start + len(chunk)
        totals = Counter(manifest["bad_rows"])
        totals.update(bad)
        manifest["bad_rows"] = dict(totals)
        manifest["examples"] = (manifest["examples"] + examples)[:MAX_EXAMPLES]
        _write_json_durably(self.path, manifest)

    def close(self) -> None:
        self._lock.close()

    def remove(self) -> None:
        """Delete the work directory; renamed away first, so a kill midway never leaves a manifest without parts."""
        trash = self.directory.with_name(f"{self.directory.name}.removed-{os.getpid()}")
        os.replace(self.directory, trash)
        self.close()
        shutil.rmtree(trash, ignore_errors=True)


def _read_ahead(chunks: Iterator[Chunk], depth: int = 2) -> Iterator[Chunk]:
    """Parse the next chunks in a thread while the caller scores the current one."""
    handoff: queue.Queue[Chunk | BaseException | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Chunk | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for chunk in chunks:
                if not put(chunk):
                    return
            put(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            put(exc)

    thread = threading.Thread(target=produce, name="moodline-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = handoff.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


def check_paths(source: Path, output: Path) -> None:
    if not source.is_file():
        raise InvalidInputError(f"{source}: no such file")
    if output.exists() and output.resolve() == source.resolve():
        raise InvalidInputError(f"{output}: the output would overwrite the input")
    if output.is_dir():
        raise InvalidInputError(f"{output} is a directory; give a file name")


def score_file(
    source: Path,
    output: Path,
    engine: Any,
    options: ScoreOptions,
    *,
    restart: bool = False,
    overwrite: bool = False,
) -> ScoreSummary:
    """Score every row of ``source`` into ``output``, resuming an interrupted run of the same job."""
    started = time.perf_counter()
    check_paths(source, output)
    reader = TableReader(source, options.input_format, options.text_column, options.id_column)
    out_format = table_format(output, options.output_format)
    labels = list(engine.labels)
    columns = output_columns(reader.columns, labels, options.prefix)
    types = output_types(reader, columns, len(reader.columns)) if out_format == "parquet" else {}
    if output.exists() and not work_directory(output).is_dir() and not overwrite:
        raise InvalidInputError(f"{output} exists; pass --overwrite to replace it")
    identity = {
        "input": _fingerprint(source),
        "options": {
            **asdict(options),
            "input_format": reader.format,
            "output_format": out_format,
        },
        "model": {"name": engine.info.name, "version": engine.info.version},
    }
    work = _Work(output, identity, restart)
    try:
        done_chunks = int(work.manifest["chunks"])
        resumed_rows = int(work.manifest["rows"])
        estimate = estimate_rows(source, reader.format)
        bar = progress_bar(
            max(estimate, resumed_rows) if estimate is not None else None,
            "scoring",
            unit="rows",
            initial=resumed_rows,
        )
        with bar:
            for chunk in _read_ahead(reader.chunks(options.chunk_rows, skip_chunks=done_chunks)):
                probabilities = score_chunk(engine, chunk, options.long_text)
                rows = scored_rows(chunk, probabilities, labels)
                write_part(
                    work.part(chunk.index, out_format), out_format, columns, rows, types, raw_csv=options.raw_csv
                )
                bad: Counter[str] = Counter(error for error in chunk.errors if error is not None)
                examples = bad_row_examples(reader, chunk, MAX_EXAMPLES - len(work.manifest["examples"]))
                work.commit(chunk, bad, examples)
                if bar.total is not None and bar.n + len(chunk) > bar.total:
                    bar.total = bar.n + len(chunk)
                bar.update(len(chunk))
            bar.total = bar.n
            bar.refresh()
        parts = [work.part(index, out_format) for index in range(int(work.manifest["chunks"]))]
        missing = [part.name for part in parts if not part.is_file()]
        if missing:
            raise InvalidInputError(
                f"{work.directory} lacks {missing[0]} that its manifest lists; run again with --restart"
            )
        _publish(parts, out_format, columns, types, output, work.directory, raw_csv=options.raw_csv)
        manifest = work.manifest
        work.remove()
    except BaseException:
        work.close()
        raise
    total = int(manifest["rows"])
    bad_rows = dict(manifest["bad_rows"])
    return ScoreSummary(
        output=str(output),
        rows=total,
        scored=total - sum(bad_rows.values()),
        bad_rows=bad_rows,
        examples=list(manifest["examples"]),
        resumed_rows=resumed_rows,
        seconds=time.perf_counter() - started,
    )


def bad_row_examples(reader: TableReader, chunk: Chunk, room: int) -> list[str]:
    if room <= 0:
        return []
    found = []
    id_index = reader.columns.index(reader.id_column) if reader.id_column else None
    for values, line, error in zip(chunk.rows, chunk.lines, chunk.errors, strict=True):
        if error is None:
            continue
        where = reader.line_label(line)
        if id_index is not None:
            where += f" ({reader.id_column} {values[id_index]!r})"
        found.append(f"{where}: {error}")
        if len(found) == room:
            break
    return found


def _publish(
    parts: list[Path],
    fmt: str,
    columns: list[str],
    types: dict[str, Any],
    output: Path,
    scratch: Path,
    *,
    raw_csv: bool,
) -> None:
    """Assemble into a temporary file in ``scratch`` (same file system as ``output``), then rename it into place."""
    with durable_path(output, scratch=scratch) as temporary:
        assemble(parts, fmt, columns, types, temporary, raw_csv=raw_csv)
