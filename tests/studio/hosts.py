"""A studio for the multi-host tests: one emulator account, one PostgreSQL database, one
shared folder, and ``mvsepd run`` processes that each have their own state, cache, log and
runtime folders and host id.

Every host mounts the share at the same real path here (one machine); that the share may sit
elsewhere on each host is the store's business and tested there (test_studio_store).
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mvsepd.emulator import EmulatorServer, EmulatorSettings
from mvsepd.emulator.admission import QUEUE_FULL
from mvsepd.models import JobRecord, JobState
from mvsepd.paths import AppPaths
from mvsepd.store.postgres import PostgresJobStore
from tests.chaos.inputs import InputFile, plan_inputs
from tests.integration.support import FAST_DAEMON, Setup, start_daemon_process, stop_process

SKEWED = Path(__file__).with_name("skewed.py")
#: Short leases, so a killed host's jobs move on within seconds.
LEASE_SECONDS = 3.0
#: A dead host's upload is looked for in MVSEP's history this long before it is sent again.
UPLOAD_GRACE_SECONDS = 4.0


@dataclass
class StudioHost(Setup):
    """One workstation of the studio (``tmp`` is the studio's folder, ``hot`` the share's)."""

    host: str = "room-1"
    dsn: str = ""
    share: Path = field(default_factory=Path)
    clock_offset_seconds: float = 0.0
    account_settings: str = ""
    #: A hot folder of this host alone (not on the share), or None.
    private: Path | None = None
    #: More environment for its process (a service manager's NOTIFY_SOCKET).
    extra_environment: dict[str, str] = field(default_factory=dict)

    @property
    def paths(self) -> AppPaths:
        base = self.tmp / "hosts" / self.host
        return AppPaths(
            config_dir=base / "config",
            state_dir=base / "state",
            cache_dir=base / "cache",
            log_dir=base / "log",
            runtime_dir=base / "run",
        )

    def environment(self) -> dict[str, str]:
        return {**super().environment(), "MVSEPD_DSN": self.dsn, **self.extra_environment}

    def studio_config(self) -> Path:
        text = f"""
account:
  server: "{self.server.url}"
  {self.account_settings}
presets:
  four:
    sep_type: 20
    output_format: wav16
store:
  backend: postgres
  host_id: {self.host}
  lease_seconds: {LEASE_SECONDS}
  takeover_upload_grace_seconds: {UPLOAD_GRACE_SECONDS}
  shares:
    nas: "{self.share}"
folders:
  - path: "{self.hot}"
    shared: nas
    preset: four
    existing_files: process
    stability_seconds: 0.3
{self._private_folder()}
daemon:
  {FAST_DAEMON}
"""
        path = self.tmp / "hosts" / self.host / "config.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def _private_folder(self) -> str:
        if self.private is None:
            return ""
        return (
            f'  - path: "{self.private}"\n    preset: four\n    existing_files: process\n'
            "    stability_seconds: 0.3"
        )


class Studio:
    """The studio's processes and what it was given."""

    def __init__(
        self, root: Path, server: EmulatorServer, token: str, dsn: str, *, account: str = ""
    ) -> None:
        self.account = account
        self.root = root
        self.server = server
        self.token = token
        self.dsn = dsn
        self.share = root / "nas"
        self.hot = self.share / "Exports"
        self.hot.mkdir(parents=True)
        self.hosts: dict[str, StudioHost] = {}
        self.processes: dict[str, subprocess.Popen[str]] = {}
        self.written: list[InputFile] = []

    def host(
        self, name: str, *, clock_offset_seconds: float = 0.0, private: Path | None = None
    ) -> StudioHost:
        if name not in self.hosts:
            self.hosts[name] = StudioHost(
                tmp=self.root, server=self.server, token=self.token, hot=self.hot,
                host=name, dsn=self.dsn, share=self.share,
                clock_offset_seconds=clock_offset_seconds, account_settings=self.account,
                private=private,
            )  # fmt: skip
        return self.hosts[name]

    def start(self, name: str, **options: Any) -> subprocess.Popen[str]:
        host = self.host(name, **options)
        config = host.studio_config()
        if host.clock_offset_seconds:
            command = [sys.executable, str(SKEWED), str(host.clock_offset_seconds), "run",
                       "--config", str(config), "--json-logs"]  # fmt: skip
            with (self.root / "daemon.log").open("a", encoding="utf-8") as log:
                process = subprocess.Popen(
                    command, stdout=log, stderr=subprocess.STDOUT, text=True,
                    env=host.environment(),
                )  # fmt: skip
        else:
            process = start_daemon_process(host, config)
        self.processes[name] = process
        return process

    def kill(self, name: str) -> None:
        stop_process(self.processes.pop(name), kill=True)

    def stop_all(self) -> None:
        """Stop every host: each is told at once, then waited for; one that does not stop in
        time is killed, so that no daemon outlives its test (a host stopping slowly once left
        the others running for ever)."""
        processes = [self.processes.pop(name) for name in list(self.processes)]
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        slow: list[subprocess.Popen[str]] = []
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
                slow.append(process)
        assert not slow, f"{len(slow)} host(s) did not stop within 30 s of SIGTERM"

    def write(self, count: int, seed: int, *, prefix: str = "") -> list[InputFile]:
        """Write ``count`` distinct takes (and a few byte-identical copies) into the share."""
        planned = plan_inputs(random.Random(seed), count)
        fresh = [InputFile(prefix + item.name, item.data, item.seconds) for item in planned]
        for item in fresh:
            partial = self.hot / f".{item.name}.writing"
            partial.write_bytes(item.data)
            partial.rename(self.hot / item.name)
        self.written.extend(fresh)
        return fresh

    def observer(self) -> PostgresJobStore:
        """The studio's store as a host that runs no jobs sees it (close it after use)."""
        return PostgresJobStore(self.dsn, host_id="observer", shares={"nas": str(self.share)})

    def jobs(self) -> list[JobRecord]:
        with self.observer() as store:
            return store.jobs()

    def finished(self) -> bool:
        contents = {item.sha256 for item in self.written}
        ended = {job.content_sha256 for job in self.jobs() if job.state.terminal}
        return contents <= ended

    def wait_finished(self, timeout: float, *, check: Callable[[], None] | None = None) -> None:
        deadline = time.monotonic() + timeout
        while not self.finished():
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise AssertionError(f"host {name} exited with {process.returncode}")
            if check is not None:
                check()
            if time.monotonic() > deadline:
                states = [(job.id, job.state.value, job.owner_host) for job in self.jobs()
                          if not job.state.terminal]  # fmt: skip
                raise AssertionError(f"not finished after {timeout:.0f} s: {states[:20]}")
            time.sleep(0.5)

    def queue_full_refusals(self) -> int:
        return self.server.state.refusals(self.token).get(QUEUE_FULL, 0)

    def setup(self) -> StudioHost:
        """A host view for the chaos invariants (the share, the shared log)."""
        return self.host(next(iter(self.hosts)) if self.hosts else "room-1")

    def process_log(self) -> str:
        path = self.root / "daemon.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def done_by_host(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for job in self.jobs():
            if job.state is JobState.DONE:
                counts[job.owner_host or "?"] = counts.get(job.owner_host or "?", 0) + 1
        return counts


def studio_emulator(**settings: Any) -> EmulatorServer:
    defaults: dict[str, Any] = {
        "queue_seconds": 0.3,
        "processing_seconds": 0.3,
        "publish_seconds": 0.3,
        "rate_limit": False,
    }
    return EmulatorServer(EmulatorSettings(**{**defaults, **settings}))
