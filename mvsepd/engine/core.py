"""The engine: schedules every job through its states, one step at a time, in worker threads.

One thread runs ``tick`` (every second, or sooner when the intake reports a file): it collects
finished files from the intake, decides which jobs get the account's slots, and hands each job
that needs work to a worker. A job is in at most one worker at a time, and each step changes its
state only through ``JobStore.transition``. Uploads, polls and downloads of different jobs run in
parallel; the account never has more unfinished jobs at MVSEP than its plan allows.

On start, jobs left in flight by a previous run are picked up where they stood: ``uploading``
without a hash is reconciled against MVSEP's history, ``submitted`` resumes polling,
``downloading`` resumes its ``.part`` files.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import structlog

from mvsepd import outputs
from mvsepd.config.model import Config
from mvsepd.engine import (
    chainrun,
    fetch,
    ingest,
    late,
    polling,
    reconcile,
    reconfigure,
    remote,
    sending,
)
from mvsepd.engine.context import (
    HOLD_BUDGET,
    HOLD_TOKEN,
    Context,
    FolderRuntime,
    premium_hold_words,
)
from mvsepd.engine.control import EngineControl
from mvsepd.engine.firstwatch import FirstWatch
from mvsepd.engine.maintenance import DAY_SECONDS, Maintenance
from mvsepd.engine.takeover import Takeover
from mvsepd.engine.workers import Workers
from mvsepd.errors import (
    IllegalTransitionError,
    MvsepdError,
    StoreError,
    StoreUnavailableError,
)
from mvsepd.intake import FileStat, Intake, WatchSpec
from mvsepd.models import DeliveryState, HoldKind, JobRecord, JobState

log = structlog.get_logger("mvsepd.engine")

_SUBMITTABLE = (JobState.STABLE, JobState.WAITING_SLOT)
_ATTENTION_STATES = [
    state for state in JobState if not state.terminal and state is not JobState.WAITING_SLOT
]
#: Premium accounts, when the plan's number cannot be asked: the older docs' cap.
PREMIUM_CONCURRENCY = 10
#: How often to look at the intake while files wait out their stability window.
_PENDING_TICK_SECONDS = 0.1


class Engine(EngineControl):
    """Drives jobs from finished files to stems in place."""

    def __init__(self, context: Context, intake: Intake) -> None:
        self.context = context
        self.intake = intake
        self._wake = threading.Event()
        self._workers = Workers(context.settings.workers, self._wake)
        self._maintenance = Maintenance(context, self._workers, self._release_budget_holds)
        self._next_due: float | None = None
        self._takeover = Takeover(context)
        #: Told by the intake whenever it starts watching a folder (``Intake(on_watch_start)``).
        self.first_watch = FirstWatch(context, intake)

    # --- life -------------------------------------------------------------------------------

    def prepare_folders(self) -> None:
        """Clear what earlier runs left in work, upload and staging folders (before intake
        starts: a folder's first watch is recorded by ``first_watch`` when it is watched)."""
        chainrun.sweep_work_dir(self.context)
        sending.sweep(self.context)
        for folder in self.context.folders.values():
            self._sweep_staging(folder.output_root)

    def _sweep_staging(self, root: Path) -> None:
        """Remove what jobs that are over (failed, cancelled, done, forgotten) left staged."""

        def unfinished(job_id: int) -> bool:
            try:
                return not self.context.store.get(job_id).state.terminal
            except StoreError:
                return False

        def waiting(delivery_id: int) -> bool:
            try:
                return self.context.store.delivery(delivery_id).state is DeliveryState.WAITING
            except StoreError:
                return False

        for removed in outputs.sweep_staging(root, unfinished, waiting):
            log.info("staging_removed", folder=str(removed), note="its job is over")

    def is_known(self, folder: Path, relative_path: str, stat: FileStat) -> bool:
        """True when this exact file (path, size, mtime) was already handled."""
        return ingest.is_known(self.context, folder, relative_path, stat)

    def known_files(self, folder: Path) -> dict[str, tuple[int, int]]:
        """Every file of ``folder`` already handled, by relative path: (size, mtime_ns)."""
        return ingest.known_files(self.context, folder)

    def run(
        self,
        stop: threading.Event,
        on_tick: Callable[[], None] | None = None,
        *,
        max_sleep: float | None = None,
    ) -> None:
        """Tick until ``stop`` is set. ``on_tick`` runs after each tick (service watchdog);
        ``max_sleep`` caps the sleep between ticks (the service watchdog's interval).

        Between ticks it sleeps until something can have changed: a watcher's event, a step
        that finished, a control request, the next due poll, retry, supervision or upkeep, or
        (while files are being checked for stability) a short interval; at most
        ``tick_seconds``. Whoever sets ``stop`` must also call ``wake``.
        """
        self.intake.on_event(self._wake.set)
        try:
            while not stop.is_set():
                # Cleared before the tick: a wake-up during it makes the next wait return.
                self._wake.clear()
                try:
                    self.tick()
                except StoreUnavailableError:
                    # Studio mode: the database is away (said once by the studio link); the
                    # intake keeps watching and the next tick tries again.
                    pass
                except MvsepdError as error:
                    log.error("tick_failed", error=str(error))
                if on_tick is not None:
                    on_tick()
                if stop.is_set():
                    break
                sleep = self._sleep_seconds()
                self._wake.wait(sleep if max_sleep is None else min(sleep, max_sleep))
        finally:
            self.intake.on_event(None)
        self._wake.set()

    def _sleep_seconds(self) -> float:
        settings = self.context.settings
        sleep = min(settings.tick_seconds, self.intake.seconds_until_due())
        if self.intake.arriving():
            # A stability window may end at any moment; look often, it costs a few stats.
            # At the end of its window, exactly.
            sleep = min(sleep, _PENDING_TICK_SECONDS, self.intake.seconds_until_arrival_due())
        now = self.context.clock()
        for due in (self._next_due, self._maintenance.next_deadline()):
            if due is not None:
                sleep = min(sleep, max(0.0, due - now))
        return sleep

    def shutdown(self, timeout: float) -> bool:
        """Stop taking new work and wait up to ``timeout`` s; return True if all work ended."""
        self.context.stopping.set()
        return self._workers.shutdown(timeout)

    # --- one pass ---------------------------------------------------------------------------

    def tick(self) -> None:
        """Collect finished files and give every job that needs work to a worker."""
        if self.context.stopping.is_set():
            return
        self._maintenance.tick()
        self._takeover.tick()
        for ready in self.intake.take_ready():
            self._workers.submit(
                None, ready.path, functools.partial(ingest.ingest, self.context, ready)
            )
        for closed in self.intake.take_closed():
            # Likely complete: its hash is taken now, so the upload starts once it is ready.
            self._workers.submit_task(
                f"hash {closed}",
                functools.partial(self.context.hashes.early, closed, self.intake.reading),
            )
        self._schedule()

    def _schedule(self) -> None:
        context = self.context
        store = context.store
        now = context.clock()
        # Jobs waiting for a slot can be thousands (a folder of bounces on the free plan); only
        # as many as there are free slots are read each tick, or every tick would cost O(jobs).
        # In a studio every host's jobs hold the account's slots; each host works on its own.
        jobs = store.jobs(_ATTENTION_STATES)
        slots_used = sum(1 for job in jobs if job.state.occupies_slot)
        jobs = [job for job in jobs if store.owns(job)]
        self._next_due = min(
            (
                job.next_attempt_at
                for job in jobs
                if job.next_attempt_at is not None
                and job.state
                in (
                    JobState.SUBMITTED,
                    JobState.PUBLISHING,
                    JobState.RETRY_WAIT,
                    JobState.UPLOADING,
                )
            ),
            default=None,
        )
        if store.host_id is not None:
            due = self._takeover.due
            self._next_due = min(self._next_due or due, due)
        slots = self.concurrency()
        free_slots = slots - slots_used
        if free_slots > 0:
            jobs += store.jobs([JobState.WAITING_SLOT], limit=free_slots, mine=True)
            jobs.sort(key=lambda job: job.id)
        ready = [job for job in jobs if not self._workers.busy(job.id) and self._dispatch(job, now)]
        self._assign_slots(ready, free_slots, now)
        self._dispatch_late_deliveries(now)

    def _dispatch_late_deliveries(self, now: float) -> None:
        """Deliveries of jobs that are done already: the same input dropped again, a chain
        that reuses a finished job."""
        context = self.context
        for delivery in context.store.late_deliveries():
            if not context.store.reachable(delivery.folder_path):
                continue  # a folder of another studio host alone: that host places it
            due = context.delivery_retry_at.get(delivery.id)
            if due is not None and due > now:
                self._next_due = min(self._next_due or due, due)
                continue
            self._workers.submit(
                delivery.job_id, None, functools.partial(late.late_step, context, delivery)
            )

    def _dispatch(self, job: JobRecord, now: float) -> bool:
        """Hand a job that needs work to a worker; return True if it waits for a slot instead."""
        context = self.context
        state = job.state
        if state is JobState.DISCOVERED:
            # Keyed by its file too: the worker that found the file and made this job is
            # probing it already, and a second probe would race it to the same transition.
            self._workers.submit(
                job.id,
                Path(job.source_path),
                self._fresh(job, functools.partial(ingest.probe, context)),
            )
        elif state in _SUBMITTABLE:
            return True
        elif state is JobState.UPLOADING:
            if job.next_attempt_at is None or job.next_attempt_at <= now:
                self._workers.submit(
                    job.id, None, self._fresh(job, functools.partial(reconcile.reconcile, context))
                )
        elif job.id in context.cancel_requested and job.separation_hash:
            self._workers.submit(job.id, None, functools.partial(self._cancel_now, job))
        elif state in (JobState.SUBMITTED, JobState.PUBLISHING):
            if job.next_attempt_at is None or job.next_attempt_at <= now:
                self._workers.submit(job.id, None, self._fresh(job, self._poll_then_fetch))
        elif state is JobState.DOWNLOADING:
            self._workers.submit(
                job.id, None, self._fresh(job, functools.partial(fetch.download, context))
            )
        elif state is JobState.RETRY_WAIT:
            if job.next_attempt_at is None or job.next_attempt_at <= now:
                self._resume(job)
        elif state is JobState.HELD:
            self._maybe_release(job, now)
        return False

    def _fresh(self, job: JobRecord, step: Callable[[JobRecord], object]) -> Callable[[], object]:
        """Return the work for ``job``: ``step``, only if the job is still as the scheduler read it.

        The scheduler's read may be stale by the time a worker starts: a worker that held the
        job can have moved it on, or put off its next poll, and let go of it in between. Run
        anyway, the step downloaded a finished job's stems a second time (and placed them as
        "(2)" copies), probed a file twice, or polled again at once after a failed poll. A job
        that changed is left to the next tick, which decides on the record as it is now.
        """

        def run() -> object:
            current = self.context.store.get(job.id)
            if current != job:
                return current
            return step(current)

        return run

    def _assign_slots(self, ready: Sequence[JobRecord], free_slots: int, now: float) -> None:
        context = self.context
        paused = context.store.flag("paused") is not None
        budget = context.config.limits.daily_credit_budget
        committed = (
            context.store.credits_committed_since(now - now % DAY_SECONDS)
            if budget is not None
            else 0
        )
        for job in ready:
            if paused:
                continue
            if not context.account.token_valid:
                self._transition(job, JobState.HELD, reason=HOLD_TOKEN, hold_kind=HoldKind.TOKEN)
                continue
            needs = context.premium_needs(job.sep_type)
            if needs and context.account.is_free():
                # MVSEP would refuse it after the upload; it waits for premium usage instead.
                self._transition(
                    job,
                    JobState.HELD,
                    reason=premium_hold_words(needs),
                    hold_kind=HoldKind.PREMIUM,
                )
                continue
            estimate = job.credits_estimate or 0
            if (
                budget is not None
                and context.account.spends_credits()
                and committed + estimate > budget
            ):
                self._transition(
                    job,
                    JobState.HELD,
                    reason=f"{HOLD_BUDGET} ({committed} of {budget} credits committed "
                    f"today; this job needs about {estimate})",
                    hold_kind=HoldKind.BUDGET,
                )
                continue
            if free_slots <= 0:
                self._wait_for_slot(job)
                continue
            if not self._workers.claim(job.id):
                continue
            try:
                uploading = context.store.claim_slot(
                    job.id,
                    limit=self.concurrency(),
                    upload_started_at=now,
                    server=context.client.server,
                    next_attempt_at=None,
                    reason=None,
                )
            except (IllegalTransitionError, StoreError):
                self._workers.release(job.id)
                continue
            if uploading is None:  # another host of the studio took the last slot
                self._workers.release(job.id)
                free_slots = 0
                self._wait_for_slot(job)
                continue
            free_slots -= 1
            committed += estimate
            context.feed.bump()
            self._workers.submit(
                job.id,
                None,
                functools.partial(remote.upload, self.context, uploading),
                already_claimed=True,
            )

    def _wait_for_slot(self, job: JobRecord) -> None:
        if job.state is JobState.STABLE:
            self._transition(
                job,
                JobState.WAITING_SLOT,
                reason="waiting for a free slot (the plan allows "
                f"{self.concurrency()} unfinished job(s) at once)",
            )

    def _resume(self, job: JobRecord) -> None:
        target = job.resume_state or JobState.STABLE
        self._transition(job, target, next_attempt_at=None)

    def _maybe_release(self, job: JobRecord, now: float) -> None:
        context = self.context
        kind = job.hold_kind
        if kind is HoldKind.TOKEN and context.account.token_valid:
            self._transition(job, JobState.STABLE, reason=None)
        elif kind is HoldKind.PREMIUM and not (
            context.account.is_free() and context.premium_needs(job.sep_type)
        ):
            # Premium usage was turned on (or the catalog no longer marks the model).
            self._transition(job, JobState.STABLE, reason=None)
        elif kind is HoldKind.BUDGET and context.config.limits.daily_credit_budget is None:
            # The budget was removed from the configuration; a new day releases the others.
            self._transition(job, JobState.STABLE, reason=None)

    def _poll_then_fetch(self, job: JobRecord) -> None:
        polled = polling.poll(self.context, job)
        if polled.state is JobState.DOWNLOADING and not self.context.stopping.is_set():
            fetch.download(self.context, polled)
        self._wake.set()

    def _release_budget_holds(self) -> None:
        for job in self.context.store.jobs([JobState.HELD]):
            if job.hold_kind is HoldKind.BUDGET:
                self._transition(job, JobState.STABLE, reason=None)

    def reconfigure(
        self,
        config: Config,
        folders: Mapping[Path, FolderRuntime],
        specs: Sequence[WatchSpec],
    ) -> reconfigure.Applied:
        """Apply a new configuration now, without a restart (``engine.reconfigure``)."""
        applied = reconfigure.apply(self.context, self.intake, config, folders, specs)
        self.wake()
        return applied

    def refresh_account(self) -> None:
        """Ask MVSEP who we are now (also done periodically in the background)."""
        self._maintenance.refresh_account()

    # --- plan concurrency --------------------------------------------------------------------

    def concurrency(self) -> int:
        """Unfinished jobs allowed at MVSEP now: the plan's number, capped by the user's limit."""
        context = self.context
        configured = context.config.account.concurrency
        if configured == "auto":
            user = context.account.user
            slots = PREMIUM_CONCURRENCY if user is not None and user.is_premium else 1
        else:
            slots = int(configured)
        limit = context.config.limits.max_concurrent_jobs
        return min(slots, limit) if limit is not None else slots
