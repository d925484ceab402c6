"""Job records: the statuses, the mutable ``Job`` the store keeps, and the read-only
``JobSnapshot`` handed to routes and tests."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from mvsepd.emulator.accounts import Account
from mvsepd.emulator.catalog import Algorithm
from mvsepd.emulator.encoding import OutputFormat
from mvsepd.emulator.render import StemTarget

WAITING = "waiting"
PROCESSING = "processing"
DISTRIBUTING = "distributing"
MERGING = "merging"
DONE = "done"
FAILED = "failed"
ACTIVE = frozenset({PROCESSING, DISTRIBUTING, MERGING})
UNFINISHED = ACTIVE | {WAITING}
RENDER_FAILED_MESSAGE = "Error while processing the file. Please try again or contact support."


@dataclasses.dataclass
class Job:
    """One separation. Mutated only by ``JobStore`` under its lock."""

    hash: str
    account: Account
    algorithm: Algorithm
    options: dict[str, str]
    submitted: dict[str, str]
    output_format: OutputFormat
    is_demo: bool
    priority: str
    created_at: float
    duration: float
    credits: int
    source_path: Path
    targets: list[StemTarget]
    tags: dict[str, Any] | None
    input_path: Path | None = None
    input_size: int = 0
    #: SHA-256 of the bytes received for the job's file (the target of a matchering pair);
    #: empty for jobs without an upload. An emulator record for tests, not on the wire.
    input_sha256: str = ""
    #: The file name the upload was sent under (MVSEP's slug is made from it).
    input_filename: str = ""
    kind: str = "single_upload"
    gain: float = 1.0
    fail_message: str | None = None
    #: Seconds from ``done`` until every stem is published (set when the job is added).
    publish_span: float = 0.0
    id: int = 0
    ready_at: float = 0.0
    status: str = WAITING
    started_at: float | None = None
    phase_due: float = 0.0
    finished_at: float | None = None
    all_chunks: int = 0
    render_state: str = "pending"
    render_done_at: float | None = None
    render_error: str | None = None
    expired: bool = False
    removed: bool = False
    mirror_charged: bool = False
    token: str = ""

    def __repr__(self) -> str:
        return f"Job({self.hash!r}, status={self.status!r})"


@dataclasses.dataclass(frozen=True)
class JobSnapshot:
    """A consistent, read-only view of a job at one instant."""

    hash: str
    token: str
    status: str
    sep_type: int
    algorithm_name: str
    options: dict[str, str]
    """The ``add_optN`` values as sent (empty strings included)."""
    resolved_options: dict[str, str]
    """The values used: defaults filled in, keyed by ``add_optN``."""
    output_format: int
    created_at: float
    started_at: float | None
    finished_at: float | None
    credits: int
    duration: float
    priority: str
    is_demo: bool
    kind: str
    queue_count: int
    current_order: int
    finished_chunks: int
    all_chunks: int
    message: str | None
    files: tuple[StemTarget, ...]
    """The stems a ``done`` job lists (none yet, early in its publishing)."""
    published: tuple[bool, ...]
    """For each listed stem: exported to storage, so its record has an address."""
    input_name: str | None
    input_size: int
    input_sha256: str
    #: The name the file was uploaded under ("" without an upload).
    received_name: str
    tags: dict[str, Any] | None
    removed: bool
    expired: bool
    history_id: int

    @property
    def exists(self) -> bool:
        """Still answerable by ``separation/get`` (not cancelled, deleted or expired)."""
        return not (self.removed or self.expired)
