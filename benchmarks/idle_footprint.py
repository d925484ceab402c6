"""What an idle daemon costs the machine: wakeups, threads, memory and CPU, beside a floor.

    python -m benchmarks.idle_footprint [--seconds 60] [--source PATH] [--json]

A daemon watching 10 empty folders with nothing to do is measured over a window:

- wakeups: voluntary context switches summed over every thread (``/proc/PID/task/*/status``),
  the number of times a thread went to sleep and was woken again; a thread that sleeps on a
  timeout wakes once per timeout, one that blocks on a file descriptor only when data comes;
- threads (``Threads:``), resident memory (``VmRSS``) and CPU time (``/proc/PID/stat``).

Three set-ups: 10 native folders; the same with one status client holding a long-poll open
all the time (what the tray does); 10 folders polled every 30 s. The floor is Python with one
watchdog Observer scheduled on the same 10 folders. ``--source`` measures another checkout of
mvsepd (a ``git worktree`` of an older commit, say) with this checkout's benchmark code.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

from benchmarks.harness import (
    ROOT,
    cpu_seconds,
    daemon_process,
    folders_config,
    make_folders,
    rss_mib,
)
from mvsepd.emulator import EmulatorServer, EmulatorSettings

INSTANT = EmulatorSettings(
    publish_seconds=0.0, queue_seconds=0, processing_seconds=0, rate_limit=False
)

_FLOOR = """
import os, signal, sys
from watchdog.events import FileSystemEventHandler
from watchdog.observers import Observer
observer = Observer()
for folder in sys.argv[1:]:
    observer.schedule(FileSystemEventHandler(), folder, recursive=False)
observer.start()
print("ready", flush=True)
signal.pause()
"""


def thread_switches(pid: int) -> dict[int, int]:
    """Voluntary context switches of each thread of ``pid``, by thread id."""
    counts: dict[int, int] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError):
            for line in (task / "status").read_text().splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    counts[int(task.name)] = int(line.split()[1])
    return counts


def threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


def window(pid: int, seconds: float) -> dict[str, float]:
    """Wakeups per second, CPU % of a core, threads and RSS of ``pid`` over ``seconds``."""
    before = thread_switches(pid)
    cpu_before = cpu_seconds(pid)
    started = time.monotonic()
    time.sleep(seconds)
    after = thread_switches(pid)
    elapsed = time.monotonic() - started
    cpu = cpu_seconds(pid) - cpu_before
    # Threads that started in the window count from zero; those that ended are lost (none do
    # at rest).
    woken = sum(count - before.get(tid, 0) for tid, count in after.items())
    return {
        "wakeups_per_second": woken / elapsed,
        "cpu_percent": 100 * cpu / elapsed,
        "threads": threads(pid),
        "rss_mb": rss_mib(pid),
        "seconds": elapsed,
    }


@contextlib.contextmanager
def _long_poll(runtime_dir: Path) -> Iterator[None]:
    """Hold a long-poll on the daemon's status API open, as the tray does, until the end."""
    info = json.loads((runtime_dir / "statusapi.json").read_text(encoding="utf-8"))
    url = f"http://{info['host']}:{info['port']}/v1/events"
    headers = {"Authorization": f"Bearer {info['token']}"}
    stop = threading.Event()

    def loop() -> None:
        version = None
        with requests.Session() as session:
            while not stop.is_set():
                params = (
                    {"timeout": "25"} if version is None else {"since": version, "timeout": "25"}
                )
                with contextlib.suppress(requests.RequestException):
                    version = session.get(url, params=params, headers=headers, timeout=40).json()[
                        "version"
                    ]

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()


def daemon_idle(seconds: float, *, source: Path = ROOT) -> dict[str, Any]:
    """The three set-ups of the module docstring for the mvsepd at ``source``."""
    results: dict[str, Any] = {}
    with EmulatorServer(INSTANT) as server:
        token = server.add_account().token
        for name, watch in (("native", "native"), ("long_poll", "native"), ("poll", "poll")):
            with tempfile.TemporaryDirectory() as directory:
                work = Path(directory)
                folders = make_folders(work / "music")
                extra_folder = ", poll_interval: 30" if watch == "poll" else ""
                config = folders_config(server.url, folders, watch=watch).replace(
                    "stability_seconds: 0.2}", f"stability_seconds: 0.2{extra_folder}}}"
                )
                with daemon_process(config, token, workdir=work, source=source) as daemon:
                    daemon.wait_for("READY=1")
                    time.sleep(3)  # the catalog and account checks at start are not rest
                    holder = (
                        _long_poll(work / "runtime")
                        if name == "long_poll"
                        else contextlib.nullcontext()
                    )
                    with holder:
                        if name == "long_poll":
                            time.sleep(1)
                        results[name] = window(daemon.process.pid, seconds)
    return results


def floor_idle(seconds: float) -> dict[str, float]:
    """Python with one watchdog Observer on 10 folders: what watching alone costs."""
    with tempfile.TemporaryDirectory() as directory:
        folders = make_folders(Path(directory))
        process = subprocess.Popen(
            [sys.executable, "-c", _FLOOR, *map(str, folders)], stdout=subprocess.PIPE, text=True
        )
        try:
            assert process.stdout is not None
            process.stdout.readline()
            time.sleep(1)
            return window(process.pid, seconds)
        finally:
            process.kill()
            process.wait()
            if process.stdout is not None:
                process.stdout.close()


def measure(seconds: float, before: Path | None = None) -> dict[str, Any]:
    """This checkout, an older one (``before``) when given, and the floor."""
    figures: dict[str, Any] = {"seconds": seconds, "after": daemon_idle(seconds)}
    if before is not None:
        figures["before"] = daemon_idle(seconds, source=before)
    figures["floor"] = floor_idle(seconds)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each window")
    parser.add_argument("--source", type=Path, default=None, help="another mvsepd checkout")
    parser.add_argument("--json", action="store_true", help="print JSON instead of lines")
    args = parser.parse_args()
    figures = measure(args.seconds, args.source)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    for label, rows in (("this checkout", figures["after"]), ("--source", figures.get("before"))):
        if rows is None:
            continue
        for name, row in rows.items():
            print(
                f"{label:14} {name:10} {row['wakeups_per_second']:6.2f} wakeups/s "
                f"{row['threads']:3d} threads {row['rss_mb']:5.1f} MB "
                f"{row['cpu_percent']:.3f} % CPU"
            )
    floor = figures["floor"]
    print(
        f"{'floor':14} {'native':10} {floor['wakeups_per_second']:6.2f} wakeups/s "
        f"{floor['threads']:3d} threads {floor['rss_mb']:5.1f} MB {floor['cpu_percent']:.3f} % CPU"
    )


if __name__ == "__main__":
    main()
