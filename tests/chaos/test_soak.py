"""Soak: 1,000 jobs through one daemon process while about one request in ten misbehaves.

The daemon runs as ``mvsepd run`` in its own process on a premium account (four jobs at once);
files arrive in batches. After the first 100 jobs and again at the end the test reads the
process's resident memory, open file descriptors and threads from ``/proc``: memory may not
grow by more than 10 MB, descriptors and threads not at all (give or take two: a keep-alive
connection to MVSEP, or a worker thread of the status API, may be open or closed at the very
instant of a reading). Every job must finish, and the chaos invariants hold. Runs with
``scripts/test -m full``; the figures are printed.
"""

from __future__ import annotations

import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from mvsepd.emulator import EmulatorServer, EmulatorSettings
from mvsepd.models import JobState
from tests.chaos.inputs import InputFile, chaos_seed, plan_inputs
from tests.chaos.invariants import problems_after_run
from tests.integration.support import Setup, start_daemon_process, stop_process

JOBS = 1000
FIRST = 100
BATCH = 50
#: Files written but not finished before another batch is dropped.
BACKLOG = 100
RSS_GROWTH_LIMIT_KB = 10 * 1024
#: See the module docstring: one connection or helper thread either way at a reading.
TOLERANCE = 2
POLLS_AND_DOWNLOADS = ("/api/separation/get", "/storage/")
#: About one request in ten fails somehow: (name, rate, endpoints, delay).
SOAK_FAULTS: tuple[tuple[str, float, tuple[str, ...] | None, float | None], ...] = (
    ("http_503", 0.025, POLLS_AND_DOWNLOADS, None),
    ("http_502", 0.025, POLLS_AND_DOWNLOADS, None),
    ("drop_connection", 0.02, POLLS_AND_DOWNLOADS, None),
    ("malformed_json", 0.02, ("/api/separation/get",), None),
    ("slow", 0.01, None, 0.3),
    ("lost_response", 0.05, ("/api/separation/create",), None),
)

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"),
    reason="the soak reads the daemon's memory, descriptors and threads from /proc (Linux only)",
)


@dataclass(frozen=True)
class Figures:
    """Resident memory, open file descriptors and threads of a process."""

    rss_kb: int
    fds: int
    threads: int

    @classmethod
    def of(cls, pid: int) -> Figures:
        fields = {}
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            fields[name] = value.split()[0] if value.split() else ""
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        return cls(int(fields["VmRSS"]), fds, int(fields["Threads"]))

    def __str__(self) -> str:
        return f"RSS {self.rss_kb / 1024:.1f} MB, {self.fds} fds, {self.threads} threads"


def done_count(setup: Setup) -> int:
    jobs = setup.jobs()
    return sum(1 for job in jobs if job.state is JobState.DONE)


def write(setup: Setup, items: list[InputFile]) -> None:
    for item in items:
        temporary = setup.hot / ".writing.tmp"
        temporary.write_bytes(item.data)
        os.replace(temporary, setup.hot / item.name)


@pytest.mark.full
@pytest.mark.timeout(3600)
def test_soak_thousand_jobs(tmp_path: Path) -> None:
    seed = chaos_seed()
    inputs = plan_inputs(random.Random(seed), JOBS, seconds=(0.05, 0.1), copies=False)
    settings = EmulatorSettings(
        publish_seconds=0.3,
        queue_seconds=0.0,
        processing_seconds=0.0,
        rate_limit=False,
        workers=4,
        seed=seed,
    )
    with EmulatorServer(settings) as server:
        account = server.add_account(plan="premium", credits=1_000_000)
        hot = tmp_path / "Exports" / "Soak"
        hot.mkdir(parents=True)
        setup = Setup(tmp=tmp_path, server=server, token=account.token, hot=hot)
        for name, rate, endpoints, delay in SOAK_FAULTS:
            server.faults.set(name, rate, endpoints=endpoints, delay_seconds=delay)
        config = setup.write_config(setup.config_text(account="concurrency: 4", stability=0.3))
        started = time.monotonic()
        written = 0
        process = start_daemon_process(setup, config)
        try:
            first: Figures | None = None
            first_at = 0.0
            curve: list[tuple[int, Figures]] = []
            deadline = started + 3000
            while True:
                done = done_count(setup)
                if first is None and done >= FIRST:
                    first, first_at = Figures.of(process.pid), time.monotonic() - started
                if done >= FIRST * (len(curve) + 1):
                    curve.append((done, Figures.of(process.pid)))
                if done >= JOBS:
                    break
                if written < JOBS and written - done < BACKLOG:
                    write(setup, inputs[written : written + BATCH])
                    written += len(inputs[written : written + BATCH])
                assert process.poll() is None, "the daemon exited during the soak"
                assert time.monotonic() < deadline, f"only {done} of {JOBS} jobs done in time"
                time.sleep(0.5)
            elapsed = time.monotonic() - started
            # Let the last steps return their threads and connections before the reading.
            time.sleep(2.0)
            last = Figures.of(process.pid)
        finally:
            status = stop_process(process)
        assert status == 0
        assert first is not None
        fired = {name: count for name, count in server.faults.fired().items() if count}
        print(
            f"\nsoak (seed {seed}): {JOBS} jobs in {elapsed:.0f} s "
            f"({JOBS / elapsed:.1f} jobs/s), faults fired {fired}\n"
            f"  after {FIRST} jobs ({first_at:.0f} s): {first}\n"
            f"  after {JOBS} jobs: {last}\n"
            f"  growth: RSS {(last.rss_kb - first.rss_kb) / 1024:+.1f} MB, "
            f"fds {last.fds - first.fds:+d}, threads {last.threads - first.threads:+d}\n"
            "  RSS along the way: "
            + ", ".join(f"{done} jobs {figures.rss_kb / 1024:.1f} MB" for done, figures in curve)
        )
        assert server.state.create_count() == JOBS, "a file was paid for twice"
        assert last.rss_kb - first.rss_kb <= RSS_GROWTH_LIMIT_KB
        assert last.fds <= first.fds + TOLERANCE
        assert last.threads <= first.threads + TOLERANCE
        problems = problems_after_run(setup, inputs)
        assert problems == [], "\n".join(problems[:20])
