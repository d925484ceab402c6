"""A daemon with nothing to do stays asleep: its threads together wake at most once a second,
it runs a bounded number of threads, and numpy is not loaded before the first file. Its page
costs nothing while nobody looks, and a page open in a real browser (Chromium) adds at most
one wakeup a second.

Wakeups are counted, not timed: the voluntary context switches of every thread of the process
(``/proc/PID/task/*/status``), each one a thread that went to sleep and was woken again.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.integration.support import (
    FAST_DAEMON,
    Setup,
    start_daemon_process,
    stop_process,
    wait_until,
)
from tests.page.browser import chromium

FOLDERS = 10
WINDOW_SECONDS = 20.0
MAX_THREADS = 16

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/task").is_dir(),
    reason="wakeups are counted in /proc/PID/task, which only Linux has",
)


def _switches(pid: int) -> int:
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            for line in (task / "status").read_text().splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    total += int(line.split()[1])
    return total


def _status_field(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1])
    raise AssertionError(f"{name} not in /proc/{pid}/status")


def _config(setup: Setup, tmp: Path) -> Path:
    extra = ""
    for index in range(1, FOLDERS):
        folder = tmp / "Exports" / f"Room {index}"
        folder.mkdir(parents=True)
        extra += f'  - {{path: "{folder}", preset: four, existing_files: process}}\n'
    daemon = FAST_DAEMON + "\n  page_port: 0"
    return setup.write_config(setup.config_text(extra_folders=extra, daemon=daemon))


@contextlib.contextmanager
def _open_page(setup: Setup) -> Iterator[None]:
    """mvsepd's page open in Chromium, signed in as ``mvsepd open`` signs one in."""
    info = json.loads(setup.paths.runtime_file.read_text(encoding="utf-8"))
    base = f"http://{info['host']}:{info['port']}"
    headers = {"Authorization": f"Bearer {info['token']}"}
    url = requests.post(base + "/v1/page/sign-in", headers=headers, timeout=10).json()["url"]
    with chromium() as browser:
        browser.get(url)
        wait_until(lambda: browser.title.startswith("Folders"), 10, message="the page")
        yield


@contextlib.contextmanager
def _long_poll(setup: Setup) -> Iterator[None]:
    """Keep a long-poll open on the status API all the time, as the tray does."""
    info = json.loads(setup.paths.runtime_file.read_text(encoding="utf-8"))
    url = f"http://{info['host']}:{info['port']}/v1/events"
    headers = {"Authorization": f"Bearer {info['token']}"}
    stop = threading.Event()

    def loop() -> None:
        version: int | None = None
        with requests.Session() as session:
            while not stop.is_set():
                params = {"timeout": "25", **({"since": str(version)} if version else {})}
                with contextlib.suppress(requests.RequestException, ValueError):
                    answer = session.get(url, params=params, headers=headers, timeout=35)
                    version = int(answer.json()["version"])

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()


def _wakeups_per_second(pid: int, seconds: float = WINDOW_SECONDS) -> float:
    before = _switches(pid)
    started = time.monotonic()
    time.sleep(seconds)
    return (_switches(pid) - before) / (time.monotonic() - started)


#: What only work loads (a file to convert, a save of the configuration, the page's first
#: visit): an idle daemon carries none of it.
NOT_AT_REST = ("numpy", "soundfile", "soxr", "mutagen", "ruamel", "jinja2")


def test_an_idle_daemon_sleeps(
    setup: Setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(setup, tmp_path)
    # The daemon says every module it imports (in its log), so what rest carries is seen.
    monkeypatch.setenv("PYTHONPROFILEIMPORTTIME", "1")
    process = start_daemon_process(setup, config)
    try:
        log = setup.tmp / "daemon.log"
        wait_until(lambda: '"daemon_ready"' in log.read_text(), 60, message="the daemon")
        # The account and catalog checks at start are work, not rest.
        wait_until(lambda: setup.server.state.jobs() == [], 5, message="nothing to do")
        time.sleep(3)
        pid = process.pid
        threads = _status_field(pid, "Threads")
        assert threads <= MAX_THREADS, f"{threads} threads at rest"
        rate = _wakeups_per_second(pid)
        assert rate <= 1.0, f"{rate:.2f} wakeups per second at rest, summed over its threads"
        maps = Path(f"/proc/{pid}/maps").read_text()
        assert "numpy" not in maps and "openblas" not in maps.lower(), "numpy loaded at rest"
        imported = re.findall(r"^import time:.*\|\s*(\S+)\s*$", log.read_text(), re.MULTILINE)
        assert "mvsepd.process.daemon" in imported  # the import log is there to be read
        carried = sorted({name for name in imported if name.split(".")[0] in NOT_AT_REST})
        assert carried == [], f"imported at rest: {carried}"
        with _long_poll(setup):
            time.sleep(1)
            polled = _wakeups_per_second(pid)
        assert polled <= 1.5, f"{polled:.2f} wakeups per second with a status client waiting"
        with _open_page(setup):
            time.sleep(1)
            # Longer than the page's long-poll (25 s): at least one of its requests ends in it.
            looked_at = _wakeups_per_second(pid, 30)
        # Shown with -s (and with a failure): the figures the targets are about.
        print(
            f"at rest: {rate:.2f} wakeups/s, {threads} threads; a status client waiting: "
            f"{polled:.2f}/s; the page open in Chromium: {looked_at:.2f}/s"
        )
        assert looked_at <= rate + 1.0, (
            f"{looked_at:.2f} wakeups per second with the page open, {rate:.2f} without"
        )
    finally:
        assert stop_process(process) == 0
