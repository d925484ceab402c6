"""Separation jobs as MVSEP reports them: create answers, status polls, result files."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class RemoteStatus(str, enum.Enum):
    """A job's ``status`` at MVSEP. Anything undocumented reads as ``UNKNOWN`` (still running)."""

    WAITING = "waiting"
    PROCESSING = "processing"
    DISTRIBUTING = "distributing"
    MERGING = "merging"
    DONE = "done"
    FAILED = "failed"
    NOT_FOUND = "not_found"
    UNKNOWN = "unknown"

    @property
    def finished(self) -> bool:
        """True when polling again cannot change the answer."""
        return self in (RemoteStatus.DONE, RemoteStatus.FAILED, RemoteStatus.NOT_FOUND)

    @property
    def cancellable(self) -> bool:
        """True while MVSEP has not started the job, so cancel refunds its credits."""
        return self is RemoteStatus.WAITING


@dataclass(frozen=True)
class SeparationCreated:
    """A created job: ``hash`` identifies it; ``server`` is the base URL it lives on."""

    hash: str
    link: str | None
    server: str


@dataclass(frozen=True)
class RemoteCreated:
    """A job created from a URL: MVSEP answers with a short hash for ``get-remote``."""

    short_hash: str
    link: str | None
    server: str


@dataclass(frozen=True)
class ResultFile:
    """One downloadable file of a finished job. Match files by ``type``, never by position."""

    type: str
    url: str
    size_text: str | None = None
    download_name: str | None = None

    @property
    def approximate_size(self) -> int | None:
        """Bytes implied by MVSEP's human ``size`` ("5.84 MB"), or None when absent/unclear."""
        return parse_human_size(self.size_text)


@dataclass(frozen=True, eq=False)
class SeparationStatus:
    """One answer of ``GET /separation/get``."""

    hash: str
    status: RemoteStatus
    raw_status: str
    message: str | None = None
    queue_count: int | None = None
    current_order: int | None = None
    finished_chunks: int | None = None
    all_chunks: int | None = None
    algorithm: str | None = None
    algorithm_description: str | None = None
    output_format: str | None = None
    files: tuple[ResultFile, ...] = ()
    input_file: ResultFile | None = None
    date: str | None = None
    size_text: str | None = None
    tags: Mapping[str, Any] = field(default_factory=dict)
    #: The ``type`` of each result record listed without an address yet: MVSEP says ``done``
    #: before every stem is exported to its storage, and fills the addresses in one by one.
    unpublished: tuple[str, ...] = ()

    @property
    def published(self) -> bool:
        """True when the job is done and every result it lists has an address (there is at
        least one). Whether the list itself is whole is for the caller to judge."""
        return self.status is RemoteStatus.DONE and bool(self.files) and not self.unpublished

    def files_of_type(self, type_label: str) -> tuple[ResultFile, ...]:
        """Return the result files whose ``type`` equals ``type_label`` (case-insensitive)."""
        wanted = type_label.casefold()
        return tuple(f for f in self.files if f.type.casefold() == wanted)


@dataclass(frozen=True)
class RemoteJobStatus:
    """One answer of ``GET /separation/get-remote`` for a URL-created job."""

    short_hash: str
    status: RemoteStatus
    raw_status: str
    message: str | None = None
    queue_count: int | None = None
    current_order: int | None = None
    separation_hash: str | None = None
    link: str | None = None


_SIZE_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4}


def parse_human_size(text: str | None) -> int | None:
    """Return bytes for "5.70 MB" / "512 KB" / "1.3 GB", or None if it cannot be read."""
    if not text:
        return None
    parts = text.strip().split()
    if len(parts) != 2 or parts[1].lower() not in _SIZE_UNITS:
        return None
    try:
        number = float(parts[0])
    except ValueError:
        return None
    if number < 0:
        return None
    return int(number * _SIZE_UNITS[parts[1].lower()])
