"""Tolerant readers of JSON values as MVSEP (PHP/Laravel) sends them; part of the wire layer.

PHP is loose: numbers arrive as strings ("2.0000"), booleans as 1/0/"true", empty objects as
``[]``, lists as objects with numeric keys, and some fields as JSON encoded inside a string.
Every reader here returns None (or an empty value) for anything it cannot read and never
raises: the parsers decide what is required.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

#: Integers outside the signed 64-bit range are treated as unreadable (they would overflow
#: SQLite and mean nothing to MVSEP anyway).
_INT_MIN = -(2**63)
_INT_MAX = 2**63 - 1
_TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
_FALSE_WORDS = frozenset({"false", "0", "no", "off", ""})

MAX_MESSAGES = 20
MAX_MESSAGE_CHARS = 500


class NotJson:
    """Marker for a body that is not JSON (``NOT_JSON``)."""

    def __repr__(self) -> str:
        return "NOT_JSON"


NOT_JSON = NotJson()


def decode_json(body: object) -> Any:
    """Return the decoded JSON value of ``body`` (bytes), or NOT_JSON if it is not valid JSON."""
    if not isinstance(body, (bytes, bytearray)):
        return NOT_JSON
    data = bytes(body)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return NOT_JSON
    if not text.strip():
        return NOT_JSON
    try:
        return json.loads(text)
    except (ValueError, RecursionError, OverflowError, MemoryError):
        return NOT_JSON


def decode_json_text(value: object) -> Any:
    """Return a field that MVSEP sends JSON-encoded inside a string, decoded.

    Already-decoded values (dict/list) are returned as they are; None, empty strings and
    invalid JSON give None.
    """
    if isinstance(value, (dict, list)):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    decoded = decode_json(value.encode("utf-8", "surrogatepass"))
    return None if decoded is NOT_JSON else decoded


def as_int(value: object) -> int | None:
    """Return an int from 5, 5.0, "5", " 5 ", "5.0"; None for anything else (bool included)."""
    number: int | None = None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            number = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if 0 < len(text) <= 40:
            try:
                number = int(text)
            except ValueError:
                as_float_value = as_float(text)
                if as_float_value is not None and as_float_value.is_integer():
                    number = int(as_float_value)
    if number is None or not _INT_MIN <= number <= _INT_MAX:
        return None
    return number


def as_float(value: object) -> float | None:
    """Return a finite float from 2, 2.5, "2.0000"; None for anything else (bool included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            return None
        return float(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        text = value.strip()
        if not 0 < len(text) <= 40:
            return None
        try:
            number = float(text)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def as_bool(value: object) -> bool | None:
    """Return a bool from true/false, 1/0, "true"/"1"/"false"/"0"; None for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0 if value in (0, 1) else None
    if isinstance(value, float):
        return value != 0.0 if value in (0.0, 1.0) else None
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE_WORDS:
            return True
        if text in _FALSE_WORDS:
            return False
    return None


def as_str(value: object) -> str | None:
    """Return a string field; numbers become their decimal text; None for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value) if _INT_MIN <= value <= _INT_MAX else None
    if isinstance(value, float) and math.isfinite(value):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return None


def as_text(value: object) -> str | None:
    """Return a non-empty string field (after ``as_str``), or None."""
    text = as_str(value)
    return text if text else None


def as_url(value: object) -> str | None:
    """Return a URL string, undoing a left-over PHP ``\\/`` escape; None when empty."""
    text = as_text(value)
    return text.strip().replace("\\/", "/") if text else None


def as_dict(value: object) -> dict[str, Any]:
    """Return a JSON object as a dict; PHP's empty array ``[]`` and anything else give {}."""
    if isinstance(value, dict):
        return value
    return {}


def as_list(value: object) -> list[Any]:
    """Return a JSON array; an object with only numeric keys (a PHP array) gives its values."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and value and all(isinstance(k, str) and k.isdigit() for k in value):
        return list(value.values())
    return []


def is_list_like(value: object) -> bool:
    """True for a JSON array or an object with only numeric keys (PHP's non-sequential array)."""
    if isinstance(value, list):
        return True
    return isinstance(value, dict) and all(isinstance(k, str) and k.isdigit() for k in value)


def as_str_map(value: object) -> dict[str, str]:
    """Return ``{key: label}`` from a JSON object (or a list, keyed "0", "1", ...), order kept.

    Keys stay strings exactly as sent; values that are not text or numbers are dropped.
    """
    items: list[tuple[object, object]]
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = [(str(index), item) for index, item in enumerate(value)]
    else:
        return {}
    result: dict[str, str] = {}
    for key, label in items:
        text = as_str(label)
        if isinstance(key, str) and text is not None:
            result[key] = text
    return result


def as_str_tuple(value: object) -> tuple[str, ...]:
    """Return the text items of a JSON array (or JSON-encoded array) as a tuple."""
    decoded = decode_json_text(value) if isinstance(value, str) else value
    if isinstance(decoded, dict):
        decoded = list(decoded.values())
    if not isinstance(decoded, list):
        return ()
    return tuple(text for text in (as_str(item) for item in decoded) if text is not None)


def flatten_messages(value: object) -> list[str]:
    """Return the human messages in an ``errors``/``message`` value, flattened and capped.

    Accepts a string, a list of strings, or Laravel's ``{field: [messages]}`` (two levels).
    """
    found: list[str] = []
    pending: list[tuple[object, int]] = [(value, 0)]
    while pending and len(found) < MAX_MESSAGES:
        item, depth = pending.pop(0)
        if isinstance(item, str):
            text = " ".join(item.split())
            if text:
                found.append(text[:MAX_MESSAGE_CHARS])
        elif depth < 3 and isinstance(item, list):
            pending[0:0] = [(child, depth + 1) for child in item[:MAX_MESSAGES]]
        elif depth < 3 and isinstance(item, Mapping):
            pending[0:0] = [(child, depth + 1) for child in list(item.values())[:MAX_MESSAGES]]
    return found
