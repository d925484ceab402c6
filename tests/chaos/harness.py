"""A chaos run: a daemon process killed with SIGKILL again and again while MVSEP misbehaves.

One emulator serves the whole run with faults armed on every endpoint (5xx, dropped
connections, slow answers, malformed JSON, 429s, lost create answers, jobs that fail). Each
round starts ``mvsepd run`` in its own process, drops some files, waits (a random time, or until
the daemon is at a chosen moment, see ``moments``), then kills it with SIGKILL. Targeted rounds
arm an extra fault for a moment to hold the door open (a slow create for ``upload``, a lost
answer and a slow history for ``after_create``, a slow downlink for ``download``). At the end a
last daemon runs until every file is finished, is stopped with SIGTERM, and the invariants of
``invariants`` are checked.

Everything random comes from one seed (printed with every failure; ``MVSEPD_CHAOS_SEED``
replays it). Timing still varies from run to run, so a replay takes the same decisions but
may catch the daemon a few milliseconds apart.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from mvsepd.store import JobStore
from tests.chaos.inputs import InputFile, plan_inputs, plan_spares
from tests.chaos.invariants import problems_after_run
from tests.chaos.moments import MOMENTS, Observer
from tests.integration.support import Setup, start_daemon_process, stop_process, wait_until

CREATE = "/api/separation/create"
EVERYWHERE = ("/api/", "/storage/")

#: The faults armed for the whole run: (name, rate, endpoints or None for every API route).
BASE_FAULTS: tuple[tuple[str, float, tuple[str, ...] | None], ...] = (
    ("http_502", 0.03, None),
    ("http_503", 0.03, EVERYWHERE),
    ("drop_connection", 0.03, EVERYWHERE),
    ("slow", 0.05, EVERYWHERE),
    ("malformed_json", 0.03, None),
    ("http_429", 0.02, None),
    ("lost_response", 0.15, (CREATE,)),
    ("job_failed", 0.05, (CREATE,)),
)
#: Seconds a ``slow`` answer takes; well inside the daemon's lost-upload grace (4 s), so a
#: create still on its way when the daemon dies lands before the restarted one gives up on it.
SLOW_SECONDS = 0.5
#: The downlink of a ``download`` round: a take's stems (about 90 kB each) take a second or two.
DOWNLOAD_BYTES_PER_SECOND = 150_000.0
#: A target is given up early when no job is left unfinished after this long (a start, the
#: stability window and an ingest fit in it).
IDLE_SECONDS = 3.0
#: Each round kind's weight: random delays, long runs that let a restart settle, and targets.
ROUND_WEIGHTS = {"random": 0.30, "settle": 0.06, **dict.fromkeys(MOMENTS, 0.64 / len(MOMENTS))}


@dataclass
class ChaosReport:
    """What a run did: kills, the moments they caught, faults fired, time taken."""

    seed: int
    files: int = 0
    distinct: int = 0
    kills: int = 0
    rounds: Counter[str] = field(default_factory=Counter)
    moments: Counter[str] = field(default_factory=Counter)
    missed: Counter[str] = field(default_factory=Counter)
    fired: dict[str, int] = field(default_factory=dict)
    outcomes: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    finish_seconds: float = 0.0

    def summary(self) -> str:
        seen = (*MOMENTS, "reconcile", "conform")
        moments = ", ".join(f"{name} {self.moments[name]}" for name in seen)
        rounds = ", ".join(f"{name} {count}" for name, count in sorted(self.rounds.items()))
        fired = ", ".join(f"{name} {count}" for name, count in sorted(self.fired.items()) if count)
        missed = ", ".join(f"{name} {count}" for name, count in sorted(self.missed.items()))
        return (
            f"chaos seed {self.seed} (replay with MVSEPD_CHAOS_SEED={self.seed}): "
            f"{self.kills} SIGKILLs over {self.files} files ({self.distinct} distinct) "
            f"in {self.seconds:.0f} s (the last run, to finish everything: "
            f"{self.finish_seconds:.0f} s)\n"
            f"  moments caught: {moments}\n"
            f"  rounds: {rounds}; targets not reached in time: {missed or 'none'}\n"
            f"  faults fired: {fired}\n"
            f"  outcomes: {dict(self.outcomes)}"
        )


class ChaosRun:
    """One seeded chaos run against ``setup`` (its emulator must use a premium account)."""

    def __init__(
        self,
        setup: Setup,
        *,
        seed: int,
        files: int,
        kills: int,
        extra_rounds: int = 8,
        round_timeout: float = 8.0,
        finish_timeout: float = 180.0,
    ) -> None:
        self.setup = setup
        self.random = random.Random(seed)
        self.inputs = plan_inputs(self.random, files)
        # A few files are kept for the stability rounds, which drop them while a daemon watches.
        reserved = max(2, files // 10)
        self.pending = list(self.inputs[:-reserved])
        self.reserve = list(self.inputs[-reserved:])
        # Dropped by the extra rounds that chase a moment not caught yet (a small run can finish
        # all its files before each moment was caught), or when every other file is gone.
        # Their own generator: the run's choices stay those of its seed whether or not any is
        # needed.
        self.spares = plan_spares(random.Random(f"spares {seed}"), extra_rounds)
        self.written: list[InputFile] = []
        self.kills = kills
        self.extra_rounds = extra_rounds
        self.round_timeout = round_timeout
        self.finish_timeout = finish_timeout
        self.observer = Observer(setup, self.inputs + self.spares)
        self.report = ChaosReport(seed=seed)
        self.config = setup.write_config(setup.config_text(account="concurrency: 3", stability=0.5))
        self._log_offset = 0
        self._ready_seen = 0
        self._ready_before = 0

    # --- the run ----------------------------------------------------------------------------

    def run(self) -> ChaosReport:
        """Kill, restart, finish, check. Raise AssertionError (with the seed) on any problem."""
        # Shown by pytest with any failure, including one that is not an AssertionError.
        print(f"chaos seed {self.report.seed} (replay with MVSEPD_CHAOS_SEED={self.report.seed})")
        started = time.monotonic()
        self.arm_base_faults()
        self.write(max(1, len(self.inputs) // 4))
        kinds = list(ROUND_WEIGHTS)
        weights = list(ROUND_WEIGHTS.values())
        for index in range(self.kills):
            self.round(self.random.choices(kinds, weights)[0], rounds_left=self.kills - index)
        for _ in range(self.extra_rounds):
            unreached = [moment for moment in MOMENTS if not self.report.moments[moment]]
            if not unreached:
                break
            # A fresh file: a job that has all the moments ahead of it. The jobs still on
            # their way may be past the moment (or stuck behind a lost create's grace period).
            self.write(1, spare=True)
            self.round(self.random.choice(unreached), rounds_left=1)
        self.finish()
        self.report.seconds = time.monotonic() - started
        self.report.fired = self.setup.server.faults.fired()
        problems = problems_after_run(self.setup, self.written)
        unreached = [moment for moment in MOMENTS if not self.report.moments[moment]]
        if unreached:
            problems.append(f"kill moments never reached: {unreached}")
        if problems:
            raise AssertionError(self.report.summary() + "\n" + "\n".join(problems))
        return self.report

    def round(self, kind: str, *, rounds_left: int) -> None:
        self.report.rounds[kind] += 1
        if kind != "stability":
            count = self._quota(rounds_left)
            if kind in MOMENTS and not count and not self.observer.on_the_way(kind):
                count = 1  # a target needs a job on its way there
            self.write(count, reserve=not self.pending)
        process = self._start()
        fresh: list[InputFile] = []
        try:
            reached = self._wait_for(kind, process, fresh)
        finally:
            alive = process.poll() is None
            status = stop_process(process, kill=True)
        if not alive:
            raise AssertionError(
                f"{self.report.summary()}\nthe daemon died by itself (exit status {status})"
            )
        assert status == -signal.SIGKILL
        self.report.kills += 1
        caught = self.observer.moments(fresh)
        self.report.moments.update(caught)
        if kind in MOMENTS and (not reached or kind not in caught):
            self.report.missed[kind] += 1
        self.arm_base_faults()

    def finish(self) -> None:
        """Drop what is left, run a daemon until every file is finished, stop it with SIGTERM."""
        self.write(len(self.pending))
        self.write(len(self.reserve), reserve=True)
        started = time.monotonic()
        process = self._start()
        try:
            # Stopped before it installs its signal handlers, a daemon would not exit cleanly.
            wait_until(lambda: self._ready() or process.poll() is not None, 60, message="ready")
            wait_until(self.all_finished, self.finish_timeout, message="every file to finish")
        except AssertionError as error:
            states = Counter(job.state.value for job in self.observer.jobs())
            raise AssertionError(f"{self.report.summary()}\n{error}; jobs: {states}") from None
        finally:
            status = stop_process(process)
        self.report.finish_seconds = time.monotonic() - started
        assert status == 0, f"{self.report.summary()}\nSIGTERM ended the daemon with {status}"
        self.report.outcomes.update(job.state.value for job in self.observer.jobs())

    def all_finished(self) -> bool:
        jobs = self.observer.jobs()
        finished = {job.content_sha256 for job in jobs if job.state.terminal}
        if not all(item.sha256 in finished for item in self.written):
            return False
        if any(not job.state.terminal for job in jobs):
            return False
        # Copies of finished content must have been seen too, or they were never checked.
        return self._all_seen()

    # --- rounds -----------------------------------------------------------------------------

    def _wait_for(self, kind: str, process: subprocess.Popen[str], fresh: list[InputFile]) -> bool:
        """Wait until the round's moment (or its delay); True if the moment was reached."""
        observer = self.observer
        faults = self.setup.server.faults
        if kind == "random":
            time.sleep(self.random.uniform(0.2, 3.0))
            return True
        if kind == "settle":
            # Longer than the lost-upload grace: a restart gets to resend what never arrived.
            time.sleep(self.random.uniform(4.5, 6.5))
            return True
        if kind == "stability":
            if not self._until(self._ready, process, self.round_timeout):
                return False
            fresh.extend(self.write(self.random.randint(1, 2), reserve=True))
            time.sleep(self.random.uniform(0.05, 0.35))  # the stability window is 0.5 s
            return bool(fresh)
        if kind == "upload":
            faults.set("slow", endpoints=[CREATE], delay_seconds=1.0)
            return self._until(observer.uploading, process, self.round_timeout)
        if kind == "after_create":
            faults.set("lost_response", count=1, endpoints=[CREATE])
            faults.set("slow", endpoints=["/api/app/separation_history"], delay_seconds=1.0)
            return self._until(observer.create_unrecorded, process, self.round_timeout)
        if kind == "polling":
            reached = self._until(observer.submitted, process, self.round_timeout)
            time.sleep(self.random.uniform(0.0, 0.3))
            return reached
        if kind == "download":
            # Stems trickle in over a slow downlink: each job's staging folder holds fetched
            # and half-fetched stems for seconds. (A delay before each answer did not: the
            # parallel downloads all landed together and were placed within milliseconds.)
            self.setup.server.shape_link(download_rate=DOWNLOAD_BYTES_PER_SECOND)
            return self._until(observer.downloading_half_fetched, process, self.round_timeout)
        if kind == "rename":
            return self._until(
                observer.any_finalizing, process, self.round_timeout, interval=0.0002
            )
        raise ValueError(f"unknown round kind {kind!r}")

    def _until(
        self,
        predicate: Callable[[], bool],
        process: subprocess.Popen[str],
        timeout: float,
        *,
        interval: float = 0.02,
    ) -> bool:
        started = time.monotonic()
        next_look = started + IDLE_SECONDS
        while time.monotonic() - started < timeout and process.poll() is None:
            if predicate():
                return True
            if time.monotonic() >= next_look:
                # No job left on its way anywhere: the moment cannot come this round.
                if not self.observer.live_jobs():
                    return False
                next_look = time.monotonic() + 0.5
            time.sleep(interval)
        return False

    def _start(self) -> subprocess.Popen[str]:
        self._ready()  # counts the ready lines of earlier daemons
        self._ready_before = self._ready_seen
        return start_daemon_process(self.setup, self.config)

    def _ready(self) -> bool:
        """True once the daemon started last has logged that it is ready (it watches now)."""
        log = self.setup.tmp / "daemon.log"
        if not log.exists():
            return False
        with log.open("rb") as handle:
            handle.seek(self._log_offset)
            chunk = handle.read()
        # Only whole lines count; a line being written is read again next time.
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self._log_offset += len(complete)
        self._ready_seen += complete.count(b'"daemon_ready"')
        return self._ready_seen > self._ready_before

    # --- files ------------------------------------------------------------------------------

    def arm_base_faults(self) -> None:
        self.setup.server.shape_link()
        faults = self.setup.server.faults
        faults.clear()
        for name, rate, endpoints in BASE_FAULTS:
            delay = SLOW_SECONDS if name == "slow" else None
            faults.set(name, rate, endpoints=endpoints, delay_seconds=delay)

    def _quota(self, rounds_left: int) -> int:
        """Files to drop before this round, so that the last ones arrive near the end."""
        share = len(self.pending) / max(1, rounds_left)
        whole = int(share)
        return whole + (1 if self.random.random() < share - whole else 0)

    def write(self, count: int, *, reserve: bool = False, spare: bool = False) -> list[InputFile]:
        """Drop the next ``count`` files into the hot folder (each appears whole, by rename).

        ``reserve``: take them from the files kept for stability rounds, then from the rest,
        then from the spares. ``spare``: take them from the spares only.
        """
        queues: tuple[list[InputFile], ...] = (self.pending,)
        if spare:
            queues = (self.spares,)
        elif reserve:
            queues = (self.reserve, self.pending, self.spares)
        dropped: list[InputFile] = []
        for queue in queues:
            taken = queue[: count - len(dropped)]
            del queue[: len(taken)]
            dropped.extend(taken)
        for item in dropped:
            temporary = self.setup.hot / f".writing-{os.getpid()}.tmp"
            temporary.write_bytes(item.data)
            os.replace(temporary, self.setup.hot / item.name)
            self.written.append(item)
        self.report.files = len(self.written)
        self.report.distinct = len({item.sha256 for item in self.written})
        return dropped

    def _all_seen(self) -> bool:
        folder = str(self.setup.hot.resolve())
        with JobStore(self.setup.paths.store_file) as store:
            return all(store.source(folder, item.name) is not None for item in self.written)
