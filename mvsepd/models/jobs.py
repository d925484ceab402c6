"""The daemon's job states. The allowed transitions between them live in
``mvsepd.domain.lifecycle``."""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any


class JobState(str, enum.Enum):
    """Where a job stands in mvsepd (not at MVSEP: see ``RemoteStatus`` for that).

    Stored as text in the job store, so values never change meaning.
    """

    #: A finished, hashed file was recorded; its audio is not probed yet.
    DISCOVERED = "discovered"
    #: Probed and priced; ready to be submitted.
    STABLE = "stable"
    #: Ready, but the account has no free slot (free plan: one unfinished job).
    WAITING_SLOT = "waiting_slot"
    #: The upload (create request) is in flight; the outcome is not recorded yet.
    UPLOADING = "uploading"
    #: MVSEP accepted the job and its hash is stored; polling.
    SUBMITTED = "submitted"
    #: MVSEP says done, but has not listed every stem with an address yet (it exports them to
    #: its storage after the model ran; usually at once, under load for minutes); polling.
    PUBLISHING = "publishing"
    #: MVSEP finished; stems are being fetched.
    DOWNLOADING = "downloading"
    #: Every stem and the manifest are in place.
    DONE = "done"
    #: A transient failure; the job resumes at ``resume_state`` after ``next_attempt_at``.
    RETRY_WAIT = "retry_wait"
    #: Not submitted for a reason the user can lift (daily budget, invalid token).
    HELD = "held"
    #: A permanent failure with its reason; only ``mvsepd retry`` starts it again.
    FAILED = "failed"
    #: The user cancelled it.
    CANCELLED = "cancelled"
    #: MVSEP said done but did not publish every stem within ``publish_wait_minutes``. Not a
    #: failure: the job was paid and MVSEP keeps it; ``mvsepd retry`` asks MVSEP again, no
    #: upload.
    UNPUBLISHED = "unpublished"

    @property
    def terminal(self) -> bool:
        """True when the daemon will not touch the job again on its own."""
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED, JobState.UNPUBLISHED)

    @property
    def occupies_slot(self) -> bool:
        """True while the job counts against the account's unfinished-job limit at MVSEP."""
        return self in (JobState.UPLOADING, JobState.SUBMITTED)


class FailureKind(str, enum.Enum):
    """What a failed job needs from the user. Stored as text in the job store."""

    #: The input itself: not audio, damaged, longer or larger than the plan takes, gone.
    FILE = "file"
    #: The configuration or the account: a premium-only model, an option MVSEP refuses.
    SETTINGS = "settings"
    #: MVSEP or the way there: trying again can help (``mvsepd retry``).
    SERVICE = "service"


class HoldKind(str, enum.Enum):
    """Why a job is held, and so what releases it. Stored as text in the job store."""

    #: MVSEP refused the API token: released when a request with it works again.
    TOKEN = "token"  # noqa: S105 (a kind of hold, not a credential)
    #: The daily credit budget is reached: released on a new day or without a budget.
    BUDGET = "budget"
    #: A premium-only model on a free account: released when premium usage is on.
    PREMIUM = "premium"


@dataclass(frozen=True)
class JobRecord:
    """One job as the store keeps it. Times are epoch seconds (UTC)."""

    id: int
    content_sha256: str
    preset_fingerprint: str
    preset_name: str
    folder_path: str
    source_path: str
    source_size: int | None
    state: JobState
    resume_state: JobState | None
    reason: str | None
    attempts: int
    next_attempt_at: float | None
    sep_type: int | None
    options: Mapping[str, str]
    output_format: int | None
    server: str | None
    separation_hash: str | None
    upload_started_at: float | None
    remote_status: str | None
    queue_count: int | None
    current_order: int | None
    finished_chunks: int | None
    all_chunks: int | None
    progress_done: int | None
    progress_total: int | None
    duration_seconds: float | None
    credits_estimate: int | None
    output_dir: str | None
    created_at: float
    updated_at: float
    finished_at: float | None
    polls: int = 0
    #: JSON: what the source's audio is (``mvsepd.audio.SourceAudio``), recorded when probed.
    source_audio: str | None = None
    #: What is sent: ``file`` (an upload of ``source_path``), ``url``, ``prompt`` (no upload),
    #: ``matchering`` (a target and a reference). Details in ``input_json``.
    input_kind: str = "file"
    input_json: str | None = None
    #: The short hash of a URL create, until MVSEP gives the real one.
    remote_hash: str | None = None
    #: A chain step's parent job and the stem of it that this job takes as input.
    parent_job_id: int | None = None
    from_stem: str | None = None
    #: Credits set aside for a whole chain when its first step was priced (None: the estimate).
    credits_reserved: int | None = None
    #: JSON: how the file is sent (``encoding``, ``name``, ``bytes``), decided before the upload.
    upload_json: str | None = None
    #: Downloads refused as larger than MVSEP announced (the job fails at a few).
    oversize_downloads: int = 0
    #: Studio mode: the host that works on the job, and its lease number (each takeover adds
    #: one; a write under an older number is refused). One machine: None and 0.
    owner_host: str | None = None
    lease_epoch: int = 0
    #: How often the user started the job again (``mvsepd retry``); a manifest records the
    #: attempt that wrote it, so a retried job places its stems again instead of taking the
    #: earlier attempt's for its own.
    retries: int = 0
    #: When MVSEP first said done without every stem published (the wait's start).
    publish_started_at: float | None = None
    #: What a failed job needs: a fixed file, fixed settings, or another try (None: not
    #: failed, or failed before mvsepd told the kinds apart, read as another try).
    failure_kind: FailureKind | None = None
    #: Why a held job waits (None: not held).
    hold_kind: HoldKind | None = None
    #: JSON: when each step happened, by name (epoch seconds; see ``timings``).
    timings_json: str | None = None

    @property
    def input(self) -> Mapping[str, Any]:
        """``input_json`` read (empty for a plain file upload)."""
        if not self.input_json:
            return {}
        value = json.loads(self.input_json)
        return value if isinstance(value, dict) else {}

    @property
    def upload(self) -> Mapping[str, Any]:
        """``upload_json`` read (empty until the upload was prepared)."""
        if not self.upload_json:
            return {}
        value = json.loads(self.upload_json)
        return value if isinstance(value, dict) else {}

    @property
    def timings(self) -> dict[str, float]:
        """When each step of the job happened (epoch seconds): ``ready`` (the file judged
        complete), ``upload_began``, ``submitted``, ``done_seen`` (MVSEP said done),
        ``published`` (every stem listed), ``downloaded``, ``converted``, ``placed``."""
        if not self.timings_json:
            return {}
        value = json.loads(self.timings_json)
        return {str(k): float(v) for k, v in value.items()} if isinstance(value, dict) else {}

    def with_timings(self, **moments: float) -> str:
        """``timings_json`` with ``moments`` added (for a write of the job)."""
        return json.dumps({**self.timings, **moments}, sort_keys=True)

    @property
    def source_name(self) -> str:
        """The name of the file the user dropped (a chain step's: the file that started it)."""
        root = self.input.get("root_path")
        return PurePath(str(root) if root else self.source_path).name


class DeliveryState(str, enum.Enum):
    """Where one placing of a job's results stands."""

    WAITING = "waiting"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class DeliveryRecord:
    """One place a job's results go: the drop that made the job, the same audio dropped in a
    second place, or a step of a chain run (``chain`` and ``step`` set; ``source_path`` is then
    the file that started the chain). Empty ``chain``/``step`` for a plain preset."""

    id: int
    job_id: int
    folder_path: str
    source_path: str
    preset_name: str
    chain: str
    step: str
    parent_delivery_id: int | None
    state: DeliveryState
    reason: str | None
    output_dir: str | None
    created_at: float
    updated_at: float

    @property
    def source_name(self) -> str:
        """The original file's name."""
        return PurePath(self.source_path).name
