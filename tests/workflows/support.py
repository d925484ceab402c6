"""Shared parts of the workflow tests: an emulator, hot folders, a daemon with a config of the
test's own, and waiting for jobs and deliveries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mvsepd.config.file import parse_config
from mvsepd.emulator import EmulatorServer, EmulatorSettings, ManualClock
from mvsepd.emulator.jobs import JobSnapshot
from mvsepd.models import DeliveryState, JobRecord, JobState, Secret
from mvsepd.process.daemon import Daemon
from tests.integration.support import FAST, FAST_DAEMON, RunningDaemon, Setup, wait_until

QUICK = EmulatorSettings(
    publish_seconds=0.3, queue_seconds=0.0, processing_seconds=0.1, rate_limit=False
)


@dataclass
class World:
    """An emulator with one premium account, a music folder with hot folders below it."""

    tmp: Path
    server: EmulatorServer
    token: str
    music: Path

    def folder(self, name: str) -> Path:
        path = self.music / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def stems_of(self, name: str) -> Path:
        return self.music / f"{name} stems"

    @property
    def setup(self) -> Setup:
        return Setup(tmp=self.tmp, server=self.server, token=self.token, hot=self.music / "in")

    def remote_jobs(self) -> list[JobSnapshot]:
        return [job for job in self.server.state.jobs() if job.token == self.token]

    def config(self, body: str) -> str:
        return f'account:\n  server: "{self.server.url}"\n{body}\ndaemon:\n  {FAST_DAEMON}\n'


@contextmanager
def world(
    tmp_path: Path,
    settings: EmulatorSettings = QUICK,
    plan: str = "premium",
    clock: ManualClock | None = None,
) -> Iterator[World]:
    with EmulatorServer(settings, clock=clock) as server:
        account = server.add_account(plan=plan, credits=100_000)
        yield World(tmp_path, server, account.token, tmp_path / "Music")


@contextmanager
def daemon_for(place: World, config_body: str) -> Iterator[RunningDaemon]:
    config = parse_config(place.config(config_body), "test")
    daemon = Daemon(config, Secret(place.token), place.setup.paths, settings=FAST)
    daemon.start()
    running = RunningDaemon(daemon)
    running.thread.start()
    try:
        yield running
    finally:
        daemon.stop_event.set()
        running.thread.join(timeout=10)
        daemon.stop()


def all_settled(daemon: RunningDaemon, jobs: int) -> bool:
    """True once ``jobs`` jobs exist, none unfinished, and no delivery waits."""
    found = daemon.store.jobs()
    if len(found) < jobs or any(not job.state.terminal for job in found):
        return False
    return not daemon.store.deliveries(states=[DeliveryState.WAITING])


def settle(daemon: RunningDaemon, jobs: int, timeout: float = 60) -> list[JobRecord]:
    wait_until(lambda: all_settled(daemon, jobs), timeout, message=f"{jobs} jobs to settle")
    return daemon.store.jobs()


def done(jobs: list[JobRecord]) -> list[JobRecord]:
    problems = [
        (job.source_name, job.state.value, job.reason)
        for job in jobs
        if job.state is not JobState.DONE
    ]
    assert not problems, problems
    return jobs


def folder_config(path: Path, preset: str, extra: str = "") -> str:
    return (
        f'  - path: "{path}"\n    preset: {preset}\n    existing_files: process\n'
        f"    stability_seconds: 0.3\n{extra}"
    )


def manifests(root: Path) -> list[dict[str, Any]]:
    import json

    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(root.rglob("*.json"))]
