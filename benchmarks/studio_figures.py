"""Studio mode figures: jobs per minute with 1, 2 and 3 hosts on one account, creates per
content, and how long a killed host's job waits before another host takes it.

Run: ``python -m benchmarks.studio_figures [--files 24] [--json]``. It starts a throwaway
PostgreSQL cluster and an emulator (fixed processing time, a premium account allowing four
unfinished jobs) and runs ``mvsepd run`` hosts exactly as the studio tests do (their harness,
``tests.studio``, with 3 s leases). Prints a Markdown table (or JSON).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import report_studio
from mvsepd.models import JobState
from tests.studio.hosts import LEASE_SECONDS, Studio, studio_emulator
from tests.studio.pgserver import PostgresServer, server_binaries

PROCESSING_SECONDS = 3.0
CONCURRENCY = 4


def throughput(server: PostgresServer, hosts: int, files: int) -> dict[str, Any]:
    """Drop ``files`` takes into the share of ``hosts`` running hosts; time until all done."""
    with (
        tempfile.TemporaryDirectory(prefix="mvsepd-studio-bench.") as folder,
        studio_emulator(
            processing_seconds=PROCESSING_SECONDS, queue_seconds=0.0, workers=16
        ) as emulator,
    ):
        account = emulator.add_account(plan="premium", credits=1_000_000)
        studio = Studio(
            Path(folder), emulator, account.token, server.new_dsn(),
            account=f"concurrency: {CONCURRENCY}",
        )  # fmt: skip
        try:
            for index in range(hosts):
                studio.start(f"room-{index + 1}")
            time.sleep(3.0)  # every host ready and watching
            started = time.monotonic()
            studio.write(files, seed=hosts)
            studio.wait_finished(timeout=1200)
            seconds = time.monotonic() - started
        finally:
            studio.stop_all()
        distinct = len({item.sha256 for item in studio.written})
        creates = emulator.state.create_count(account.token)
        return {
            "hosts": hosts,
            "files": len(studio.written),
            "distinct": distinct,
            "seconds": round(seconds, 1),
            "jobs_per_minute": round(distinct / seconds * 60, 1),
            "creates_per_content": round(creates / distinct, 3),
            "peak_unfinished": emulator.state.peak_unfinished(account.token),
            "done_by_host": studio.done_by_host(),
        }


def takeover(server: PostgresServer, rounds: int) -> dict[str, Any]:
    """Kill the host of a submitted job, ``rounds`` times; seconds until another host has it."""
    delays: list[float] = []
    with (
        tempfile.TemporaryDirectory(prefix="mvsepd-studio-bench.") as folder,
        studio_emulator(processing_seconds=20.0, queue_seconds=0.0, workers=16) as emulator,
    ):
        account = emulator.add_account(plan="premium", credits=1_000_000)
        studio = Studio(
            Path(folder), emulator, account.token, server.new_dsn(), account="concurrency: 10"
        )
        try:
            names = ["room-1", "room-2", "room-3"]
            for name in names:
                studio.start(name)
            for index in range(rounds):
                studio.write(1, seed=100 + index, prefix=f"t{index} ")
                job = _wait_submitted(studio)
                owner = str(job.owner_host)
                killed = time.monotonic()
                studio.kill(owner)
                while True:
                    with studio.observer() as store:
                        if store.get(job.id).owner_host != owner:
                            break
                    time.sleep(0.05)
                delays.append(time.monotonic() - killed)
                studio.start(owner)
        finally:
            studio.stop_all()
    return {
        "lease_seconds": LEASE_SECONDS,
        "rounds": rounds,
        "median_seconds": round(statistics.median(delays), 2),
        "max_seconds": round(max(delays), 2),
    }


def _wait_submitted(studio: Studio) -> Any:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for job in studio.jobs():
            if job.state is JobState.SUBMITTED and job.owner_host in studio.processes:
                return job
        time.sleep(0.05)
    raise RuntimeError("no job reached submitted")


def measure(*, files: int, rounds: int) -> dict[str, Any]:
    """Every studio figure, on a throwaway PostgreSQL cluster."""
    binaries = server_binaries()
    if binaries is None:
        raise SystemExit("PostgreSQL's server is not installed (apt-get install postgresql)")
    server = PostgresServer(binaries)
    server.start()
    try:
        runs = [throughput(server, hosts, files) for hosts in (1, 2, 3)]
        return {"throughput": runs, "takeover": takeover(server, rounds)}
    finally:
        server.remove()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=24, help="takes per throughput run")
    parser.add_argument("--rounds", type=int, default=5, help="kills for the takeover delay")
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    arguments = parser.parse_args()
    figures = measure(files=arguments.files, rounds=arguments.rounds)
    if arguments.json:
        print(json.dumps(figures, indent=2))
        return
    print(report_studio.studio(figures, CONCURRENCY, PROCESSING_SECONDS))


if __name__ == "__main__":
    main()
