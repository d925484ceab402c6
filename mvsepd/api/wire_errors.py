"""Reading MVSEP's answers into "fine" or the right ``MvsepError``; part of the wire layer.

MVSEP reports failures in several shapes: a non-2xx status, ``success: false`` with the reason
in ``errors[]``, ``data.message`` or ``message`` (a string, or Laravel's validation object
``{field: [messages]}``), HTML error pages from the web server, and plain text from proxies.
``decode_answer`` reads the body once and raises the matching error; the parsers then read the
payload it returns.

Classification, first match wins:

1. 401 → InvalidTokenError; 404/410 → NotFoundError; 413 → FileTooLargeError;
   429 → RateLimitedError (``retry_after`` from Retry-After); 5xx → ServerError;
   408 → NetworkError.
2. Any other non-2xx or ``success: false``: the server's words decide (invalid key, queue full,
   premium only, too large, not found); otherwise a refusal (400, or ``success: false``) on an
   endpoint that takes nothing but the token (``/app/user`` & co.; MVSEP's API page documents
   400 = invalid API key there) → InvalidTokenError; otherwise InvalidRequestError.
3. A 2xx body that is not JSON → ProtocolError; a 3xx → ProtocolError (never followed).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from mvsepd.api.httputil import header, parse_http_date, parse_retry_after
from mvsepd.api.wire_values import NOT_JSON, as_bool, as_dict, decode_json, flatten_messages
from mvsepd.errors import (
    FileTooLargeError,
    InvalidRequestError,
    InvalidTokenError,
    MvsepError,
    NetworkError,
    NotFoundError,
    PremiumRequiredError,
    ProtocolError,
    QueueFullError,
    RateLimitedError,
    ServerError,
)

#: Endpoints whose only parameter that can be wrong is the token: a 400 there means "bad key".
TOKEN_ONLY_ENDPOINTS = frozenset(
    {
        "/app/user",
        "/app/separation_history",
        "/app/enable_premium",
        "/app/disable_premium",
        "/app/enable_long_filenames",
        "/app/disable_long_filenames",
    }
)

_INVALID_TOKEN = re.compile(
    r"invalid api|invalid (api[ _-]?)?token"
    r"|api[ _-]?(key|token)\b[^.]{0,40}"
    r"(invalid|not valid|wrong|unknown|not found|incorrect|expired)"
    r"|unauthori[sz]ed|unauthenticated",
    re.IGNORECASE,
)
_QUEUE_FULL = re.compile(r"unprocessed file|already have .{0,40}in (the )?queue", re.IGNORECASE)
_PREMIUM = re.compile(
    r"purchase premium|premium membership|premium (account|plan|users?) only|only for premium"
    r"|requires? (a )?premium",
    re.IGNORECASE,
)
_TOO_LARGE = re.compile(
    r"too (large|big)|file ?size|(file|upload)[^.]{0,30}exceed|maximum (allowed )?(file )?size"
    r"|max size|greater than \d+ ?(kilobytes|kb|mb|megabytes)|size limit",
    re.IGNORECASE,
)
_NOT_FOUND = re.compile(
    r"not found|does ?n[o']t exist|no such|unknown hash|has expired", re.IGNORECASE
)
_TITLE = re.compile(rb"<title[^>]*>(.{0,200}?)</title>", re.IGNORECASE | re.DOTALL)


def classify_messages(messages: list[str]) -> type[MvsepError] | None:
    """Return the error class the server's own words point to, or None if they say nothing."""
    text = " | ".join(messages)
    if not text:
        return None
    if _INVALID_TOKEN.search(text):
        return InvalidTokenError
    if _QUEUE_FULL.search(text):
        return QueueFullError
    if _PREMIUM.search(text):
        return PremiumRequiredError
    if _TOO_LARGE.search(text):
        return FileTooLargeError
    if _NOT_FOUND.search(text):
        return NotFoundError
    return None


def answer_messages(payload: object) -> list[str]:
    """Return the server's messages from ``errors``, ``data.message``, ``message``, ``error``."""
    if not isinstance(payload, dict):
        return []
    messages: list[str] = []
    for value in (
        payload.get("errors"),
        as_dict(payload.get("data")).get("message"),
        payload.get("message"),
        payload.get("error"),
    ):
        for message in flatten_messages(value):
            if message not in messages:
                messages.append(message)
    return messages[:20]


def success_flag(payload: object) -> bool | None:
    """Return the ``success`` flag read tolerantly (true/"true"/1), or None when absent/odd."""
    if not isinstance(payload, dict) or "success" not in payload:
        return None
    return as_bool(payload["success"])


def raise_for_answer(endpoint: str, status: int, headers: Mapping[str, str], body: bytes) -> None:
    """Given one answer, raise the MvsepError it stands for; return if it is a success."""
    decode_answer(endpoint, status, headers, body)


def decode_answer(
    endpoint: str,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    failure_is_error: bool = True,
) -> Any:
    """Given one answer, return its decoded JSON payload or raise the matching MvsepError.

    With ``failure_is_error=False`` a 2xx ``success: false`` body is returned for the caller to
    read (status polls report failed/not_found jobs that way), unless its words say the token
    is invalid.
    """
    payload = decode_json(body)
    messages = answer_messages(payload)
    error = _status_error(endpoint, status, headers, body, payload, messages)
    if error is not None:
        raise error
    if payload is NOT_JSON:
        raise ProtocolError(_describe_non_json(headers, body), endpoint=endpoint, status=status)
    flag = success_flag(payload)
    if isinstance(payload, dict) and "success" in payload and flag is None:
        raise ProtocolError("unreadable 'success' flag", endpoint=endpoint, status=status)
    if flag is False:
        kind = classify_messages(messages)
        if kind is None and endpoint in TOKEN_ONLY_ENDPOINTS:
            kind = InvalidTokenError
        if failure_is_error or kind is InvalidTokenError:
            raise _build(kind or InvalidRequestError, endpoint, status, messages, "request refused")
    return payload


def _status_error(
    endpoint: str,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    payload: object,
    messages: list[str],
) -> MvsepError | None:
    if 200 <= status <= 299:
        return None
    if payload is NOT_JSON:
        described = _describe_non_json(headers, body)
        messages = []
    else:
        described = "request refused"
    kind: type[MvsepError]
    if status == 401:
        kind = InvalidTokenError
    elif status in (404, 410):
        kind = NotFoundError
    elif status == 413:
        kind = FileTooLargeError
    elif status == 429:
        retry_after = _retry_after(headers)
        detail = "; ".join(messages) or "too many requests"
        return RateLimitedError(
            detail, endpoint=endpoint, status=status, messages=messages, retry_after=retry_after
        )
    elif 500 <= status <= 599:
        kind = ServerError
    elif status == 408:
        kind = NetworkError
    elif 300 <= status <= 399:
        return ProtocolError(
            f"unexpected redirect (HTTP {status})", endpoint=endpoint, status=status
        )
    elif 400 <= status <= 499:
        if payload is NOT_JSON and status != 400:
            return ProtocolError(described, endpoint=endpoint, status=status)
        found = classify_messages(messages)
        if found is not None:
            kind = found
        elif status == 400 and endpoint in TOKEN_ONLY_ENDPOINTS:
            kind = InvalidTokenError
        else:
            kind = InvalidRequestError
    else:
        return ProtocolError(f"unexpected HTTP status {status}", endpoint=endpoint, status=status)
    return _build(kind, endpoint, status, messages, described)


def _build(
    kind: type[MvsepError], endpoint: str, status: int, messages: list[str], fallback: str
) -> MvsepError:
    detail = "; ".join(messages) or fallback
    if kind is InvalidTokenError and not messages:
        detail = "MVSEP refused the API token"
    return kind(detail, endpoint=endpoint, status=status, messages=messages)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    date = header(headers, "Date")
    now = parse_http_date(date) if date else None
    return parse_retry_after(header(headers, "Retry-After"), now)


def _nested_too_deeply(body: bytes) -> bool:
    try:
        json.loads(body)
    except RecursionError:
        return True
    except (ValueError, MemoryError):
        return False
    return False


def _describe_non_json(headers: Mapping[str, str], body: bytes) -> str:
    content_type = (header(headers, "Content-Type") or "").split(";")[0].strip().lower()
    stripped = body.lstrip()[:512].lower() if isinstance(body, (bytes, bytearray)) else b""
    if not stripped:
        return "empty answer where JSON was expected"
    if content_type in ("text/html", "application/xhtml+xml") or stripped.startswith(
        (b"<!doctype", b"<html")
    ):
        match = _TITLE.search(body[:4096])
        title = " ".join(match.group(1).decode("utf-8", "replace").split())[:120] if match else ""
        return f"HTML page instead of JSON{f' ({title!r})' if title else ''}"
    if stripped.startswith((b"{", b"[")):
        return (
            "JSON nested too deeply to read"
            if _nested_too_deeply(body)
            else ("malformed or truncated JSON")
        )
    snippet = " ".join(body[:120].decode("utf-8", "replace").split())
    printable = "".join(ch for ch in snippet if ch.isprintable())
    return f"not JSON: {printable!r}"
