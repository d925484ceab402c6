"""What every engine step needs: the adapters, the folders and presets, the account, live progress.

Steps run in worker threads; each works on one job at a time (the scheduler guarantees it) and
changes job states only through ``JobStore.transition``. Everything mutable here is guarded.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import os
import random
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import structlog

from mvsepd import outputs
from mvsepd.api import MvsepClient
from mvsepd.config.model import Config, FolderConfig, PlansConfig
from mvsepd.domain import lifecycle, naming
from mvsepd.domain.chains import ChainPlan, plan_chain
from mvsepd.domain.plans import PlanLimits
from mvsepd.domain.presets import InputKind, PresetProblem, ResolvedPreset, fetched_format, resolve
from mvsepd.engine.catalog import CatalogCache
from mvsepd.engine.feed import ChangeFeed
from mvsepd.engine.hashes import ContentHashes
from mvsepd.engine.pollbudget import PollBudget
from mvsepd.models import (
    FailureKind,
    JobRecord,
    JobState,
    OutputFormat,
    SeparationStatus,
    UserInfo,
)
from mvsepd.store import SqlJobStore

log = structlog.get_logger("mvsepd.engine")

ALL_KINDS = frozenset(InputKind)

#: MVSEP deletes results about 72 hours after a job was created.
RESULT_LIFETIME_SECONDS = 72 * 3600

#: Reasons of held jobs start with these words; the scheduler releases each kind on its own.
HOLD_BUDGET = "daily credit budget reached"
HOLD_TOKEN = "MVSEP refused the API token"  # noqa: S105 (a message, not a credential)
HOLD_PREMIUM = "needs a premium MVSEP account"


def premium_hold_words(needs: list[str]) -> str:
    """The reason of a job held for premium (it starts with ``HOLD_PREMIUM``)."""
    return (
        f"{HOLD_PREMIUM}: {'; '.join(needs)}. Turn on premium usage at mvsep.com (with credits) "
        "and it is sent, or give the folder a preset without them"
    )


@dataclass(frozen=True)
class EngineSettings:
    """Tunables of the engine (defaults suit the real MVSEP; tests shorten them)."""

    workers: int = 4
    #: The longest the engine sleeps when nothing is due (a safety net: every deadline and
    #: every event wakes it on its own).
    tick_seconds: float = 60.0
    poll_first_seconds: float = lifecycle.POLL_FIRST_SECONDS
    poll_max_seconds: float = lifecycle.POLL_MAX_SECONDS
    account_refresh_seconds: float = 600.0
    token_recheck_seconds: float = 300.0
    #: ``not_found`` right after a create may be a replica lagging; give up after this many.
    not_found_tolerance: int = 5
    #: How far around the upload start a lost create is looked for in the history.
    reconcile_window_seconds: float = 600.0
    #: History pages (20 entries each) searched for a lost create.
    reconcile_pages: int = 3
    #: A lost create may still be in the server's hands; absence counts only after this long.
    lost_upload_grace_seconds: float = 60.0
    #: Result files of one job fetched at the same time: one link's rate is shared either way,
    #: so one at a time brings each in soonest (and it is conformed while the next comes).
    parallel_downloads: int = 1
    #: How long MVSEP may take to publish a finished job's stems before the job is left
    #: ``unpublished`` for the user's ``retry`` (``daemon.publish_wait_minutes``).
    publish_wait_seconds: float = 30 * 60.0

    @property
    def poll_near_seconds(self) -> float:
        """The spacing of looks at a job that may be done any moment (2 s at the real
        intervals; in proportion where tests and benchmarks scale them): the first look after
        a create, and those near a processing job's expected end."""
        return (
            lifecycle.POLL_NEAR_DONE_SECONDS
            * self.poll_first_seconds
            / lifecycle.POLL_FIRST_SECONDS
        )


@dataclass(frozen=True)
class FolderRuntime:
    """A configured hot folder with its resolved paths."""

    config: FolderConfig
    path: Path
    output_root: Path


@dataclass
class LiveProgress:
    """Bytes moved by an upload or download in flight (kept in memory; shown in status)."""

    phase: str
    done: int
    total: int


MEBIBYTE = 1024 * 1024


class AccountState:
    """What is known of the MVSEP account: plan, credits, whether the token works."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.user: UserInfo | None = None
        self.checked_at: float | None = None
        self.token_problem: str | None = None
        self.token_checked_at: float | None = None

    def update(
        self, *, user: UserInfo | None = None, token_problem: str | None, now: float
    ) -> bool:
        """Record a check; return True when the token changed between valid and invalid."""
        with self._lock:
            changed = (self.token_problem is None) != (token_problem is None)
            if user is not None:
                self.user = user
                self.checked_at = now
            self.token_problem = token_problem
            self.token_checked_at = now
            return changed

    @property
    def token_valid(self) -> bool:
        """False once MVSEP refused the token, until a later check succeeds."""
        with self._lock:
            return self.token_problem is None

    def plan(self, plans: PlansConfig) -> PlanLimits | None:
        """The limits of the account's plan (None until MVSEP said which plan it is)."""
        with self._lock:
            user = self.user
        return None if user is None else plans.limits(premium=user.is_premium)

    def max_upload_bytes(self, configured: str | float, plans: PlansConfig) -> int | None:
        """The largest upload the account takes (None: not known yet): the configured MB, else
        the account's plan's."""
        if configured != "auto":
            return int(float(configured) * MEBIBYTE)
        plan = self.plan(plans)
        return None if plan is None else plan.max_bytes

    def is_free(self) -> bool:
        """True when MVSEP said the account uses the free queue (False while not known)."""
        with self._lock:
            return self.user is not None and not self.user.is_premium

    def spends_credits(self) -> bool:
        """True unless the account is known to use the free queue."""
        with self._lock:
            return self.user is None or self.user.is_premium


@dataclass
class Context:
    """Shared state of one engine."""

    config: Config
    store: SqlJobStore
    client: MvsepClient
    catalog: CatalogCache
    clock: Callable[[], float] = time.time
    settings: EngineSettings = field(default_factory=EngineSettings)
    rng: random.Random = field(default_factory=random.Random)
    feed: ChangeFeed = field(default_factory=ChangeFeed)
    #: Studio mode: why the database cannot be reached now (None while it answers).
    studio_outage: str | None = None
    account: AccountState = field(default_factory=AccountState)
    folders: dict[Path, FolderRuntime] = field(default_factory=dict)
    presets: dict[str, ResolvedPreset | PresetProblem] = field(default_factory=dict)
    chains: dict[str, ChainPlan | PresetProblem] = field(default_factory=dict)
    #: Where stems fed from one chain step to the next wait (content-addressed, local).
    work_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()) / "mvsepd-work")
    #: Where a file being sent as FLAC is encoded (local; removed after the upload).
    upload_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()) / "mvsepd-uploads")
    live: dict[int, LiveProgress] = field(default_factory=dict)
    finished_status: dict[int, SeparationStatus] = field(default_factory=dict)
    not_found_counts: dict[int, int] = field(default_factory=dict)
    #: How many stems, all with an address, the last look at a publishing job found.
    published_counts: dict[int, int] = field(default_factory=dict)
    #: When this process last stopped sending a job's upload without learning its outcome.
    sends_ended: dict[int, float] = field(default_factory=dict)
    cancel_requested: set[int] = field(default_factory=set)
    #: The SHA-256 of hot folders' files, by version, taken early where it can be.
    hashes: ContentHashes = field(default_factory=ContentHashes)
    #: The planned moments of every job's status polls (MVSEP's rate limit, all jobs together).
    poll_budget: PollBudget = field(default_factory=PollBudget)
    #: Deliveries of done jobs that failed for a passing reason, and when to try again.
    delivery_retry_at: dict[int, float] = field(default_factory=dict)
    delivery_attempts: dict[int, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)
    started_at: float = field(default_factory=time.time)
    #: When the daemon began waiting for each folder added to its configuration while it ran
    #: (the others: since ``started_at``): what was written into it before was there before.
    folders_added_at: dict[Path, float] = field(default_factory=dict)
    #: Where this daemon's log goes, in words ("the log file ~/.local/state/..."): a job that
    #: failed on an internal error says where its traceback is.
    log_location: str = "mvsepd's log"
    _conversions: concurrent.futures.ThreadPoolExecutor | None = None

    def waiting_since(self, folder: Path) -> float:
        """When the daemon began waiting for ``folder``, on its clock (files' modification
        times are compared with it)."""
        return self.folders_added_at.get(folder, self.started_at)

    def conversion_pool(self) -> concurrent.futures.ThreadPoolExecutor:
        """Where stems are conformed: as many at once as the machine has cores, over every job
        (each conversion works block by block, so memory stays flat); threads made on first use."""
        with self.lock:
            if self._conversions is None:
                self._conversions = concurrent.futures.ThreadPoolExecutor(
                    max_workers=os.cpu_count() or 1, thread_name_prefix="mvsepd-convert"
                )
            return self._conversions

    def __post_init__(self) -> None:
        # MVSEP's minute, in proportion where tests and benchmarks scale every interval down.
        scale = self.settings.poll_first_seconds / lifecycle.POLL_FIRST_SECONDS
        self.poll_budget = PollBudget(minute=60.0 * scale)

    def judge(self, error: BaseException, job_id: int, file_name: str) -> lifecycle.ErrorVerdict:
        """What an error raised while working on a job means (``lifecycle.judge_error``).

        An internal error (a defect of mvsepd, not a failure of MVSEP, the network or the
        disk) is logged here, once, with its traceback; its reason says where that is.
        """
        verdict = lifecycle.judge_error(error)
        if not verdict.internal:
            return verdict
        log.error(
            "internal_error",
            job=job_id,
            file=file_name,
            error=f"{type(error).__name__}: {error}",
            exc_info=error,
        )
        return lifecycle.ErrorVerdict(
            verdict.outcome,
            f"{verdict.reason} (a defect of mvsepd; the traceback is in {self.log_location})",
            verdict.kind,
            internal=True,
        )

    def resolve_presets(self) -> None:
        """Resolve every preset and chain against the catalog at hand (numeric ones work
        without it). A folder's preset may take uploads, prompts or matchering pairs; a text
        the preset leaves out comes with each file."""
        presets, chains = self.resolved(self.config)
        with self.lock:
            self.presets = presets
            self.chains = chains

    def resolved(
        self, config: Config
    ) -> tuple[dict[str, ResolvedPreset | PresetProblem], dict[str, ChainPlan | PresetProblem]]:
        """``config``'s presets and chains resolved against the catalog at hand, without
        making them the engine's (``resolve_presets`` does)."""
        algorithms = self.catalog.algorithms
        resolved: dict[str, ResolvedPreset | PresetProblem] = {}
        specs = config.preset_specs()
        for name, spec in specs.items():
            try:
                resolved[name] = resolve(spec, algorithms, kinds=ALL_KINDS, text_from_file=True)
            except PresetProblem as problem:
                resolved[name] = problem
        chains: dict[str, ChainPlan | PresetProblem] = {}
        for name, chain in config.chains.items():
            try:
                chains[name] = plan_chain(name, chain, specs, algorithms)
            except PresetProblem as problem:
                chains[name] = problem
        return resolved, chains

    def chain(self, name: str) -> ChainPlan | PresetProblem | None:
        """Return a resolved chain, the problem that keeps it from being used, or None when
        ``name`` is not a chain."""
        with self.lock:
            return self.chains.get(name)

    @property
    def loopback_links_allowed(self) -> bool:
        """Links to this machine are fetched only by a MVSEP on this machine (the emulator)."""
        server = urlsplit(self.client.server).hostname or ""
        try:
            return server == "localhost" or ipaddress.ip_address(server).is_loopback
        except ValueError:
            return False

    def premium_needs(self, sep_type: int | None) -> list[str]:
        """What of a model needs a premium account, in words (per ``account.plans``; empty
        when nothing, or when the catalog is not at hand)."""
        algorithms = self.catalog.algorithms
        algorithm = None
        if algorithms and sep_type is not None:
            algorithm = next((a for a in algorithms if a.render_id == sep_type), None)
        return self.config.account.plans.premium_rules().needs(algorithm)

    def presets_needing_premium(self) -> dict[str, list[str]]:
        """Each preset a folder uses that needs (or may need) a premium account, with what."""
        with self.lock:
            presets = dict(self.presets)
        used = {name for folder in self.folders.values() for name in folder.config.preset_names}
        found: dict[str, list[str]] = {}
        for name in sorted(used):
            preset = presets.get(name)
            if isinstance(preset, ResolvedPreset):
                needs = self.premium_needs(preset.sep_type)
                warning = self.config.account.plans.premium_rules().format_warning(
                    preset.output_format
                )
                if needs or warning:
                    found[name] = needs + ([warning] if warning else [])
        return found

    def preset(self, name: str) -> ResolvedPreset | PresetProblem:
        """Return a resolved preset, or the problem that keeps it from being used."""
        with self.lock:
            found = self.presets.get(name)
        return found if found is not None else PresetProblem(f'no preset named "{name}"')

    def set_live(self, job_id: int, phase: str, done: int, total: int) -> None:
        """Record upload/download progress for the status view."""
        with self.lock:
            self.live[job_id] = LiveProgress(phase, done, total)

    def live_reporter(self, job_id: int, phase: str) -> Callable[[int, int], None]:
        """A progress callback for one transfer: records it for the status view and tells
        status clients at most twice a second (and at the end)."""
        last_bump = [0.0]

        def report(done: int, total: int) -> None:
            self.set_live(job_id, phase, done, total)
            now = time.monotonic()
            if now - last_bump[0] >= 0.5 or done >= total:
                last_bump[0] = now
                self.feed.bump()

        return report

    def clear_live(self, job_id: int) -> None:
        """Forget a job's transfer progress."""
        with self.lock:
            self.live.pop(job_id, None)

    def fail(self, job: JobRecord, reason: str, *, kind: FailureKind) -> JobRecord:
        """Move a job to ``failed`` with the reason and what it needs (``kind``), log it once,
        and tell status clients.

        Whatever the job had staged goes: a failed job leaves no half-fetched files behind.
        """
        # Staged files go first: once the job reads "failed", nothing of it is left.
        outputs.discard(outputs.staging_dir(self.output_root(job), job.id, job.lease_epoch))
        for delivery in self.store.deliveries(job.id):
            root = self.output_root_of(delivery.folder_path)
            outputs.discard(outputs.delivery_staging_dir(root, delivery.id))
        failed = self.store.transition(job.id, JobState.FAILED, reason=reason, failure_kind=kind)
        self.store.fail_deliveries_of(job.id, reason)
        self.feed.bump()
        log.warning(
            "job_failed",
            job=job.id,
            file=Path(job.source_path).name,
            reason=reason,
            needs=kind.value,
        )
        return failed

    def retry_later(
        self,
        job: JobRecord,
        *,
        resume: JobState,
        words: str,
        delay: float | None = None,
        event: str = "retry_scheduled",
    ) -> JobRecord:
        """Put a job in ``retry_wait`` to resume at ``resume`` after a backoff that grows with
        each attempt (or after ``delay``); ``words`` say why, the wait is added to them."""
        attempts = job.attempts + 1
        if delay is None:
            delay = lifecycle.retry_delay(attempts, rng=self.rng)
        waiting = self.store.transition(
            job.id,
            JobState.RETRY_WAIT,
            expected=job.state,
            resume_state=resume,
            attempts=attempts,
            next_attempt_at=self.clock() + delay,
            reason=f"{words}; trying again in {delay:.0f} s",
        )
        self.feed.bump()
        log.info(
            event, job=job.id, file=Path(job.source_path).name, reason=words, delay=round(delay)
        )
        return waiting

    def folder_for(self, folder_path: str) -> FolderRuntime | None:
        """Return the runtime folder a job came from, if it is still configured."""
        return self.folders.get(Path(folder_path))

    def fetched_format(self, asked: OutputFormat, folder_path: str) -> OutputFormat:
        """What MVSEP is asked for when a preset asking ``asked`` runs for this folder (see
        ``presets.fetched_format``): WAV 16 comes as FLAC 16 where the stems are conformed."""
        folder = self.folder_for(folder_path)
        settings = self.config.folder_settings(folder.config) if folder else self.config.defaults
        return fetched_format(
            asked,
            conforms=settings.conform == "source",
            keeps_mvsep_files=settings.keep_mvsep_files,
        )

    def output_root(self, job: JobRecord) -> Path:
        """Where a job's stems go: its folder's output root, or the default layout's when the
        folder left the configuration while the job ran."""
        return self.output_root_of(job.folder_path)

    def output_root_of(self, folder_path: str) -> Path:
        """A hot folder's output root (the default layout's for a folder no longer configured)."""
        folder = self.folder_for(folder_path)
        if folder is not None:
            return folder.output_root
        return naming.output_root(
            naming.DEFAULT_OUTPUT_TEMPLATE,
            parent=Path(folder_path).parent,
            folder=Path(folder_path).name,
        )
