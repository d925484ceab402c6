"""JSON exactly the way PHP's ``json_encode`` writes it with default flags.

MVSEP is a Laravel application, so its bodies carry PHP's defaults: ``/`` is escaped as ``\\/``
(the official examples undo it with ``.replace('\\\\/', '/')``), every non-ASCII character is a
``\\uXXXX`` escape (UTF-16 surrogate pairs above the BMP), there is no whitespace, and an empty
PHP array, which PHP cannot tell apart from an empty map, is written ``[]``.
"""

from __future__ import annotations

import json
from typing import Any


def dumps(value: Any) -> bytes:
    """Encode ``value`` as PHP would; returns UTF-8 bytes (pure ASCII in practice)."""
    text = json.dumps(_php_arrays(value), ensure_ascii=True, separators=(",", ":"))
    # '/' can only occur inside string literals in JSON text, so a global replace is exact.
    return text.replace("/", "\\/").encode("ascii")


def _php_arrays(value: Any) -> Any:
    if isinstance(value, dict):
        if not value:
            return []
        return {str(key): _php_arrays(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_php_arrays(item) for item in value]
    return value
