"""MVSEP's JSON, read into mvsepd's models: the only place that knows the wire's field names.

The wire layer is this module plus ``wire_errors`` (error classification), ``wire_values``
(tolerant value readers), ``wire_catalog`` (``/app/algorithms``) and ``wire_account`` (user,
history, site and Quality Checker endpoints); everything is re-exported here. Every ``parse_*``
takes ``(endpoint, status, headers, body)`` exactly as received and returns a model or raises an
``MvsepError``; no other exception escapes on any input.

Tolerance, where MVSEP is loose: ``success`` as true/"true"/1; statuses outside the documented
set read as ``RemoteStatus.UNKNOWN`` (still running) with ``raw_status`` kept; numbers as
strings; ``[]`` for empty objects; ``\\/`` left in URLs; get-remote's ``success: false``
"being downloaded" replies read as still running; a ``done`` job's result records without an
address (not yet exported to MVSEP's storage) are counted in ``unpublished``, never dropped.

Naming: a separation hash is ``YYYYMMDDHHMMSS-<hex>-<slug>.<ext>``; a URL-created job first
gets a short hash for get-remote. ``filename_slug`` reproduces the slug so a create whose answer
was lost can be found again in the separation history.
"""

from __future__ import annotations

import calendar
import re
import time
import unicodedata
from collections.abc import Mapping
from typing import Any

from mvsepd.api.wire_account import (
    parse_demo,
    parse_history,
    parse_leaderboard,
    parse_news,
    parse_quality_created,
    parse_quality_entries,
    parse_quality_entry,
    parse_queue,
    parse_user,
)
from mvsepd.api.wire_catalog import parse_algorithms
from mvsepd.api.wire_errors import (
    TOKEN_ONLY_ENDPOINTS,
    answer_messages,
    classify_messages,
    decode_answer,
    raise_for_answer,
    success_flag,
)
from mvsepd.api.wire_values import (
    as_dict,
    as_int,
    as_list,
    as_str,
    as_text,
    as_url,
    flatten_messages,
)
from mvsepd.errors import NotFoundError, ProtocolError
from mvsepd.models import (
    ActionResult,
    RemoteCreated,
    RemoteJobStatus,
    RemoteStatus,
    ResultFile,
    SeparationCreated,
    SeparationStatus,
)

__all__ = [
    "TOKEN_ONLY_ENDPOINTS",
    "filename_slug",
    "hash_matches_filename",
    "is_separation_hash",
    "parse_action",
    "parse_algorithms",
    "parse_created",
    "parse_demo",
    "parse_history",
    "parse_leaderboard",
    "parse_news",
    "parse_quality_created",
    "parse_quality_entries",
    "parse_quality_entry",
    "parse_queue",
    "parse_remote_created",
    "parse_remote_status",
    "parse_separation",
    "parse_user",
    "raise_for_answer",
    "remote_status",
]

_MIN_TRUNCATED_SLUG = 32
_SEPARATION_HASH = re.compile(r"^\d{14}-[0-9a-f]+-")
_SAFE_HASH = re.compile(r"[^\s\x00-\x1f\x7f]{1,512}")
_STATUSES = {status.value: status for status in RemoteStatus if status is not RemoteStatus.UNKNOWN}


def remote_status(raw: str | None) -> RemoteStatus:
    """Return the RemoteStatus for a wire status; anything undocumented is UNKNOWN."""
    if not raw:
        return RemoteStatus.UNKNOWN
    return _STATUSES.get(raw.strip().lower(), RemoteStatus.UNKNOWN)


def is_separation_hash(value: str) -> bool:
    """True for a real separation hash (``^\\d{14}-<hex>-``), False for a short remote hash."""
    return isinstance(value, str) and _SEPARATION_HASH.match(value) is not None


def filename_slug(name: str) -> str:
    """Return ``<slug>.<ext>`` as MVSEP puts a file name at the end of a separation hash.

    The stem is lowercased (accents folded to ASCII) and every run of other characters becomes
    one ``-`` ("10 - Luke's Theme.mp3" gives "10-luke-s-theme.mp3"). How MVSEP transliterates
    non-Latin scripts is not known; compare the result case-insensitively.
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, extension = base.rpartition(".")
    if not dot:
        stem, extension = base, ""
    slug = _slugify(stem)
    extension = _slugify(extension).replace("-", "")
    return f"{slug}.{extension}" if extension else slug


def hash_matches_filename(separation_hash: str, filename: str) -> bool:
    """True when ``separation_hash`` is a real hash that ends in ``-<filename_slug(filename)>``.

    A very long name may be shortened by the server; a hash whose slug is a long enough start of
    the expected one (same extension) matches too.
    """
    if not is_separation_hash(separation_hash):
        return False
    expected = filename_slug(filename)
    actual = separation_hash.lower().split("-", 2)[2] if separation_hash.count("-") >= 2 else ""
    if actual == expected:
        return True
    actual_stem, _, actual_extension = actual.rpartition(".")
    expected_stem, _, expected_extension = expected.rpartition(".")
    return (
        actual_extension == expected_extension
        and len(actual_stem) >= _MIN_TRUNCATED_SLUG
        and expected_stem.startswith(actual_stem)
    )


def hash_created_at(separation_hash: str) -> float | None:
    """Return when MVSEP created a job (epoch seconds, UTC) from its hash's time stamp.

    The hash starts with ``YYYYMMDDHHMMSS`` in server time, which matched UTC in the recorded
    history (API notes, section 7.4). None for a short remote hash or a malformed stamp.
    """
    if not is_separation_hash(separation_hash):
        return None
    try:
        moment = time.strptime(separation_hash[:14], "%Y%m%d%H%M%S")
    except ValueError:
        return None
    return float(calendar.timegm(moment))


def _slugify(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text)
    ascii_text = "".join(ch for ch in folded if not unicodedata.combining(ch)).lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")


def parse_created(
    endpoint: str, status: int, headers: Mapping[str, str], body: bytes, *, server: str
) -> SeparationCreated:
    """Given the answer to a file (or no-upload) create, return the new job on ``server``.

    Raise the classified MvsepError for refusals and ProtocolError if there is no usable hash.
    """
    job_hash, link = _created_hash(endpoint, status, headers, body)
    return SeparationCreated(hash=job_hash, link=link, server=server)


def parse_remote_created(
    endpoint: str, status: int, headers: Mapping[str, str], body: bytes, *, server: str
) -> RemoteCreated:
    """Given the answer to a URL create, return the short hash to poll with get-remote."""
    job_hash, link = _created_hash(endpoint, status, headers, body)
    return RemoteCreated(short_hash=job_hash, link=link, server=server)


def _created_hash(
    endpoint: str, status: int, headers: Mapping[str, str], body: bytes
) -> tuple[str, str | None]:
    payload = _object(endpoint, status, decode_answer(endpoint, status, headers, body))
    data = as_dict(payload.get("data"))
    job_hash = as_text(data.get("hash")) or as_text(payload.get("hash"))
    if job_hash is None or _SAFE_HASH.fullmatch(job_hash) is None:
        raise ProtocolError(
            "the create answer has no usable hash", endpoint=endpoint, status=status
        )
    return job_hash, as_url(data.get("link")) or as_url(payload.get("link"))


def parse_separation(
    endpoint: str,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    separation_hash: str,
) -> SeparationStatus:
    """Given a ``/separation/get`` answer, return the job's status, progress and files.

    A hash MVSEP does not know reads as status NOT_FOUND (its own ``success: false`` answer);
    an HTTP 404 raises NotFoundError. Raise InvalidTokenError for an invalid key (``mirror=1``)
    and ProtocolError for unreadable answers.
    """
    payload = _object(
        endpoint, status, decode_answer(endpoint, status, headers, body, failure_is_error=False)
    )
    data = as_dict(payload.get("data"))
    raw_status = (as_str(payload.get("status")) or "").strip()
    remote = remote_status(raw_status)
    if (
        not raw_status
        and success_flag(payload) is False
        and classify_messages(answer_messages(payload)) is NotFoundError
    ):
        remote = RemoteStatus.NOT_FOUND
    records = [item for item in as_list(data.get("files")) if isinstance(item, dict)]
    files = tuple(f for f in (_result_file(item) for item in records) if f)
    # A record without an address is a stem MVSEP has not exported to its storage yet.
    unpublished = tuple(
        (as_str(item.get("type")) or "").strip() for item in records if _result_file(item) is None
    )
    return SeparationStatus(
        hash=separation_hash,
        status=remote,
        raw_status=raw_status,
        message=_message(payload, data),
        queue_count=as_int(data.get("queue_count")),
        current_order=as_int(data.get("current_order")),
        finished_chunks=as_int(data.get("finished_chunks")),
        all_chunks=as_int(data.get("all_chunks")),
        algorithm=as_text(data.get("algorithm")),
        algorithm_description=as_text(data.get("algorithm_description")),
        output_format=as_text(data.get("output_format")),
        files=files,
        input_file=_result_file(data.get("input_file")),
        date=as_text(data.get("date")),
        size_text=as_text(data.get("size")),
        tags=as_dict(data.get("tags")),
        unpublished=unpublished,
    )


def parse_remote_status(
    endpoint: str,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    short_hash: str,
) -> RemoteJobStatus:
    """Given a ``/separation/get-remote`` answer, return the URL job's status.

    ``success: false`` without a status ("Your audio file is being downloaded...") reads as
    UNKNOWN, i.e. still running. A ``not_found`` status is reported as NOT_FOUND: right after
    the create MVSEP says so for a minute or two, so callers should allow a grace period.
    When done, ``separation_hash`` is the real hash to poll with ``/separation/get``.
    """
    payload = _object(
        endpoint, status, decode_answer(endpoint, status, headers, body, failure_is_error=False)
    )
    data = as_dict(payload.get("data"))
    raw_status = (as_str(payload.get("status")) or "").strip()
    real_hash = as_text(data.get("hash"))
    if real_hash is not None and _SAFE_HASH.fullmatch(real_hash) is None:
        real_hash = None
    return RemoteJobStatus(
        short_hash=short_hash,
        status=remote_status(raw_status),
        raw_status=raw_status,
        message=_message(payload, data),
        queue_count=as_int(data.get("queue_count")),
        current_order=as_int(data.get("current_order")),
        separation_hash=real_hash,
        link=as_url(data.get("link")),
    )


def parse_action(
    endpoint: str, status: int, headers: Mapping[str, str], body: bytes
) -> ActionResult:
    """Given a ``{success, message}`` answer (toggles, register, cancel, deletes), return it."""
    payload = decode_answer(endpoint, status, headers, body)
    if not isinstance(payload, dict):
        raise ProtocolError("expected a JSON object", endpoint=endpoint, status=status)
    return ActionResult(message=_message(payload, as_dict(payload.get("data"))) or "")


def _message(payload: dict[str, Any], data: dict[str, Any]) -> str | None:
    messages = flatten_messages(data.get("message")) or flatten_messages(payload.get("message"))
    return "; ".join(messages) if messages else None


def _result_file(item: object) -> ResultFile | None:
    if not isinstance(item, dict):
        return None
    url = as_url(item.get("url"))
    if url is None:
        return None
    return ResultFile(
        type=(as_str(item.get("type")) or "").strip(),
        url=url,
        size_text=as_text(item.get("size")),
        download_name=as_text(item.get("download")),
    )


def _object(endpoint: str, status: int, payload: object) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise ProtocolError("expected a JSON object", endpoint=endpoint, status=status)
    return payload
