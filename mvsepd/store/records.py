"""Conversions between database rows and the store's records, and how paths are written."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

from mvsepd.models import (
    DeliveryRecord,
    DeliveryState,
    FailureKind,
    HoldKind,
    JobRecord,
    JobState,
)

_BYTES_PREFIX = "\0fs:"


class Row(Protocol):
    """A database row read by column name (sqlite3.Row, or the PostgreSQL backend's rows)."""

    def __getitem__(self, key: str, /) -> Any: ...


class Cursor(Protocol):
    """What a statement returns (sqlite3's cursor, or the PostgreSQL backend's)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    """A connection inside one of the store's transactions, taking ``?`` placeholders."""

    def execute(self, sql: str, parameters: Any = (), /) -> Cursor: ...


def path_to_db(text: str) -> str:
    """Return a path as storable text. File names that are not valid UTF-8 reach Python with
    surrogate escapes, which SQLite refuses; those are stored as the base64 of their bytes
    behind a NUL (which no real path contains), so they still round-trip and compare equal."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogateescape")
        return _BYTES_PREFIX + base64.urlsafe_b64encode(raw).decode("ascii")
    return text


def path_from_db(text: str) -> str:
    """Undo ``path_to_db``."""
    if text.startswith(_BYTES_PREFIX):
        raw = base64.urlsafe_b64decode(text[len(_BYTES_PREFIX) :])
        return raw.decode("utf-8", "surrogateescape")
    return text


class PathCodec:
    """How a store writes paths: as this machine names them (one machine, SQLite).

    Studio mode writes paths on a share as (share id, relative path) and this host's own
    paths under its host id (``mvsepd.store.studio.StudioPaths``).
    """

    def to_db(self, path: str) -> str:
        """An absolute path (folder, source, output folder) as stored."""
        return path_to_db(path)

    def from_db(self, text: str) -> str:
        """A stored absolute path as this host names it."""
        return path_from_db(text)

    def relative_to_db(self, relative: str) -> str:
        """A path relative to a hot folder as stored."""
        return path_to_db(relative)

    def relative_from_db(self, text: str) -> str:
        """Undo ``relative_to_db``."""
        return path_from_db(text)

    def reachable(self, path: str) -> bool:
        """True when this host can read and write ``path`` (as ``from_db`` returned it)."""
        return True


PLAIN_PATHS = PathCodec()


class Backend:
    """What every part of a job store needs from its backend (the connection, its
    transactions, the clock, how it writes paths); ``mvsepd.store.base.SqlJobStore``'s
    backends provide it."""

    paths: PathCodec = PLAIN_PATHS

    def _transaction(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def _query(self, sql: str, parameters: Iterable[Any] = ()) -> list[Any]:
        raise NotImplementedError

    def _now(self) -> float:
        raise NotImplementedError


@dataclass(frozen=True)
class SourceRecord:
    """A file seen in a hot folder, by its path, with what became of it."""

    folder_path: str
    relative_path: str
    size: int
    mtime_ns: int
    content_sha256: str | None
    job_id: int | None
    verdict: str
    #: When it was recorded (the store's clock); a ``checking`` verdict's is when its check began.
    seen_at: float = field(default=0.0, compare=False)


def as_state_set(expected: JobState | Iterable[JobState] | None) -> set[JobState] | None:
    if expected is None:
        return None
    if isinstance(expected, JobState):
        return {expected}
    return set(expected)


def column_values(changes: Mapping[str, Any], paths: PathCodec = PLAIN_PATHS) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "output_dir" and value is not None:
            values[key] = paths.to_db(str(value))
        elif key == "options":
            values["options_json"] = json.dumps(dict(value), sort_keys=True)
        elif isinstance(value, JobState | FailureKind | HoldKind):
            values[key] = value.value
        else:
            values[key] = value
    return values


JOB_FIELD_NAMES = [item.name for item in fields(JobRecord)]


def job_from_row(row: Row, paths: PathCodec = PLAIN_PATHS) -> JobRecord:
    data: dict[str, Any] = {}
    for name in JOB_FIELD_NAMES:
        if name == "options":
            data[name] = json.loads(row["options_json"] or "{}")
        elif name in ("state", "resume_state"):
            data[name] = JobState(row[name]) if row[name] is not None else None
        elif name == "failure_kind":
            data[name] = FailureKind(row[name]) if row[name] is not None else None
        elif name == "hold_kind":
            data[name] = HoldKind(row[name]) if row[name] is not None else None
        elif name in ("source_path", "folder_path"):
            data[name] = paths.from_db(row[name])
        elif name == "output_dir":
            data[name] = paths.from_db(row[name]) if row[name] is not None else None
        else:
            data[name] = row[name]
    return JobRecord(**data)


def source_from_row(row: Row, paths: PathCodec = PLAIN_PATHS) -> SourceRecord:
    return SourceRecord(
        folder_path=paths.from_db(row["folder_path"]),
        relative_path=paths.relative_from_db(row["relative_path"]),
        size=int(row["size"]),
        mtime_ns=int(row["mtime_ns"]),
        content_sha256=row["content_sha256"],
        job_id=row["job_id"],
        verdict=row["verdict"],
        seen_at=float(row["seen_at"]),
    )


def delivery_from_row(row: Row, paths: PathCodec = PLAIN_PATHS) -> DeliveryRecord:
    return DeliveryRecord(
        id=int(row["id"]),
        job_id=int(row["job_id"]),
        folder_path=paths.from_db(row["folder_path"]),
        source_path=paths.from_db(row["source_path"]),
        preset_name=row["preset_name"],
        chain=row["chain"],
        step=row["step"],
        parent_delivery_id=row["parent_delivery_id"],
        state=DeliveryState(row["state"]),
        reason=row["reason"],
        output_dir=paths.from_db(row["output_dir"]) if row["output_dir"] is not None else None,
        created_at=float(row["created_at"]),
        updated_at=float(row["updated_at"]),
    )
