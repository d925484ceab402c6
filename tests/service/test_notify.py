"""A real ``mvsepd run`` under a pretend systemd: READY=1 after the first scan, STATUS= lines,
WATCHDOG=1 pings from the engine loop, STOPPING=1 and exit 0 on SIGTERM. A broken config exits
78 and a second daemon 75, each with a one-line reason, so a unit stops instead of looping."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mvsepd.emulator import EmulatorServer, EmulatorSettings

pytestmark = pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="sd_notify is Unix-only")

CONFIG = """
account:
  server: "{server}"
presets:
  vocals:
    sep_type: 48
    output_format: wav16
folders:
  - path: "{hot}"
    preset: vocals
"""


@dataclass
class Service:
    """What a service manager gives the daemon: a config, an environment, a notify socket."""

    config: Path
    environment: dict[str, str]
    notify: socket.socket
    log: Path

    def start(self) -> subprocess.Popen[bytes]:
        with self.log.open("wb") as log:
            return subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "mvsepd",
                    "run",
                    "--config",
                    str(self.config),
                    "--json-logs",
                ],
                env=self.environment,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )

    def receive(self, until: float) -> list[str]:
        """Every datagram until ``until`` (monotonic time)."""
        messages = []
        while (left := until - time.monotonic()) > 0:
            self.notify.settimeout(left)
            try:
                messages.append(self.notify.recv(4096).decode("utf-8"))
            except TimeoutError:
                break
        return messages

    def wait_for(self, line: str, timeout: float) -> list[str]:
        """Datagrams up to and including the first one that has ``line``."""
        deadline = time.monotonic() + timeout
        messages: list[str] = []
        while time.monotonic() < deadline:
            self.notify.settimeout(max(deadline - time.monotonic(), 0.01))
            try:
                message = self.notify.recv(4096).decode("utf-8")
            except TimeoutError:
                break
            messages.append(message)
            if line in message.splitlines():
                return messages
        raise AssertionError(f"no {line} within {timeout} s; got {messages}: {self.log_text()}")

    def log_text(self) -> str:
        return self.log.read_text("utf-8", errors="replace")


@pytest.fixture
def service() -> Iterator[Service]:
    # A short private folder: a Unix socket path must fit in about 100 bytes.
    with (
        tempfile.TemporaryDirectory(prefix="mvsepd-sd-") as directory,
        EmulatorServer(EmulatorSettings(publish_seconds=0.3, rate_limit=False)) as server,
    ):
        base = Path(directory)
        hot = base / "Hot folder"
        hot.mkdir()
        config = base / "config.yaml"
        config.write_text(CONFIG.format(server=server.url, hot=hot), encoding="utf-8")
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(str(base / "notify"))
        environment = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("MVSEPD_", "NOTIFY_", "WATCHDOG_", "MVSEP_"))
        }
        environment.update(
            NOTIFY_SOCKET=str(base / "notify"),
            WATCHDOG_USEC="1000000",
            MVSEP_API_TOKEN=server.add_account(plan="free").token,
            MVSEPD_CONFIG_DIR=str(base / "config"),
            MVSEPD_STATE_DIR=str(base / "state"),
            MVSEPD_CACHE_DIR=str(base / "cache"),
            MVSEPD_RUNTIME_DIR=str(base / "run"),
            MVSEPD_LOG_DIR=str(base / "log"),
            PYTHONUNBUFFERED="1",
        )
        try:
            yield Service(config, environment, notify, base / "daemon.log")
        finally:
            notify.close()


def test_ready_watchdog_status_and_stopping(service: Service) -> None:
    daemon = service.start()
    try:
        before_ready = service.wait_for("READY=1", timeout=30)
        # The first scan of every folder happens before READY=1 (watching starts, then scans).
        assert "watching hot folder" in service.log_text()
        ready = before_ready[-1].splitlines()
        assert any(line.startswith("STATUS=") and "active" in line for line in ready)

        second = subprocess.run(
            [sys.executable, "-m", "mvsepd", "run", "--config", str(service.config)],
            env={k: v for k, v in service.environment.items() if k != "NOTIFY_SOCKET"},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert second.returncode == 75, second.stderr
        assert second.stderr.count("\n") == 1
        assert "another mvsepd daemon" in second.stderr

        running = service.receive(until=time.monotonic() + 2.6)
        watchdog_pings = [message for message in running if message == "WATCHDOG=1"]
        assert len(watchdog_pings) >= 2, running
        assert any(message.startswith("STATUS=") for message in before_ready + running)

        stop_requested = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        stopping = service.wait_for("STOPPING=1", timeout=10)
        assert stopping
        assert daemon.wait(timeout=10) == 0, service.log_text()
        assert time.monotonic() - stop_requested < 10
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()


def test_a_broken_config_exits_78_with_one_line(service: Service) -> None:
    service.config.write_text("account: {server: 3}\nbogus: 1\n", encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, "-m", "mvsepd", "run", "--config", str(service.config), "--json-logs"],
        env=service.environment,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert completed.returncode == 78
    lines = completed.stderr.splitlines()
    assert len(lines) == 1, completed.stderr
    assert lines[0].startswith(f"mvsepd: cannot start: {service.config}: ")
    assert "account.server" in lines[0]
    assert "bogus: unknown key" in lines[0]
    service.notify.settimeout(0.1)
    with pytest.raises(TimeoutError):
        service.notify.recv(4096)  # never READY=1: systemd sees the start fail
