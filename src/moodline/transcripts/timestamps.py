"""Reading and writing the clock times transcripts carry (``01:02:03.450``, ``0:0:0.210``, ``2:05``)."""

from __future__ import annotations

import math
import re

__all__ = ["format_timestamp", "parse_seconds", "parse_timestamp"]

# Hours are optional (WebVTT allows ``MM:SS.mmm``; Otter writes ``M:SS``) and fields may have one digit
# (Teams writes ``0:0:0.210``). Bounded repeats keep int() away from absurdly long digit runs.
_CLOCK = re.compile(r"(?:(\d{1,6}):)?(\d{1,6}):(\d{1,2})(?:[.,](\d{1,9}))?")
_NUMBER = re.compile(r"[+]?(?:\d{1,15}(?:\.\d{0,9})?|\.\d{1,9})")


def parse_timestamp(value: str) -> float:
    """Return the seconds in a clock time such as ``01:02:03.450``, ``00:01,500`` or ``1:05``.

    Raises ValueError for anything else, including seconds of 60 or more (and minutes of 60 or more
    after an hours field; without one, ``75:30`` is 75 minutes).

    Example::

        parse_timestamp("0:0:1.210")   # 1.21
    """
    match = _CLOCK.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"not a timestamp: {value!r}")
    hours, minutes, seconds, fraction = match.groups()
    if int(seconds) >= 60 or (hours is not None and int(minutes) >= 60):
        raise ValueError(f"minutes and seconds must be below 60: {value!r}")
    whole = int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds)
    # Parsing the decimal string gives the float closest to what was written (1.21, not 1.2100000000000002).
    return float(f"{whole}.{fraction or 0}")


def parse_seconds(value: str) -> float:
    """Return the seconds in a clock time or a plain number of seconds (``"12.5"``); ValueError otherwise."""
    text = value.strip()
    if _NUMBER.fullmatch(text):
        return float(text)
    return parse_timestamp(text)


def format_timestamp(seconds: float, decimal_mark: str = ".") -> str:
    """Write ``seconds`` as ``HH:MM:SS.mmm`` (WebVTT) or, with ``decimal_mark=","``, as SRT wants it.

    Example::

        format_timestamp(3723.45, ",")   # '01:02:03,450'
    """
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"cannot write {seconds!r} as a timestamp")
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    whole, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{whole:02d}{decimal_mark}{millis:03d}"
