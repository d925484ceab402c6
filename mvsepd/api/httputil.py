"""Small, pure readers of HTTP header values (no I/O, no MVSEP knowledge)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

_CONTENT_RANGE = re.compile(r"bytes (\d{1,18})-(\d{1,18})/(\d{1,18})")


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Return the value of header ``name`` (case-insensitive), or None when absent."""
    wanted = name.lower()
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == wanted and isinstance(value, str):
            return value
    return None


def parse_http_date(value: str) -> float | None:
    """Return the POSIX time of an HTTP-date, or None if it cannot be read."""
    try:
        moment = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:
        return None
    try:
        return moment.timestamp()
    except (OverflowError, OSError, ValueError):
        return None


def parse_retry_after(value: str | None, now: float | None) -> float | None:
    """Return the seconds a ``Retry-After`` value asks for, or None if absent or unreadable.

    Delta-seconds are taken as they are; an HTTP-date is measured from ``now`` (POSIX time),
    and needs ``now``. Dates in the past give 0.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        if len(text) > 9:
            return None
        return float(int(text))
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if math.isfinite(seconds):
        return max(0.0, seconds) if seconds < 1e9 else None
    if now is None:
        return None
    moment = parse_http_date(text)
    if moment is None:
        return None
    return max(0.0, moment - now)


def parse_content_length(value: str | None) -> int | None:
    """Return a ``Content-Length`` as an int, or None if absent or not a plain number."""
    if value is None:
        return None
    text = value.strip()
    if not text or not text.isascii() or not text.isdigit() or len(text) > 18:
        return None
    return int(text)


@dataclass(frozen=True)
class ContentRange:
    """A complete ``Content-Range: bytes first-last/total`` value."""

    first: int
    last: int
    total: int


def parse_content_range(value: str | None) -> ContentRange | None:
    """Return the parsed ``Content-Range``, or None unless it is exactly ``bytes a-b/total``.

    ``*`` totals, unsatisfied-range forms and ranges that end before they start or past the
    total are refused (None): a resumed download needs to know precisely what it got.
    """
    if value is None:
        return None
    match = _CONTENT_RANGE.fullmatch(value.strip())
    if match is None:
        return None
    first, last, total = (int(group) for group in match.groups())
    if last < first or last >= total:
        return None
    return ContentRange(first, last, total)
