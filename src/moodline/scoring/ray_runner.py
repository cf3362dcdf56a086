"""The same scoring job on a Ray cluster, with Ray Data and a pool of model actors.

One read task parses the input with moodline's own readers (so bad rows, column checks and error
messages are the same as on one machine) and emits one block per chunk; ``map_batches`` sends each
block to a pool of actors that each hold one loaded model; the driver receives the scored blocks in
input order and writes them with the same writers, into a scratch directory beside the output, then
assembles and renames. Ray retries failed tasks and restarts dead actors; a killed driver starts over.

Ray is imported only here, so moodline works without it.

Example::

    summary = score_file_ray(Path("reviews.csv"), Path("scored.csv"), ScoreOptions(text_column="review"),
                             model=None, address="auto", actors=4)
"""

from __future__ import annotations

import functools
import logging
import pickle
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from moodline.core.datafiles import table_format
from moodline.core.durable import durable_path
from moodline.core.errors import InvalidInputError, MissingDependencyError, MoodlineError
from moodline.core.progress import progress_bar
from moodline.core.settings import get_settings
from moodline.scoring.formats import Chunk, TableReader, assemble, estimate_rows, write_part
from moodline.scoring.job import (
    MAX_EXAMPLES,
    ScoreOptions,
    ScoreSummary,
    bad_row_examples,
    check_paths,
    output_columns,
    output_types,
    scored_rows,
)

__all__ = ["score_file_ray"]

_ROW, _LINE, _TEXT, _ERROR, _PROBS = "__row", "__line", "__text", "__error", "__probabilities"


def _import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401 - the data extra must be there too
    except ImportError as exc:
        raise MissingDependencyError(
            "--engine ray needs Ray Data: pip install 'moodline[batch]' (or 'ray[data]')"
        ) from exc
    return ray


def _chunk_blocks(path: str, fmt: str, text_column: str, id_column: str | None, chunk_rows: int) -> Iterator[Any]:
    """Runs inside the read task: one Arrow block per chunk, rows pickled so any value type survives."""
    import pyarrow as pa

    reader = TableReader(Path(path), fmt, text_column, id_column)
    for chunk in reader.chunks(chunk_rows):
        yield pa.table(
            {
                _ROW: pa.array([pickle.dumps(values, protocol=5) for values in chunk.rows], type=pa.binary()),
                _LINE: pa.array(chunk.lines, type=pa.int64()),
                _TEXT: pa.array(chunk.texts, type=pa.string()),
                _ERROR: pa.array(chunk.errors, type=pa.string()),
            }
        )


def _datasource(ray: Any, reader: TableReader, chunk_rows: int, rows: int | None) -> Any:
    from ray.data.block import BlockMetadata
    from ray.data.datasource import Datasource, ReadTask

    read = functools.partial(
        _chunk_blocks, str(reader.path.resolve()), reader.format, reader.text_column, reader.id_column, chunk_rows
    )
    size = reader.path.stat().st_size

    class ChunkedFile(Datasource):
        """The whole file in one read task: rows stay in order, and CSV quoting never splits a record."""

        def estimate_inmemory_data_size(self) -> int:
            return size * 2

        def get_read_tasks(
            self, parallelism: int, per_task_row_limit: int | None = None, data_context: Any = None
        ) -> list[ReadTask]:
            metadata = BlockMetadata(
                num_rows=rows, size_bytes=size * 2, input_files=(str(reader.path),), exec_stats=None
            )
            return [ReadTask(read, metadata)]

    return ray.data.read_datasource(ChunkedFile(), override_num_blocks=1)  # type: ignore[no-untyped-call]


class ModelActor:
    """One loaded model per actor; scores a chunk's texts and adds their probabilities."""

    def __init__(self, model: str | None, backend: str, threads: int | None, long_text: str) -> None:
        from moodline.inference.engine import Engine

        self.engine = Engine.load(model, backend=backend, threads=threads)  # type: ignore[arg-type]
        self.long_text: Any = long_text

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        texts = batch.column(_TEXT).to_pylist()
        valid = [text for text in texts if text is not None]
        probabilities, _, _ = self.engine.probabilities(valid, long_text=self.long_text)
        rows: list[list[float] | None] = []
        position = 0
        for text in texts:
            if text is None:
                rows.append(None)
            else:
                rows.append(probabilities[position].tolist())
                position += 1
        return batch.append_column(_PROBS, pa.array(rows, type=pa.list_(pa.float32())))


def _model_identity(model: str | None, backend: str) -> dict[str, Any]:
    from moodline.inference.engine import Engine

    engine = Engine.load(model, backend=backend, threads=1)  # type: ignore[arg-type]
    return {"labels": list(engine.labels), "name": engine.info.name, "version": engine.info.version}


def _loopback_node(address: str | None) -> dict[str, str]:
    """Keep a local Ray, or a driver joining a cluster on loopback, on 127.0.0.1.

    Ray otherwise swaps a loopback address for the machine's network address, and a Ray started here
    for one job has no business listening on the network.
    """
    if address is not None and (address == "auto" or address.startswith("ray://")):
        return {}
    host = "127.0.0.1" if address is None else address.rsplit(":", 1)[0].strip("[]")
    return {"_node_ip_address": "127.0.0.1"} if host in ("localhost", "::1") or host.startswith("127.") else {}


def _moodline_cause(exc: BaseException) -> MoodlineError | None:
    """The moodline error a Ray exception wraps, if any (tasks re-raise remote errors wrapped)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, MoodlineError) and type(current).__module__.startswith("moodline"):
            return current
        cause = getattr(current, "cause", None)
        current = cause if isinstance(cause, BaseException) else (current.__cause__ or current.__context__)
    return None


def score_file_ray(
    source: Path,
    output: Path,
    options: ScoreOptions,
    *,
    model: str | None,
    backend: str = "auto",
    threads: int | None = None,
    address: str | None = None,
    actors: int | None = None,
    overwrite: bool = False,
) -> ScoreSummary:
    """Score ``source`` into ``output`` on Ray (``address``: ``auto``, ``ray://HOST:PORT`` or none for a local Ray)."""
    started = time.perf_counter()
    ray = _import_ray()
    check_paths(source, output)
    if output.exists() and not overwrite:
        raise InvalidInputError(f"{output} exists; pass --overwrite to replace it")
    reader = TableReader(source, options.input_format, options.text_column, options.id_column)
    out_format = table_format(output, options.output_format)
    threads = threads or 1
    model = str(Path(model).resolve()) if model is not None and Path(model).exists() else model
    try:
        ray.init(
            address=address,
            ignore_reinit_error=True,
            logging_level="WARNING",
            log_to_driver=False,
            **_loopback_node(address),
        )
        logging.getLogger("ray").setLevel(logging.WARNING)  # Ray Data logs every execution at INFO
    except Exception as exc:  # noqa: BLE001 - connection errors come in several types
        raise InvalidInputError(f"cannot connect to the Ray cluster at {address}: {exc}") from exc
    try:
        return _run(ray, reader, output, out_format, options, model, backend, threads, actors, started)
    except MoodlineError:
        raise
    except Exception as exc:
        cause = _moodline_cause(exc)
        if cause is not None:
            raise type(cause)(cause.message) from None
        raise
    finally:
        ray.shutdown()


def _run(
    ray: Any,
    reader: TableReader,
    output: Path,
    out_format: str,
    options: ScoreOptions,
    model: str | None,
    backend: str,
    threads: int,
    actors: int | None,
    started: float,
) -> ScoreSummary:
    from ray.data import ActorPoolStrategy, DataContext

    identity = ray.get(ray.remote(num_cpus=0)(_model_identity).remote(model, backend))
    labels: list[str] = identity["labels"]
    columns = output_columns(reader.columns, labels, options.prefix)
    types = output_types(reader, columns, len(reader.columns)) if out_format == "parquet" else {}
    if actors is None:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        actors = max(1, (cpus - 1) // threads)  # one CPU stays free for the read task
    context = DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    # Ray Data logs a failed task with its traceback before raising it here, where it becomes one clean line
    logging.getLogger("ray.data").setLevel(logging.DEBUG if get_settings().debug else logging.CRITICAL)
    estimate = estimate_rows(reader.path, reader.format)
    dataset = _datasource(ray, reader, options.chunk_rows, None).map_batches(
        ModelActor,
        fn_constructor_kwargs={"model": model, "backend": backend, "threads": threads, "long_text": options.long_text},
        # Blocks hold whole chunks (merged, never split: one read block), so batches of chunk_rows are the
        # chunks themselves: the same engine calls, and the same int8 results, as on one machine.
        batch_size=options.chunk_rows,
        batch_format="pyarrow",
        compute=ActorPoolStrategy(size=actors),
        num_cpus=threads,
    )
    scratch = Path(tempfile.mkdtemp(prefix=f".{output.name}.ray-", dir=output.parent.resolve()))
    bad: Counter[str] = Counter()
    examples: list[str] = []
    parts: list[Path] = []
    try:
        with progress_bar(estimate, "scoring on ray", unit="rows") as bar:
            start = 0
            for batch in dataset.iter_batches(batch_size=None, batch_format="pyarrow"):
                if batch.num_rows == 0:
                    continue
                chunk, probabilities = _unpack(batch, len(parts), start, len(labels))
                start += len(chunk)
                part = scratch / f"part-{len(parts):07d}.{out_format}"
                rows = scored_rows(chunk, probabilities, labels)
                write_part(part, out_format, columns, rows, types, raw_csv=options.raw_csv)
                parts.append(part)
                bad.update(error for error in chunk.errors if error is not None)
                examples += bad_row_examples(reader, chunk, MAX_EXAMPLES - len(examples))
                if bar.total is not None and bar.n + len(chunk) > bar.total:
                    bar.total = bar.n + len(chunk)
                bar.update(len(chunk))
            bar.total = bar.n
            bar.refresh()
        with durable_path(output, scratch=scratch) as assembled:
            assemble(parts, out_format, columns, types, assembled, raw_csv=options.raw_csv)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return ScoreSummary(
        output=str(output),
        rows=start,
        scored=start - sum(bad.values()),
        bad_rows=dict(bad),
        examples=examples,
        resumed_rows=0,
        seconds=time.perf_counter() - started,
        engine="ray",
        extra={"actors": actors, "model": identity["name"]},
    )


def _unpack(batch: Any, index: int, start: int, width: int) -> tuple[Chunk, np.ndarray]:
    rows = [pickle.loads(raw) for raw in batch.column(_ROW).to_pylist()]
    texts = batch.column(_TEXT).to_pylist()
    errors = batch.column(_ERROR).to_pylist()
    scored = [row for row in batch.column(_PROBS).to_pylist() if row is not None]
    probabilities = np.asarray(scored, dtype=np.float32).reshape(len(scored), width)
    chunk = Chunk(index, start, rows, batch.column(_LINE).to_pylist(), texts, errors)
    return chunk, probabilities
