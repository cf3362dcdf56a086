"""The ``moodline`` command line.

Every command takes ``-h/--help``. Errors a user can cause (bad text, missing file, wrong column,
unknown model) print one ``Error: ...`` line on stderr and exit 1; usage mistakes exit 2 (click's
convention). Set ``MOODLINE_DEBUG=1`` to see tracebacks of unexpected failures.
"""

from __future__ import annotations

from typing import Any

import click

from moodline import __version__
from moodline.cli.evaluate import calibrate, evaluate
from moodline.cli.lifecycle import monitor, registry, retrain
from moodline.cli.options import CONTEXT
from moodline.cli.predict import demo, info, list_models, predict
from moodline.cli.score import score
from moodline.cli.serve import serve
from moodline.cli.train import average, export, train
from moodline.cli.transcript import transcript
from moodline.core.errors import MoodlineError
from moodline.core.settings import get_settings

__all__ = ["main"]


def debugging() -> bool:
    """``MOODLINE_DEBUG``, read through the settings; unreadable settings (the failure itself, maybe) mean no."""
    try:
        return get_settings().debug
    except Exception:  # noqa: BLE001 - the handler of last resort must not fail itself
        return False


class MoodlineGroup(click.Group):
    """Turns moodline's own errors into one clean line and a non-zero exit."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MoodlineError as exc:
            click.echo(f"Error: {exc.message}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
            if debugging():
                raise
            click.echo(f"Error: unexpected {type(exc).__name__}: {exc} (set MOODLINE_DEBUG=1 for details)", err=True)
            ctx.exit(1)


@click.group(cls=MoodlineGroup, context_settings=CONTEXT)
@click.version_option(__version__, "-V", "--version", prog_name="moodline")
def main() -> None:
    """moodline: fast, offline-capable sentiment analysis."""


for command in (
    predict,
    transcript,
    evaluate,
    train,
    calibrate,
    list_models,
    export,
    average,
    score,
    info,
    serve,
    demo,
):
    main.add_command(command)
for command in (registry, monitor, retrain):
    main.add_command(command)
