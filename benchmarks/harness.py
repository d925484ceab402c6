"""Plumbing for the benchmarks: a daemon in its own process, its CPU time, its readiness, and
a checkout of an earlier commit to run "before" figures from.

The daemon runs as ``python -m mvsepd run`` with private directories; readiness is taken from
its own systemd notification (``READY=1`` on a datagram socket), so start-up times are exact.

The benchmarks' modules import in layers, never in a circle: this module, ``processes``,
``music`` and the ``report_*`` renderers import no other benchmark; each measuring module
imports only those; ``run`` imports the measuring modules and the renderers
(``tests/test_layering.py`` checks it).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy
import soundfile

ROOT = Path(__file__).resolve().parents[1]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """Return user + system CPU seconds of a process (all its threads) from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mib(pid: int) -> float:
    """Return a process's resident memory in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def write_wav(path: Path, seconds: float, seed: int) -> None:
    """Write a small stereo WAV (noise)."""
    generator = numpy.random.default_rng(seed)
    soundfile.write(str(path), generator.uniform(-0.3, 0.3, (int(seconds * 22050), 2)), 22050)


@contextmanager
def worktree(revision: str) -> Iterator[Path]:
    """A checkout of ``revision`` beside this one (removed afterwards)."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "before"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(path), revision],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        try:
            yield path
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(path)],
                cwd=ROOT,
                check=False,
                capture_output=True,
            )


@dataclass
class DaemonProcess:
    """A daemon started by ``daemon_process``."""

    process: subprocess.Popen[bytes]
    notify: socket.socket
    started: float
    workdir: Path

    def wait_for(self, prefix: str, timeout: float = 120.0) -> float:
        """Block until a notification starting with ``prefix`` arrives; return its time."""
        self.notify.settimeout(timeout)
        while True:
            message = self.notify.recv(4096).decode()
            if any(line.startswith(prefix) for line in message.splitlines()):
                return time.monotonic()


@contextmanager
def daemon_process(
    config_text: str, token: str, *, workdir: Path, source: Path = ROOT
) -> Iterator[DaemonProcess]:
    """Run ``mvsepd run`` with ``config_text`` until the block ends (then SIGTERM); ``source``
    is the checkout whose mvsepd runs (this one by default)."""
    config = workdir / "config.yaml"
    config.write_text(config_text, encoding="utf-8")
    socket_path = Path(tempfile.mkdtemp(prefix="mvsepd-bench-")) / "notify"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(socket_path))
    environment = {
        **os.environ,
        "MVSEP_API_TOKEN": token,
        "NOTIFY_SOCKET": str(socket_path),
        "PYTHONPATH": str(source),
        **{
            f"MVSEPD_{name}_DIR": str(workdir / name.lower())
            for name in ("CONFIG", "STATE", "CACHE", "LOG", "RUNTIME")
        },
    }
    environment.pop("WATCHDOG_USEC", None)
    log = (workdir / "daemon.log").open("ab")
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "mvsepd", "run", "--config", str(config), "--json-logs"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=environment,
        # Not this checkout: `python -m` puts the working folder first on sys.path, and the
        # mvsepd found there would win over ``source`` (the "before" daemon ran this one).
        cwd=workdir,
    )
    try:
        yield DaemonProcess(process, notify, started, workdir)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        notify.close()
        socket_path.unlink(missing_ok=True)
        socket_path.parent.rmdir()


def make_folders(base: Path, count: int = 10) -> list[Path]:
    """``count`` empty hot folders below ``base``."""
    folders = []
    for index in range(count):
        folder = base / f"hot {index:02d}"
        folder.mkdir(parents=True)
        folders.append(folder)
    return folders


def folders_config(
    server: str, folders: list[Path], *, watch: str = "native", extra: str = ""
) -> str:
    """A configuration with one preset and ``folders`` (all processed, quick stability)."""
    entries = "\n".join(
        f'  - {{path: "{folder}", preset: p, watch: {watch}, existing_files: process, '
        f"stability_seconds: 0.2}}"
        for folder in folders
    )
    return f"""account: {{server: "{server}"}}
presets:
  p: {{sep_type: 20, output_format: wav16}}
folders:
{entries}
daemon:
  poll_first_seconds: 0.05
  poll_max_seconds: 0.3
  lost_upload_grace_seconds: 5
  {extra}
"""
