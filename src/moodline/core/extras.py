"""Optional dependencies: which extra brings them, and one message when one is missing.

``pip install moodline`` is the Analyzer, the CLI's scoring commands and the client. Serving,
charts, training, Parquet/Ray batch scoring and the model lifecycle each come with an extra;
a command that needs a missing one fails with :class:`MissingDependencyError` naming it.
"""

from __future__ import annotations

import importlib.util

from moodline.core.errors import MissingDependencyError

__all__ = ["require_extra"]


def require_extra(extra: str, *modules: str, purpose: str, note: str = "") -> None:
    """Raise :class:`MissingDependencyError` unless every one of ``modules`` can be imported.

    Example::

        require_extra("serve", "fastapi", "gunicorn", purpose="moodline serve")
        # MissingDependencyError: moodline serve needs the serve extra (fastapi is missing):
        #     pip install 'moodline[serve]'
    """
    for module in modules:
        if importlib.util.find_spec(module) is None:
            raise MissingDependencyError(
                f"{purpose} needs the {extra} extra ({module} is missing): pip install 'moodline[{extra}]'{note}"
            )
