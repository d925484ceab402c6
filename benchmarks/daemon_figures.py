"""The daemon's figures, each next to a baseline measured in the same run.

- start-up time with N already-processed files vs walking and stat-ing the same tree;
- per-job overhead over 100 jobs against an instant emulator vs a minimal serial client;
- delay from the end of a write to the upload, beyond the stability window;
- HTTP requests per job for a job that waits 10 minutes in the queue vs a fixed 5 s poll loop,
  and for one that MVSEP processes for 10 minutes, of a model mvsepd has not seen finish and of
  one it has (time scaled down 100x: the daemon's schedule is proportional).
"""

from __future__ import annotations

import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    ROOT,
    daemon_process,
    folders_config,
    make_folders,
    write_wav,
)
from mvsepd.api import MvsepClient
from mvsepd.emulator import EmulatorServer, EmulatorSettings
from mvsepd.models import RemoteStatus
from mvsepd.store import JobStore

INSTANT = EmulatorSettings(
    publish_seconds=0.0, queue_seconds=0, processing_seconds=0, rate_limit=False
)

_WALK_BASELINE = """
import os, sys, time
started = time.monotonic()
count = 0
for folder in sys.argv[1:]:
    for entry in os.scandir(folder):
        entry.stat()
        count += 1
print(time.monotonic() - started, count)
"""


def startup(files: int) -> dict[str, Any]:
    """Seconds from start to READY with ``files`` already-processed files in 10 folders."""
    with EmulatorServer(INSTANT) as server, tempfile.TemporaryDirectory() as directory:
        token = server.add_account().token
        work = Path(directory)
        folders = make_folders(work / "music", 10)
        per_folder = files // len(folders)
        rows = []
        for folder in folders:
            for index in range(per_folder):
                path = folder / f"take {index:06d}.wav"
                path.write_bytes(b"RIFF")
                status = path.stat()
                rows.append(
                    (str(folder), path.name, status.st_size, status.st_mtime_ns, "job", 0.0)
                )
        store_file = work / "state" / "jobs.sqlite3"
        JobStore(store_file).close()  # creates the schema
        connection = sqlite3.connect(store_file)
        with connection:
            connection.executemany(
                "INSERT INTO sources (folder_path, relative_path, size, mtime_ns, verdict, "
                "seen_at) VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
            connection.executemany(
                "INSERT INTO folders (path, first_watched_at) VALUES (?, 0)",
                [(str(folder),) for folder in folders],
            )
        connection.close()
        config = folders_config(server.url, folders)
        timings = []
        for _ in range(3):
            with daemon_process(config, token, workdir=work) as daemon:
                timings.append(daemon.wait_for("READY=1") - daemon.started)
            assert server.state.create_count() == 0, "an already-processed file was submitted"
        walk = subprocess.run(
            [sys.executable, "-c", _WALK_BASELINE, *map(str, folders)],
            capture_output=True,
            text=True,
            check=True,
        )
        interpreter = _import_time()
    return {
        "files": files,
        "daemon_ready_seconds": statistics.median(timings),
        "walk_and_stat_seconds": float(walk.stdout.split()[0]),
        "python_and_imports_seconds": interpreter,
    }


def _import_time() -> float:
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-c", "import mvsepd.process.daemon, mvsepd.cli"],
        check=True,
        env={"PYTHONPATH": str(ROOT)},
    )
    return time.monotonic() - started


def per_job_overhead(jobs: int = 100) -> dict[str, Any]:
    """Seconds per job for the daemon vs a bare serial client, instant emulator, free plan."""
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        sources = work / "sources"
        sources.mkdir()
        for index in range(jobs):
            write_wav(sources / f"take {index:03d}.wav", 0.2, seed=index)
        with EmulatorServer(INSTANT) as server:
            token = server.add_account().token
            started = time.monotonic()
            _bare_client(server.url, token, sources, work / "bare")
            bare = (time.monotonic() - started) / jobs
        with EmulatorServer(INSTANT) as server:
            token = server.add_account().token
            (hot,) = make_folders(work / "music", 1)
            for path in sources.iterdir():
                path.rename(hot / path.name)
            with daemon_process(folders_config(server.url, [hot]), token, workdir=work) as d:
                ready = d.wait_for("READY=1")
                store = work / "state" / "jobs.sqlite3"
                while _done(store) < jobs:
                    time.sleep(0.05)
                daemon = (time.monotonic() - ready) / jobs
                assert server.state.create_count() == jobs
    return {
        "jobs": jobs,
        "daemon_seconds_per_job": daemon,
        "bare_client_seconds_per_job": bare,
        "overhead_seconds_per_job": daemon - bare,
    }


def _done(store_file: Path) -> int:
    connection = sqlite3.connect(store_file)
    try:
        return int(connection.execute("SELECT COUNT(*) FROM jobs WHERE state='done'").fetchone()[0])
    finally:
        connection.close()


def _bare_client(server: str, token: str, sources: Path, output: Path) -> None:
    output.mkdir()
    with MvsepClient(token, server) as client:
        for path in sorted(sources.iterdir()):
            created = client.create_separation(path, sep_type=20, output_format=1)
            while True:
                status = client.get_separation(created.hash)
                if status.status is RemoteStatus.DONE:
                    break
                time.sleep(0.05)
            for index, result in enumerate(status.files):
                client.download_result(result, output / f"{path.stem}-{index}.wav")


def stability_delay(samples: int = 10, window: float = 1.0) -> dict[str, Any]:
    """Seconds from the end of a write to its upload, minus the stability window."""
    delays = []
    with EmulatorServer(INSTANT) as server, tempfile.TemporaryDirectory() as directory:
        token = server.add_account().token
        work = Path(directory)
        (hot,) = make_folders(work / "music", 1)
        config = folders_config(server.url, [hot]).replace(
            "stability_seconds: 0.2", f"stability_seconds: {window}"
        )
        with daemon_process(config, token, workdir=work) as daemon:
            daemon.wait_for("READY=1")
            for index in range(samples):
                path = hot / f"take {index}.wav"
                write_wav(path, 0.2, seed=index)
                written = time.time()
                while server.state.create_count() < index + 1:
                    time.sleep(0.01)
                created = max(job.created_at for job in server.state.jobs())
                delays.append(created - written - window)
                time.sleep(0.5)
    return {
        "window_seconds": window,
        "median_beyond_window_seconds": statistics.median(delays),
        "max_beyond_window_seconds": max(delays),
        "samples": samples,
    }


def _scaled_config(server: str, hot: Path, scale: float) -> str:
    """One folder, with the daemon's real poll intervals (5 s first, 30 s at most) divided by
    ``scale``."""
    return folders_config(server, [hot]).replace(
        "poll_first_seconds: 0.05\n  poll_max_seconds: 0.3",
        f"poll_first_seconds: {5 / scale}\n  poll_max_seconds: {30 / scale}",
    )


def requests_per_waiting_job(scale: float = 100.0, before: Path | None = None) -> dict[str, Any]:
    """HTTP requests spent on one job that waits 10 minutes (scaled down ``scale`` times); with
    ``before``, also by the daemon of that checkout."""
    figures = _waiting_requests(scale, ROOT)
    if before is not None:
        earlier = _waiting_requests(scale, before)
        figures["before_requests"] = earlier["daemon_requests"]
        figures["before_polls"] = earlier["daemon_polls"]
    return figures


def _waiting_requests(scale: float, source: Path) -> dict[str, Any]:
    wait = 600.0 / scale
    settings = EmulatorSettings(
        publish_seconds=0.0, queue_seconds=wait, processing_seconds=0, rate_limit=False
    )
    with EmulatorServer(settings) as server, tempfile.TemporaryDirectory() as directory:
        token = server.add_account().token
        work = Path(directory)
        (hot,) = make_folders(work / "music", 1)
        config = _scaled_config(server.url, hot, scale)
        write_wav(hot / "waits.wav", 0.2, seed=1)
        with daemon_process(config, token, workdir=work, source=source) as daemon:
            daemon.wait_for("READY=1")
            store = work / "state" / "jobs.sqlite3"
            deadline = time.monotonic() + wait * 4 + 30
            while _done(store) < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            connection = sqlite3.connect(store)
            # ``polls`` counts the answers before "done"; the "done" answer is one more.
            polls = int(connection.execute("SELECT polls FROM jobs").fetchone()[0]) + 1
            connection.close()
        files = len(server.state.jobs()[0].files)
    fixed_polls = 0
    with EmulatorServer(settings) as server, tempfile.TemporaryDirectory() as directory:
        token = server.add_account().token
        path = Path(directory) / "waits.wav"
        write_wav(path, 0.2, seed=1)
        with MvsepClient(token, server.url) as client:
            created = client.create_separation(path, sep_type=20, output_format=1)
            while client.get_separation(created.hash).status is not RemoteStatus.DONE:
                fixed_polls += 1
                time.sleep(5 / scale)
            fixed_polls += 1
    return {
        "queue_wait_seconds": 600,
        "daemon_requests": 1 + polls + files,
        "daemon_polls": polls,
        "fixed_5s_loop_requests": 1 + fixed_polls + files,
        "fixed_5s_loop_polls": fixed_polls,
        "time_scale": scale,
    }


def requests_per_processing_job(scale: float = 100.0) -> dict[str, Any]:
    """Status polls of a job MVSEP processes for 10 minutes (scaled down ``scale`` times): the
    first of its model, then a second one once the first's processing time is recorded."""
    processing = 600.0 / scale
    settings = EmulatorSettings(
        publish_seconds=0.0, queue_seconds=0.0, processing_seconds=processing, rate_limit=False
    )
    with EmulatorServer(settings) as server, tempfile.TemporaryDirectory() as directory:
        token = server.add_account().token
        work = Path(directory)
        (hot,) = make_folders(work / "music", 1)
        config = _scaled_config(server.url, hot, scale)
        store = work / "state" / "jobs.sqlite3"
        polls = []
        with daemon_process(config, token, workdir=work) as daemon:
            daemon.wait_for("READY=1")
            for index in range(2):
                write_wav(hot / f"take {index}.wav", 0.2, seed=index)
                deadline = time.monotonic() + processing * 4 + 30
                while _done(store) < index + 1 and time.monotonic() < deadline:
                    time.sleep(0.05)
                connection = sqlite3.connect(store)
                rows = connection.execute("SELECT polls FROM jobs ORDER BY id").fetchall()
                connection.close()
                # ``polls`` counts the answers before "done"; the "done" answer is one more.
                polls.append(int(rows[index][0]) + 1)
        files = len(server.state.jobs()[0].files)
    return {
        "processing_seconds": 600,
        "first_of_model_requests": 1 + polls[0] + files,
        "first_of_model_polls": polls[0],
        "model_seen_requests": 1 + polls[1] + files,
        "model_seen_polls": polls[1],
        "time_scale": scale,
    }
