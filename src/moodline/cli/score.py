"""``moodline score``: batch scoring of CSV, TSV, JSONL and Parquet files."""

from __future__ import annotations

import json
from pathlib import Path

import click

from moodline.cli.options import (
    CONTEXT,
    engine_options,
    load_engine,
    long_text_option,
    model_help,
    raw_csv_option,
)
from moodline.core.datafiles import TABLE_FORMATS

__all__ = ["score"]


@click.command(context_settings=CONTEXT)
@click.argument("source", metavar="IN", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("output", metavar="OUT", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--text-column", required=True, help="Column holding the text to score.")
@click.option("--id-column", default=None, help="Column naming each row; checked to exist, used in the bad-row report.")
@click.option(
    "--format",
    "input_format",
    type=click.Choice(TABLE_FORMATS),
    default=None,
    help="Format of IN (default: from its extension).",
)
@click.option(
    "--output-format",
    type=click.Choice(TABLE_FORMATS),
    default=None,
    help="Format of OUT (default: from its extension).",
)
@click.option("--model", "-m", default=None, help=model_help)
@long_text_option
@click.option("--prefix", default="", help="Prefix for the added columns (e.g. pred_ when IN has a 'label' column).")
@click.option("--chunk-rows", type=click.IntRange(min=1), default=4096, show_default=True, help="Rows per chunk.")
@click.option("--restart", is_flag=True, help="Discard an unfinished job for OUT instead of resuming it.")
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
@raw_csv_option
@click.option(
    "--engine",
    "engine_name",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="local: this machine, resumable; ray: a Ray cluster (Ray Data, a pool of model actors).",
)
@click.option(
    "--address",
    default=None,
    help="With --engine ray: 'auto' (the cluster this machine belongs to), ray://HOST:10001, or HOST:6379 "
    "(default: start Ray on this machine).",
)
@click.option(
    "--actors",
    type=click.IntRange(min=1),
    default=None,
    help="With --engine ray: model actors (default: the cluster's CPUs, less one, divided by --threads).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@engine_options
def score(
    source: Path,
    output: Path,
    text_column: str,
    id_column: str | None,
    input_format: str | None,
    output_format: str | None,
    model: str | None,
    long_text: str,
    prefix: str,
    chunk_rows: int,
    restart: bool,
    overwrite: bool,
    raw_csv: bool,
    engine_name: str,
    address: str | None,
    actors: int | None,
    as_json: bool,
    backend: str,
    threads: int | None,
) -> None:
    """Score every row of a CSV, TSV, JSONL or Parquet file IN into OUT (input columns + label and scores).

    Streams in chunks with flat memory. Interrupted (even killed), the same command resumes where it
    stopped; OUT appears only once complete. Rows with an empty or unreadable text are kept, with an
    'error' column saying why.

    \b
    Example:
      moodline score reviews.csv scored.parquet --text-column review --id-column id
      moodline score big.jsonl scored.jsonl --text-column text --engine ray --address auto
    """
    from moodline.scoring import ScoreOptions, score_file, work_directory

    options = ScoreOptions(
        text_column=text_column,
        id_column=id_column,
        input_format=input_format,
        output_format=output_format,
        chunk_rows=chunk_rows,
        prefix=prefix,
        long_text=long_text,
        raw_csv=raw_csv,
    )
    if engine_name == "ray":
        from moodline.scoring.ray_runner import score_file_ray

        if restart:
            raise click.UsageError("--restart applies to --engine local; a Ray job always starts from the beginning")
        summary = score_file_ray(
            source,
            output,
            options,
            model=model,
            backend=backend,
            threads=threads,
            address=address,
            actors=actors,
            overwrite=overwrite,
        )
    else:
        if address is not None or actors is not None:
            raise click.UsageError("--address and --actors need --engine ray")
        engine = load_engine(model, backend, threads, long_text=long_text)
        try:
            summary = score_file(source, output, engine, options, restart=restart, overwrite=overwrite)
        except KeyboardInterrupt:
            if work_directory(output).is_dir():
                click.echo("Interrupted; run the same command again to resume.", err=True)
            raise
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2))
        return
    resumed = f" (resumed after {summary.resumed_rows:,})" if summary.resumed_rows else ""
    click.echo(
        f"scored {summary.rows:,} rows{resumed} in {summary.seconds:.1f}s "
        f"({summary.rows_per_second:,.0f} rows/s, {summary.engine}); wrote {summary.output}"
    )
    bad = sum(summary.bad_rows.values())
    if bad:
        reasons = ", ".join(f"{count:,} {reason}" for reason, count in sorted(summary.bad_rows.items()))
        click.echo(f"{bad:,} rows kept unscored, marked in the error column: {reasons}")
        for example in summary.examples:
            click.echo(f"  {example}")
