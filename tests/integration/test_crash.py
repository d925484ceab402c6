"""Crashes and restarts: the daemon in its own process, killed with SIGKILL in each state.

Whatever moment it dies, the next start ends with exactly one create per file at MVSEP (nothing
paid twice), complete stems and no half-written file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import select
import signal
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable

import pytest
import soundfile

from mvsepd.emulator import EmulatorSettings
from mvsepd.models import JobState
from mvsepd.store import JobStore, SourceRecord
from tests.integration.support import (
    Setup,
    start_daemon_process,
    stop_process,
    wait_until,
    write_wav,
)


def in_state(setup: Setup, state: JobState) -> bool:
    return any(job.state is state for job in setup.jobs())


def all_done(setup: Setup, count: int) -> bool:
    jobs = setup.jobs()
    return len(jobs) == count and all(job.state is JobState.DONE for job in jobs)


def assert_complete(setup: Setup, files: int, seconds: float) -> None:
    assert setup.server.state.create_count() == files, "a file was paid for twice"
    assert len(setup.manifests()) == files
    for stem in setup.outputs.rglob("*.wav"):
        assert abs(soundfile.info(str(stem)).duration - seconds) < 0.01, stem
    assert setup.leftovers() == []


def crash_and_recover(
    setup: Setup, moment: Callable[[], bool], what: str, *, files: int = 1, seconds: float = 0.5
) -> None:
    for index in range(files):
        write_wav(setup.hot / f"track {index}.wav", seconds, seed=index)
    config = setup.write_config()
    process = start_daemon_process(setup, config)
    try:
        wait_until(moment, 30, message=what)
    finally:
        assert stop_process(process, kill=True) == -signal.SIGKILL
    setup.server.faults.clear()
    process = start_daemon_process(setup, config)
    try:
        wait_until(lambda: all_done(setup, files), 60, message="every job after the restart")
    finally:
        assert stop_process(process) == 0
    assert_complete(setup, files, seconds)


def test_killed_while_uploading(setup: Setup) -> None:
    setup.server.faults.set("slow", endpoints=["/api/separation/create"], delay_seconds=3)
    crash_and_recover(setup, lambda: in_state(setup, JobState.UPLOADING), "an upload in flight")


def test_killed_right_after_a_create_whose_answer_was_lost(setup: Setup) -> None:
    # The job exists at MVSEP but the daemon never heard of its hash; it dies while looking
    # for it in the history (held up by a slow answer).
    setup.server.faults.set("lost_response", count=1)
    setup.server.faults.set("slow", endpoints=["/api/app/separation_history"], delay_seconds=3)
    crash_and_recover(
        setup,
        lambda: setup.server.state.create_count() == 1,
        "the create to happen with its answer lost",
    )


@pytest.mark.parametrize(
    "emulator_settings",
    [
        EmulatorSettings(
            publish_seconds=0.3, queue_seconds=3.0, processing_seconds=0.1, rate_limit=False
        )
    ],
)
def test_killed_while_the_job_waits_at_mvsep(setup: Setup) -> None:
    crash_and_recover(
        setup, lambda: in_state(setup, JobState.SUBMITTED), "the job to wait in the queue"
    )


def test_killed_while_downloading(setup: Setup) -> None:
    setup.server.faults.set("slow", endpoints=["/storage/processed/"], delay_seconds=1)
    crash_and_recover(
        setup,
        lambda: (
            in_state(setup, JobState.DOWNLOADING)
            # A stem fully down (as FLAC 16: the folder conforms its stems), others still coming.
            and any(
                path.suffix in (".wav", ".flac")
                for path in setup.tmp.rglob(".mvsepd-staging/*/mvsep-*")
            )
        ),
        "a download half done",
        seconds=2.0,
    )


def test_killed_repeatedly_with_several_files(setup: Setup) -> None:
    for index in range(4):
        write_wav(setup.hot / f"take {index}.wav", 0.3, seed=index)
    setup.server.faults.set("slow", rate=0.5, delay_seconds=0.5)
    config = setup.write_config()
    for round_number in range(6):
        process = start_daemon_process(setup, config)
        time.sleep(0.7 + 0.3 * round_number)
        stop_process(process, kill=True)
    setup.server.faults.clear()
    process = start_daemon_process(setup, config)
    try:
        wait_until(lambda: all_done(setup, 4), 60, message="every job after six kills")
    finally:
        stop_process(process)
    assert_complete(setup, 4, 0.3)


def test_a_file_whose_check_a_kill_cut_short_is_checked_at_the_next_start(setup: Setup) -> None:
    # What a SIGKILL while the daemon hashed a file leaves (seen in a run of the test above):
    # the file recorded as being checked, with no job. The next start must look at it again.
    take = setup.hot / "take 2.wav"
    write_wav(take, 0.3, seed=2)
    status = take.stat()
    with JobStore(setup.paths.store_file) as store:
        store.record_source(
            SourceRecord(str(setup.hot), take.name, status.st_size, status.st_mtime_ns,
                         None, None, "checking")
        )  # fmt: skip
    time.sleep(0.05)  # the check began before the daemon's start
    process = start_daemon_process(setup, setup.write_config())
    try:
        wait_until(lambda: all_done(setup, 1), 60, message="the file checked again")
    finally:
        assert stop_process(process) == 0
    assert_complete(setup, 1, 0.3)


def test_sigterm_stops_within_ten_seconds_even_mid_upload(setup: Setup) -> None:
    setup.server.faults.set("slow", endpoints=["/api/separation/create"], delay_seconds=30)
    write_wav(setup.hot / "long upload.wav", 0.3)
    config = setup.write_config()
    process = start_daemon_process(setup, config)
    try:
        wait_until(lambda: in_state(setup, JobState.UPLOADING), 30, message="the upload")
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        assert time.monotonic() - started < 10
    finally:
        stop_process(process, kill=True)


def test_a_second_signal_exits_at_once(setup: Setup) -> None:
    setup.server.faults.set("slow", endpoints=["/api/separation/create"], delay_seconds=30)
    write_wav(setup.hot / "long upload.wav", 0.3)
    process = start_daemon_process(setup, setup.write_config())
    try:
        wait_until(lambda: in_state(setup, JobState.UPLOADING), 30, message="the upload")
        process.send_signal(signal.SIGINT)
        time.sleep(0.3)
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=5) == 128 + signal.SIGINT
        assert time.monotonic() - started < 2
    finally:
        stop_process(process, kill=True)


def test_closing_the_terminal_of_mvsepd_run_stops_it(setup: Setup) -> None:
    # `mvsepd run` in a terminal window: closing the window hangs the terminal up (SIGHUP to
    # its session), and mvsepd stops as every program started there does, its jobs saved.
    config = setup.write_config()
    controller, terminal = pty.openpty()

    def take_the_terminal() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # the new session's controlling terminal

    command = [sys.executable, "-m", "mvsepd", "run", "--config", str(config)]
    process = subprocess.Popen(
        command,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=setup.environment(),
        start_new_session=True,
        text=True,
        preexec_fn=take_the_terminal,
    )
    os.close(terminal)
    said: list[bytes] = []
    closing = threading.Event()

    def listen() -> None:  # what the window shows (and a full terminal never blocks mvsepd)
        with contextlib.suppress(OSError):
            while not closing.is_set():
                if select.select([controller], [], [], 0.1)[0]:
                    said.append(os.read(controller, 65536))

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    try:
        write_wav(setup.hot / "take.wav", 0.2)
        wait_until(lambda: all_done(setup, 1), 60, message="the take, with the terminal open")
        wait_until(lambda: b"stems ready" in b"".join(said), 10, message="the words")
        closing.set()
        listener.join()  # a read in flight would keep the terminal open
        os.close(controller)  # the window closes: the terminal hangs up
        assert process.wait(timeout=15) == 0
    finally:
        stop_process(process, kill=True)


def test_one_daemon_per_state_directory(setup: Setup) -> None:
    config = setup.write_config()
    first = start_daemon_process(setup, config)
    try:
        wait_until(lambda: setup.paths.store_file.exists(), 20, message="the first daemon")
        time.sleep(0.5)
        second = start_daemon_process(setup, config)
        assert second.wait(timeout=20) == 75
        assert "another mvsepd daemon" in (setup.tmp / "daemon.log").read_text()
        assert first.poll() is None
    finally:
        assert stop_process(first) == 0
