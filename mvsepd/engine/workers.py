"""The engine's worker threads: at most one step per job (and per file) at a time.

A job is claimed before its step is handed to the pool and released when the step ends, so two
workers never change the same job; a step's crash is logged and never stops the daemon; the
engine is woken whenever a step ends, so the next step starts at once.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable
from pathlib import Path

import structlog

from mvsepd.errors import IllegalTransitionError, StoreError

log = structlog.get_logger("mvsepd.engine")


class Workers:
    """A thread pool that runs steps, keyed by job id or file path."""

    def __init__(self, count: int, wake: threading.Event) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=count, thread_name_prefix="mvsepd-job"
        )
        self._wake = wake
        # A condition, so that a control request can wait for a worker to let a job go.
        self._lock = threading.Condition()
        self._jobs: set[int] = set()
        self._paths: set[Path] = set()
        self._tasks: set[str] = set()

    def busy(self, job_id: int) -> bool:
        """True while a step of this job runs."""
        with self._lock:
            return job_id in self._jobs

    def claim(self, job_id: int, *, wait_seconds: float = 0.0) -> bool:
        """Reserve a job for the caller, waiting up to ``wait_seconds`` for a worker that has
        it to finish its step; False if a worker still has it."""
        with self._lock:
            if not self._lock.wait_for(lambda: job_id not in self._jobs, wait_seconds):
                return False
            self._jobs.add(job_id)
            return True

    def release(self, job_id: int) -> None:
        """Give back a job claimed with ``claim``."""
        with self._lock:
            self._jobs.discard(job_id)
            self._lock.notify_all()

    def submit(
        self,
        job_id: int | None,
        path: Path | None,
        work: Callable[[], object],
        *,
        already_claimed: bool = False,
    ) -> None:
        """Run ``work`` in a worker unless the job or file is already being worked on."""
        with self._lock:
            if not already_claimed:
                if (job_id is not None and job_id in self._jobs) or (
                    path is not None and path in self._paths
                ):
                    return
                if job_id is not None:
                    self._jobs.add(job_id)
            if path is not None:
                self._paths.add(path)

        def run() -> None:
            try:
                work()
            except (IllegalTransitionError, StoreError) as error:
                log.warning("step_skipped", job=job_id, error=str(error))
            except Exception:
                log.exception("step_crashed", job=job_id, file=str(path) if path else None)
            finally:
                self._forget(job_id, path)
                self._wake.set()

        try:
            self._pool.submit(run)
        except RuntimeError:  # shutting down: the job stays where it is, for the next start
            self._forget(job_id, path)

    def submit_task(self, name: str, action: Callable[[], None]) -> None:
        """Run a named background task (an account check) unless it already runs."""
        with self._lock:
            if name in self._tasks:
                return
            self._tasks.add(name)

        def run() -> None:
            try:
                action()
            finally:
                with self._lock:
                    self._tasks.discard(name)
                self._wake.set()

        try:
            self._pool.submit(run)
        except RuntimeError:  # the pool is shutting down
            with self._lock:
                self._tasks.discard(name)

    def task_running(self, name: str) -> bool:
        """True while the named background task runs."""
        with self._lock:
            return name in self._tasks

    def _forget(self, job_id: int | None, path: Path | None) -> None:
        with self._lock:
            if job_id is not None:
                self._jobs.discard(job_id)
            if path is not None:
                self._paths.discard(path)
            self._lock.notify_all()

    def shutdown(self, timeout: float) -> bool:
        """Take no new work; wait up to ``timeout`` s for steps to end; True if they all did."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        done = threading.Event()

        def join() -> None:
            self._pool.shutdown(wait=True)
            done.set()

        threading.Thread(target=join, name="mvsepd-drain", daemon=True).start()
        return done.wait(timeout)
