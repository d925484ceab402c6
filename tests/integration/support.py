"""Shared parts of the daemon integration tests: audio files, a configured daemon, waiting.

Everything here is real: the emulator over HTTP on 127.0.0.1, the daemon with its watchdog
observers, SQLite, and (for crash tests) a daemon in its own process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy
import soundfile

from mvsepd.config.file import parse_config
from mvsepd.emulator import EmulatorServer
from mvsepd.engine import EngineSettings
from mvsepd.models import JobRecord, JobState, Secret
from mvsepd.paths import AppPaths
from mvsepd.process.daemon import Daemon
from mvsepd.store import JobStore, SqlJobStore

ROOT = Path(__file__).resolve().parents[2]

#: The ``daemon:`` section of test configs: quick polls, broken files reported after 3 s.
FAST_DAEMON = """incomplete_after_seconds: 3
  poll_first_seconds: 0.2
  poll_max_seconds: 0.5
  lost_upload_grace_seconds: 4"""

#: The ``cli`` fixture: ``cli("status", "--json")`` runs ``mvsepd`` in this process and returns
#: the exit status and what was printed (stdout, then stderr).
Cli = Callable[..., tuple[int, str]]

FAST = EngineSettings(
    tick_seconds=0.05,
    poll_first_seconds=0.1,
    poll_max_seconds=0.3,
    account_refresh_seconds=30,
    token_recheck_seconds=30,
    lost_upload_grace_seconds=2,
)


def wav_bytes(seconds: float = 0.5, *, sample_rate: int = 22050, seed: int = 0) -> bytes:
    """Return a complete stereo 16-bit WAV file of noise (different bytes for each seed)."""
    import io

    generator = numpy.random.default_rng(seed)
    frames = max(1, int(seconds * sample_rate))
    buffer = io.BytesIO()
    soundfile.write(
        buffer,
        generator.uniform(-0.3, 0.3, (frames, 2)),
        sample_rate,
        format="WAV",
        subtype="PCM_16",
    )
    return buffer.getvalue()


def write_wav(path: Path, seconds: float = 0.5, *, seed: int = 0) -> bytes:
    """Write a WAV atomically (rename into place) and return its bytes."""
    data = wav_bytes(seconds, seed=seed)
    temporary = path.with_name(f".writing-{os.getpid()}-{threading.get_ident()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
    return data


def wait_until(
    predicate: Callable[[], Any], timeout: float, *, message: str = "condition", interval=0.05
) -> Any:
    """Return the predicate's first truthy value; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {message}")
        time.sleep(interval)


@dataclass
class Setup:
    """One test's folders, emulator and configuration."""

    tmp: Path
    server: EmulatorServer
    token: str
    hot: Path
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def paths(self) -> AppPaths:
        state = self.tmp / "state"
        return AppPaths(
            config_dir=self.tmp / "config",
            state_dir=state,
            cache_dir=self.tmp / "cache",
            log_dir=self.tmp / "log",
            runtime_dir=self.tmp / "run",
        )

    @property
    def outputs(self) -> Path:
        return self.hot.parent / f"{self.hot.name} stems"

    def config_text(
        self,
        *,
        folder: str = "",
        extra_folders: str = "",
        stability: float = 0.3,
        preset: str = "sep_type: 20",
        account: str = "",
        limits: str = "",
        daemon: str = FAST_DAEMON,
    ) -> str:
        return f"""
account:
  server: "{self.server.url}"
  {account}
presets:
  four:
    {preset}
    output_format: wav16
folders:
  - path: "{self.hot}"
    preset: four
    existing_files: process
    stability_seconds: {stability}
    {folder}
{extra_folders}
limits:
  {limits or "max_concurrent_jobs: null"}
daemon:
  {daemon}
"""

    def write_config(self, text: str | None = None) -> Path:
        path = self.tmp / "config.yaml"
        path.write_text(text or self.config_text(), encoding="utf-8")
        return path

    def environment(self) -> dict[str, str]:
        """The environment of a daemon subprocess: its own directories and the token."""
        paths = self.paths
        return {
            **os.environ,
            "MVSEP_API_TOKEN": self.token,
            "MVSEPD_CONFIG_DIR": str(paths.config_dir),
            "MVSEPD_STATE_DIR": str(paths.state_dir),
            "MVSEPD_CACHE_DIR": str(paths.cache_dir),
            "MVSEPD_LOG_DIR": str(paths.log_dir),
            "MVSEPD_RUNTIME_DIR": str(paths.runtime_dir),
            "PYTHONPATH": str(ROOT),
        }

    def jobs(self) -> list[JobRecord]:
        """Read the job store as another process would (WAL allows it)."""
        if not self.paths.store_file.exists():
            return []
        with JobStore(self.paths.store_file) as store:
            return store.jobs()

    def stems(self) -> list[Path]:
        return sorted(p for p in self.outputs.rglob("*") if p.is_file())

    def manifests(self) -> list[dict[str, Any]]:
        return [
            json.loads(path.read_text(encoding="utf-8"))
            for path in self.outputs.rglob("manifest.json")
        ]

    def leftovers(self) -> list[Path]:
        """Half-written files or staging folders left anywhere below the hot folder's parent."""
        found = []
        for path in self.hot.parent.rglob("*"):
            if path.name.endswith((".part", ".tmp")) or ".mvsepd-staging" in path.parts:
                found.append(path)
        return found


class RunningDaemon:
    """A daemon running in this process, in a thread."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.thread = threading.Thread(target=daemon.run, name="test-daemon", daemon=True)

    @property
    def store(self) -> SqlJobStore:
        return self.daemon.store

    def states(self) -> dict[JobState, int]:
        return self.daemon.store.count_by_state()

    def done(self, count: int) -> bool:
        return self.states().get(JobState.DONE, 0) >= count

    def finished(self, count: int) -> bool:
        """True once ``count`` jobs have ended, done or not."""
        return sum(n for state, n in self.states().items() if state.terminal) >= count


@contextmanager
def running_daemon(
    setup: Setup,
    config_text: str | None = None,
    settings: EngineSettings = FAST,
    *,
    config_file: Path | None = None,
) -> Iterator[RunningDaemon]:
    """Run a daemon for ``setup`` until the block ends.

    With ``config_file`` the daemon reads its configuration from that file and follows it as
    ``mvsepd run`` does (a change applied while it runs); otherwise ``config_text`` is handed
    in parsed and stays as it is.
    """
    if config_file is not None:
        config_text = config_file.read_text(encoding="utf-8")
    text = config_text or setup.config_text()
    config = parse_config(text, str(config_file or "test"))
    daemon = Daemon(
        config,
        Secret(setup.token),
        setup.paths,
        settings=settings,
        config_file=None if config_file is None else (config_file, text),
    )
    daemon.start()
    running = RunningDaemon(daemon)
    running.thread.start()
    try:
        yield running
    finally:
        daemon.stop_event.set()
        running.thread.join(timeout=10)
        daemon.stop()


def start_daemon_process(
    setup: Setup,
    config: Path,
    *,
    prefix: Sequence[str] = (),
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.Popen[str]:
    """Start ``mvsepd run`` in its own process, logging JSON lines to a file in ``setup.tmp``,
    in a session of its own without a terminal, as a service manager starts it (so SIGHUP asks
    for a reload wherever the suite runs).

    ``prefix`` runs it through another program (``setpriv`` to drop root's privileges).
    """
    command = [sys.executable, "-m", "mvsepd", "run", "--config", str(config), "--json-logs"]
    log = (setup.tmp / "daemon.log").open("a", encoding="utf-8")
    try:
        return subprocess.Popen(
            [*prefix, *command],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            env=setup.environment(),
            preexec_fn=preexec_fn,
            start_new_session=True,
        )
    finally:
        log.close()


def stop_process(process: subprocess.Popen[str], *, kill: bool = False) -> int:
    """Stop a daemon process (SIGKILL or SIGTERM) and return its exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
    return process.wait(timeout=20)
