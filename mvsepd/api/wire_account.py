"""User, history, site and Quality Checker answers read into models; part of the wire layer.

Shapes: login/user/history are ``{success, data}``; news and demo are bare arrays; queue is
``{queue: {...}, plan: {...}}``; Quality Checker answers are partly undocumented, so entries
keep their raw object and list endpoints accept a bare array or ``{data: [...]}``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from mvsepd.api.wire_errors import decode_answer
from mvsepd.api.wire_values import (
    as_bool,
    as_dict,
    as_float,
    as_int,
    as_list,
    as_str,
    as_str_tuple,
    as_text,
    as_url,
    decode_json_text,
    is_list_like,
)
from mvsepd.errors import ProtocolError
from mvsepd.models import (
    DemoEntry,
    HistoryEntry,
    Leaderboard,
    NewsItem,
    QualityEntry,
    QualityEntryCreated,
    QueueInfo,
    Secret,
    UserInfo,
)

_SAFE_HASH = re.compile(r"[^\s\x00-\x1f\x7f]{1,512}")


def parse_user(endpoint: str, status: int, headers: Mapping[str, str], body: bytes) -> UserInfo:
    """Given an ``/app/user`` or ``/app/login`` answer, return the account.

    ``credits`` is ``premium_minutes``; ``current_queue`` may be a count or a list of jobs.
    Raise InvalidTokenError for a refused key, InvalidRequestError for refused credentials.
    """
    payload = _object(endpoint, status, decode_answer(endpoint, status, headers, body))
    data = as_dict(payload.get("data"))
    if not data and "premium_minutes" in payload:
        data = payload
    if not data:
        raise ProtocolError("the answer has no account data", endpoint=endpoint, status=status)
    token = as_text(data.get("api_token"))
    queue = data.get("current_queue")
    current_queue = len(as_list(queue)) if is_list_like(queue) else as_int(queue)
    return UserInfo(
        name=as_text(data.get("name")),
        email=as_text(data.get("email")),
        api_token=Secret(token.strip()) if token and token.strip() else None,
        credits=_whole(data.get("premium_minutes")),
        premium_enabled=as_bool(data.get("premium_enabled")) or False,
        long_filenames_enabled=as_bool(data.get("long_filenames_enabled")) or False,
        current_queue=current_queue,
        copy_metadata=as_bool(data.get("copy_metadata")),
        created_at=as_text(data.get("created_at")),
    )


def parse_history(
    endpoint: str, status: int, headers: Mapping[str, str], body: bytes
) -> list[HistoryEntry]:
    """Given an ``/app/separation_history`` answer, return its entries, newest first."""
    entries = []
    for item in _array(endpoint, status, decode_answer(endpoint, status, headers, body)):
        if not isinstance(item, dict):
            continue
        job_hash = as_text(item.get("hash"))
        if job_hash is None or _SAFE_HASH.fullmatch(job_hash) is None:
            continue
        algorithm = as_dict(item.get("algorithm"))
        exists = as_bool(item.get("job_exists"))
        entries.append(
            HistoryEntry(
                id=as_int(item.get("id")),
                hash=job_hash,
                created_at=as_text(item.get("created_at")),
                job_exists=True if exists is None else exists,
                credits=as_int(item.get("credits")),
                time_left_hours=as_int(item.get("time_left")),
                algorithm_name=as_text(algorithm.get("name")),
                render_id=as_int(algorithm.get("render_id")),
            )
        )
    return entries


def parse_queue(endpoint: str, status: int, headers: Mapping[str, str], body: bytes) -> QueueInfo:
    """Given an ``/app/queue`` answer, return the global queues (and the caller's plan)."""
    payload = _object(endpoint, status, decode_answer(endpoint, status, headers, body))
    root = payload if "queue" in payload else as_dict(payload.get("data"))
    queue = as_dict(root.get("queue"))
    plan = as_dict(root.get("plan"))
    return QueueInfo(
        in_process=as_int(queue.get("in_process")),
        premium=as_int(queue.get("premium")),
        registered=as_int(queue.get("registered")),
        unregistered=as_int(queue.get("unregistered")),
        plan_name=as_text(plan.get("plan")),
        plan_queue=as_int(plan.get("queue")),
    )


def parse_news(
    endpoint: str, status: int, headers: Mapping[str, str], body: bytes
) -> list[NewsItem]:
    """Given an ``/app/news`` answer (a bare array), return the news items."""
    return [
        NewsItem(
            id=as_int(item.get("id")),
            title=as_str(item.get("title")) or "",
            lang=as_text(item.get("lang")),
            text=as_str(item.get("text")) or "",
            created_at=as_text(item.get("created_at")),
        )
        for item in _array(endpoint, status, decode_answer(endpoint, status, headers, body))
        if isinstance(item, dict)
    ]


def parse_demo(
    endpoint: str, status: int, headers: Mapping[str, str], body: bytes
) -> list[DemoEntry]:
    """Given an ``/app/demo`` answer (a bare array), return the public demo separations."""
    entries = []
    for item in _array(endpoint, status, decode_answer(endpoint, status, headers, body)):
        if not isinstance(item, dict):
            continue
        job_hash = as_text(item.get("hash"))
        if job_hash is None:
            continue
        algorithm = as_dict(item.get("algorithm"))
        entries.append(
            DemoEntry(
                hash=job_hash,
                date=as_text(item.get("date")),
                input_audio_url=as_url(item.get("input_audio")),
                algorithm_name=as_text(algorithm.get("name")),
                render_id=as_int(algorithm.get("render_id")),
            )
        )
    return entries


def parse_quality_created(
    endpoint: str, status: int, headers: Mapping[str, str], body: bytes
) -> QualityEntryCreated:
    """Given a ``/quality_checker/add`` answer, return the new entry's id and link."""
    payload = _object(endpoint, status, decode_answer(endpoint, status, headers, body))
    data = as_dict(payload.get("data"))
    entry_id = as_int(data.get("id"))
    if entry_id is None:
        raise ProtocolError("the answer has no entry id", endpoint=endpoint, status=status)
    return QualityEntryCreated(id=entry_id, link=as_url(data.get("link")))


def parse_quality_entries(
    endpoint: str, status: int, headers: Mapping[str, str], body: bytes
) -> list[QualityEntry]:
    """Given a ``/quality_checker/queue`` answer, return its entries."""
    payload = decode_answer(endpoint, status, headers, body)
    return [entry for entry in map(_quality_entry, _array(endpoint, status, payload)) if entry]


def parse_quality_entry(
    endpoint: str, status: int, headers: Mapping[str, str], body: bytes
) -> QualityEntry:
    """Given a ``/quality_checker/entry`` answer, return the entry (raw object kept)."""
    payload = _object(endpoint, status, decode_answer(endpoint, status, headers, body))
    data = payload.get("data")
    if is_list_like(data) and as_list(data):
        data = as_list(data)[0]
    candidate = data if isinstance(data, dict) and data else payload
    entry = _quality_entry(candidate)
    if entry is None or ("id" not in candidate and "algo_name" not in candidate):
        raise ProtocolError(
            "the answer has no Quality Checker entry", endpoint=endpoint, status=status
        )
    return entry


def parse_leaderboard(
    endpoint: str, status: int, headers: Mapping[str, str], body: bytes
) -> Leaderboard:
    """Given a ``/quality_checker/leaderboard`` answer, return its entries and sort keys."""
    payload = _object(endpoint, status, decode_answer(endpoint, status, headers, body))
    sortables = payload.get("sortables")
    if isinstance(sortables, dict) and not is_list_like(sortables):
        sortables = list(sortables)
    return Leaderboard(
        entries=tuple(e for e in map(_quality_entry, as_list(payload.get("data"))) if e),
        dataset_type=as_str(payload.get("dataset_type")),
        sortables=as_str_tuple(sortables),
        sort=as_text(payload.get("sort")),
    )


def _quality_entry(item: object) -> QualityEntry | None:
    if not isinstance(item, dict):
        return None
    metrics: dict[str, Any] = dict(as_dict(decode_json_text(item.get("metrics"))))
    for key, value in item.items():
        if isinstance(key, str) and key.startswith("sdr_"):
            metrics.setdefault(key, value)
    return QualityEntry(
        id=as_int(item.get("id")),
        algo_name=as_text(item.get("algo_name")),
        main_text=as_text(item.get("main_text")),
        dataset_type=as_str(item.get("dataset_type")),
        date=as_text(item.get("date")),
        proc=as_int(item.get("proc")),
        msg=as_text(item.get("msg")),
        metrics=metrics,
        raw=item,
        sdr={
            key.removeprefix("sdr_"): number
            for key, number in ((key, as_float(value)) for key, value in metrics.items())
            if isinstance(key, str) and key.startswith("sdr_") and number is not None
        },
        dataset_name=as_text(item.get("dataset_name")),
    )


def _whole(value: object) -> int:
    number = as_int(value)
    if number is not None:
        return number
    fraction = as_float(value)
    return math.floor(fraction) if fraction is not None and abs(fraction) < 2**62 else 0


def _array(endpoint: str, status: int, payload: object) -> list[Any]:
    if is_list_like(payload):
        return as_list(payload)
    if isinstance(payload, dict) and is_list_like(payload.get("data")):
        return as_list(payload["data"])
    raise ProtocolError("expected an array", endpoint=endpoint, status=status)


def _object(endpoint: str, status: int, payload: object) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise ProtocolError("expected a JSON object", endpoint=endpoint, status=status)
    return payload
