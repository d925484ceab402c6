"""Separation jobs: the queue, the state machine and result rendering, driven by the clock.

States [DOC/REC]: ``waiting`` → ``processing`` → ``done``; long inputs ``waiting`` →
``distributing`` (with ``finished_chunks``/``all_chunks``) → ``merging`` → ``done``; or →
``failed``. A job leaves ``waiting`` no earlier than ``queue_seconds`` after creation and only
when one of the ``workers`` slots is free; premium jobs are served before registered ones, then
first come first served. Processing lasts ``processing_seconds`` (+ ``merging_seconds`` for
distributed jobs) *and* until its files are rendered (in a worker thread). A ``done`` job then
publishes its stems over its ``publish_span``: no files listed for the first share of it, then
every record with an empty address, filled one by one. ``done``/``failed`` jobs expire
``retention_hours`` after creation.

The machine is advanced lazily: ``tick()`` replays every transition that is due by the clock's
current time, in time order, with the time stamps it would have had (so a test can jump a
``ManualClock`` forward by hours). Everything is guarded by one lock.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mvsepd.emulator.accounts import Account, AccountStore
from mvsepd.emulator.records import (
    ACTIVE,
    DISTRIBUTING,
    DONE,
    FAILED,
    MERGING,
    PROCESSING,
    RENDER_FAILED_MESSAGE,
    UNFINISHED,
    WAITING,
    Job,
    JobSnapshot,
)
from mvsepd.emulator.render import StemTarget, render
from mvsepd.emulator.settings import EmulatorSettings
from mvsepd.emulator.transcripts import MIDI, result_kind, write_midi, write_text

__all__ = [
    "ACTIVE",
    "DISTRIBUTING",
    "DONE",
    "FAILED",
    "MERGING",
    "PROCESSING",
    "UNFINISHED",
    "WAITING",
    "Job",
    "JobSnapshot",
    "JobStore",
]


class JobStore:
    """All jobs, their queue and their rendering. Thread-safe."""

    def __init__(
        self,
        settings: EmulatorSettings,
        clock: Callable[[], float],
        accounts: AccountStore,
        ffmpeg: str | None,
        slow_publish: Callable[[], float | None] = lambda: None,
    ) -> None:
        self._settings = settings
        #: Asked once per new job: a publishing time of its own (the ``slow_publish`` fault).
        self._slow_publish = slow_publish
        self._publish_random = random.Random(settings.seed)
        self._clock = clock
        self._accounts = accounts
        self._ffmpeg = ffmpeg
        self.lock = threading.RLock()
        self._jobs: dict[str, Job] = {}
        self._order: list[Job] = []
        self._free_slots = [-math.inf] * settings.workers
        self._creates: dict[str, int] = {}
        self._refusals: dict[str, dict[str, int]] = {}
        self._peak_unfinished: dict[str, int] = {}
        self._executor = ThreadPoolExecutor(settings.workers, thread_name_prefix="emulator-render")
        self._closed = False

    # ---- creation and limits -------------------------------------------------------------

    def unfinished(self, account: Account) -> int:
        with self.lock:
            return sum(
                1
                for job in self._order
                if job.account is account and job.status in UNFINISHED and not job.removed
            )

    def add(self, job: Job) -> Job:
        """Insert a fully built job (the caller checked limits under ``lock``)."""
        with self.lock:
            if job.hash in self._jobs:
                raise ValueError("duplicate separation hash")
            job.id = len(self._order) + 1
            job.token = job.account.token
            job.ready_at = job.created_at + self._settings.queue_seconds
            job.publish_span = self._publish_span()
            self._jobs[job.hash] = job
            self._order.append(job)
            self._creates[job.token] = self._creates.get(job.token, 0) + 1
            now_unfinished = self.unfinished(job.account)
            peak = self._peak_unfinished.get(job.token, 0)
            self._peak_unfinished[job.token] = max(peak, now_unfinished)
        self.tick()
        return job

    def _publish_span(self) -> float:
        slow = self._slow_publish()
        if slow is not None:
            return slow
        jitter = self._settings.publish_jitter
        factor = 1.0 + self._publish_random.uniform(-jitter, jitter)
        return self._settings.publish_seconds * factor

    def record_refusal(self, token: str, message: str) -> None:
        """Count a refused create by its message (a storm of "queue full" shows here)."""
        with self.lock:
            counts = self._refusals.setdefault(token, {})
            counts[message] = counts.get(message, 0) + 1

    def refusals(self, token: str) -> dict[str, int]:
        with self.lock:
            return dict(self._refusals.get(token, {}))

    def peak_unfinished(self, token: str) -> int:
        """The most unfinished jobs the account had at once (counted at every create)."""
        with self.lock:
            return self._peak_unfinished.get(token, 0)

    def create_count(self, token: str | None = None) -> int:
        with self.lock:
            if token is None:
                return sum(self._creates.values())
            return self._creates.get(token, 0)

    def create_counts(self) -> dict[str, int]:
        with self.lock:
            return dict(self._creates)

    def hash_taken(self, separation_hash: str) -> bool:
        with self.lock:
            return separation_hash in self._jobs

    # ---- reading ---------------------------------------------------------------------------

    def find(self, separation_hash: str) -> Job | None:
        with self.lock:
            return self._jobs.get(separation_hash)

    def snapshot(self, separation_hash: str) -> JobSnapshot | None:
        self.tick()
        with self.lock:
            job = self._jobs.get(separation_hash)
            return None if job is None else self._snapshot(job, self._clock())

    def owner_of(self, file_name: str) -> str:
        """The token of the job a result file belongs to ("" when none does)."""
        with self.lock:
            for job in self._jobs.values():
                if any(target.path.name == file_name for target in job.targets):
                    return job.token
        return ""

    def received_file(self, separation_hash: str) -> Path | None:
        """The bytes a job's create received, as kept for rendering (None once removed or
        for a job without an upload). For tests: what went over the wire, exactly."""
        with self.lock:
            job = self._jobs.get(separation_hash)
            if job is None or job.input_path is None or not job.input_path.exists():
                return None
            return job.input_path

    def snapshots(self) -> list[JobSnapshot]:
        self.tick()
        with self.lock:
            now = self._clock()
            return [self._snapshot(job, now) for job in self._order]

    def history(self, account: Account) -> list[JobSnapshot]:
        """The account's jobs, newest first."""
        return [s for s in reversed(self.snapshots()) if s.token == account.token]

    def rendering(self) -> bool:
        """True while any job's files are being produced."""
        with self.lock:
            return any(job.render_state == "running" for job in self._order)

    def queue_counts(self) -> dict[str, int]:
        """Waiting jobs per priority class, and jobs being processed."""
        self.tick()
        with self.lock:
            counts = {"in_process": 0, "premium": 0, "registered": 0}
            for job in self._order:
                if job.removed:
                    continue
                if job.status in ACTIVE:
                    counts["in_process"] += 1
                elif job.status == WAITING:
                    counts[job.priority] += 1
            return counts

    # ---- changes ---------------------------------------------------------------------------

    def cancel(self, job: Job) -> bool:
        """Cancel a waiting job and refund it; False if it already started."""
        with self.lock:
            if job.status != WAITING or job.removed:
                return False
            job.removed = True
            self._accounts.refund(job.account, job.credits)
            return True

    def delete(self, job: Job) -> bool:
        """Delete a job and its files (a waiting one is refunded); False while it is running."""
        with self.lock:
            if job.status in ACTIVE:
                return False
            if job.status == WAITING and not job.removed:
                self._accounts.refund(job.account, job.credits)
            job.removed = True
            self._remove_files(job)
            return True

    def charge_mirror(self, job: Job, account: Account, cost: int) -> bool:
        """Charge the mirror fee once per job; False if the account cannot pay."""
        with self.lock:
            if job.mirror_charged:
                return True
            if account.credits < cost:
                return False
            self._accounts.charge(account, cost)
            job.mirror_charged = True
            return True

    # ---- the state machine -------------------------------------------------------------------

    def tick(self) -> None:
        """Apply every transition that is due by now, in time order."""
        now = self._clock()
        with self.lock:
            while (event := self._next_event(now)) is not None:
                event()
            horizon = self._settings.retention_hours * 3600.0
            for job in self._order:
                finished = job.status in (DONE, FAILED)
                if finished and not job.expired and now >= job.created_at + horizon:
                    job.expired = True
                    self._remove_files(job)

    def _next_event(self, now: float) -> Callable[[], None] | None:
        best: tuple[float, int, int] | None = None
        action: Callable[[], None] | None = None
        for job in self._order:
            if job.status in ACTIVE and not job.removed:
                due = self._transition_time(job)
                if due is not None and due <= now and (best is None or (due, 0, job.id) < best):
                    best, action = (due, 0, job.id), _bind(self._advance, job, due)
        if self._free_slots:
            earliest_free = min(self._free_slots)
            waiting = [
                j
                for j in self._order
                if j.status == WAITING and not j.removed and j.ready_at <= now
            ]
            if waiting:
                start = min(max(j.ready_at, earliest_free) for j in waiting)
                eligible = [j for j in waiting if j.ready_at <= start]
                chosen = min(eligible, key=lambda j: (j.priority != "premium", j.created_at, j.id))
                if best is None or (start, 1, chosen.id) < best:
                    best, action = (start, 1, chosen.id), _bind(self._start, chosen, start)
        return action

    def _transition_time(self, job: Job) -> float | None:
        if job.status == DISTRIBUTING:
            return job.phase_due
        if job.fail_message is not None:
            return job.phase_due
        if job.render_state in ("done", "error") and job.render_done_at is not None:
            return max(job.phase_due, job.render_done_at)
        return None

    def _start(self, job: Job, at: float) -> None:
        self._free_slots.remove(min(self._free_slots))
        job.started_at = at
        job.phase_due = at + self._settings.processing_seconds
        if job.duration > self._settings.distribute_above_seconds:
            job.status = DISTRIBUTING
            job.all_chunks = max(2, math.ceil(job.duration / self._settings.chunk_seconds))
        else:
            job.status = PROCESSING
        if job.fail_message is None and not self._closed:
            job.render_state = "running"
            self._executor.submit(self._render, job)

    def _advance(self, job: Job, at: float) -> None:
        if job.status == DISTRIBUTING:
            job.status = MERGING
            job.phase_due = at + self._settings.merging_seconds
            return
        if job.fail_message is None and job.render_state == "error":
            job.fail_message = job.render_error or RENDER_FAILED_MESSAGE
        if job.fail_message is not None:
            job.status = FAILED
            self._accounts.refund(job.account, job.credits)
            job.credits = 0
            self._remove_files(job)
        else:
            job.status = DONE
        job.finished_at = at
        self._free_slots.append(at)

    def _write_results(self, job: Job) -> None:
        kind = result_kind(job.algorithm.name)
        if kind is not None:
            for target in job.targets:
                (write_midi if kind == MIDI else write_text)(target.path, job.duration)
            return
        render(
            job.source_path,
            job.targets,
            job.output_format,
            block_frames=self._settings.render_block_frames,
            ffmpeg=self._ffmpeg,
            gain=job.gain,
            output_rate=self._settings.output_rate,
        )

    def _render(self, job: Job) -> None:
        try:
            self._write_results(job)
        except Exception as error:  # noqa: BLE001 - any failure of the fake model fails the job
            with self.lock:
                job.render_state = "error"
                job.render_error = f"{RENDER_FAILED_MESSAGE} ({type(error).__name__})"
                job.render_done_at = self._clock()
        else:
            with self.lock:
                job.render_state = "done"
                job.render_done_at = self._clock()
                if job.removed or job.expired:
                    self._remove_files(job)
        self.tick()

    def _remove_files(self, job: Job) -> None:
        for target in job.targets:
            target.path.unlink(missing_ok=True)
        if job.input_path is not None:
            job.input_path.unlink(missing_ok=True)

    def _snapshot(self, job: Job, now: float) -> JobSnapshot:
        queue_count = current_order = finished_chunks = 0
        if job.status in (WAITING, DISTRIBUTING) and not job.removed:
            same_class = [
                j
                for j in self._order
                if j.status == WAITING and not j.removed and j.priority == job.priority
            ]
            queue_count = len(same_class)
            if job.status == WAITING:
                current_order = same_class.index(job) + 1
        if job.status == DISTRIBUTING and job.started_at is not None:
            span = self._settings.processing_seconds
            fraction = 1.0 if span <= 0 else (now - job.started_at) / span
            finished_chunks = min(job.all_chunks - 1, max(0, math.floor(fraction * job.all_chunks)))
        elif job.status in (MERGING, DONE) and job.all_chunks:
            finished_chunks = job.all_chunks
        listed, published = _publication(job, now)
        return JobSnapshot(
            hash=job.hash,
            token=job.token,
            status=job.status,
            sep_type=job.algorithm.render_id,
            algorithm_name=job.algorithm.name,
            options=dict(job.submitted),
            resolved_options=dict(job.options),
            output_format=job.output_format.number,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            credits=job.credits,
            duration=job.duration,
            priority=job.priority,
            is_demo=job.is_demo,
            kind=job.kind,
            queue_count=queue_count,
            current_order=current_order,
            finished_chunks=finished_chunks,
            all_chunks=job.all_chunks,
            message=job.fail_message if job.status == FAILED else None,
            files=listed,
            published=published,
            input_name=None if job.input_path is None else job.input_path.name,
            input_size=job.input_size,
            input_sha256=job.input_sha256,
            received_name=job.input_filename,
            tags=job.tags,
            removed=job.removed,
            expired=job.expired,
            history_id=job.id,
        )

    def close(self) -> None:
        with self.lock:
            self._closed = True
        self._executor.shutdown(wait=True, cancel_futures=True)


def _publication(job: Job, now: float) -> tuple[tuple[StemTarget, ...], tuple[bool, ...]]:
    """The stems a job lists at ``now`` and which of them have an address: none listed for the
    first share of its publishing span, then all, published in turn (see the docstring)."""
    if job.status != DONE or job.finished_at is None:
        return (), ()
    targets = tuple(job.targets)
    elapsed = now - job.finished_at
    span = job.publish_span
    if span <= 0 or elapsed >= span:
        return targets, (True,) * len(targets)
    share = span / (len(targets) + 1)
    if elapsed < share:
        return (), ()
    return targets, tuple(elapsed >= share * (index + 2) for index in range(len(targets)))


def _bind(method: Callable[[Job, float], None], job: Job, at: float) -> Callable[[], None]:
    return lambda: method(job, at)
