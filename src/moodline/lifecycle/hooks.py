"""How a server switches the lifecycle on and off, importable without the ``lifecycle`` extra.

The server calls :func:`start_lifecycle` and :func:`stop_lifecycle` from its lifespan and
:func:`open_lifecycle` when ``POST /feedback`` or ``GET /monitor`` first needs the store. The
services themselves (:mod:`moodline.lifecycle.services`) need SQLAlchemy and Prometheus, so they are
imported only here, when wanted; a server without the extra runs as before and those two endpoints
say which extra to install.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from moodline.core.errors import MissingDependencyError
from moodline.core.settings import Settings
from moodline.inference.registry import is_registry_uri
from moodline.lifecycle.host import ModelHost

if TYPE_CHECKING:
    from moodline.lifecycle.services import LifecycleServices

__all__ = ["lifecycle_wanted", "open_lifecycle", "start_lifecycle", "stop_lifecycle"]


def lifecycle_wanted(settings: Settings) -> bool:
    """Whether these settings ask for any lifecycle job (prediction log, periodic checks, alias following)."""
    return settings.prediction_sample_rate > 0 or settings.monitor_interval_s > 0 or is_registry_uri(settings.model)


def open_lifecycle(host: ModelHost) -> LifecycleServices:
    """The lifecycle services for ``host``, not yet started; :class:`MissingDependencyError` without the extra."""
    try:
        from moodline.lifecycle.services import LifecycleServices
    except ImportError as exc:
        raise MissingDependencyError(
            f"the model lifecycle needs the lifecycle extra ({exc.name} is missing): pip install 'moodline[lifecycle]'"
        ) from exc
    return LifecycleServices(host)


async def start_lifecycle(host: ModelHost) -> LifecycleServices | None:
    """Start what the settings ask for; ``None`` when they ask for nothing."""
    if not lifecycle_wanted(host.settings):
        return None
    services = open_lifecycle(host)
    await services.start()
    return services


async def stop_lifecycle(services: LifecycleServices | None) -> None:
    if services is not None:
        await services.stop()
