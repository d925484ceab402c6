"""Bad input: each case leaves the original untouched, shows its reason in the job list and the
log, and never stops the daemon (a good file dropped afterwards is still processed)."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from mvsepd.emulator import EmulatorSettings
from mvsepd.models import JobRecord, JobState
from tests.integration.support import (
    Setup,
    running_daemon,
    start_daemon_process,
    stop_process,
    wait_until,
    write_wav,
)


def failed_job(daemon_store_jobs: list[JobRecord], name: str) -> JobRecord | None:
    for job in daemon_store_jobs:
        if job.source_name == name and job.state is JobState.FAILED:
            return job
    return None


def still_works(setup: Setup, daemon, done: int) -> None:
    write_wav(setup.hot / f"good after {done}.wav", 0.2, seed=100 + done)
    wait_until(lambda: daemon.done(done), 30, message="a good file after the bad one")


# Empty and truncated files are not failures: they are reported incomplete and taken once
# complete (test_incomplete_files.py).
@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("notes.wav", b"this is a text file, not audio\n" * 20, "not an audio file"),
        ("lies.m4a", b"<html>not really</html>", "not a m4a audio file"),
    ],
)
def test_broken_files_fail_with_their_reason(
    setup: Setup, name: str, content: bytes, reason: str
) -> None:
    with running_daemon(setup) as daemon:
        (setup.hot / name).write_bytes(content)
        job = wait_until(
            lambda: failed_job(daemon.store.jobs(), name), 30, message=f"{name} to fail"
        )
        assert job.reason is not None and reason in job.reason
        still_works(setup, daemon, 1)
    assert (setup.hot / name).read_bytes() == content
    assert setup.server.state.create_count() == 1


def test_a_file_deleted_or_renamed_while_being_checked(setup: Setup) -> None:
    config = setup.config_text(stability=1.0)
    with running_daemon(setup, config) as daemon:
        write_wav(setup.hot / "gone.wav", 0.2, seed=1)
        write_wav(setup.hot / "old name.wav", 0.2, seed=2)
        time.sleep(0.3)
        (setup.hot / "gone.wav").unlink()
        (setup.hot / "old name.wav").rename(setup.hot / "new name.wav")
        wait_until(lambda: daemon.done(1), 30, message="the renamed file")
        time.sleep(1.5)
        assert [job.source_name for job in daemon.store.jobs()] == ["new name.wav"]
    assert setup.server.state.create_count() == 1


@pytest.mark.parametrize(
    "emulator_settings",
    [
        EmulatorSettings(
            publish_seconds=0.3, queue_seconds=2.0, processing_seconds=0.1, rate_limit=False
        )
    ],
)
def test_a_file_that_changes_while_uploading_is_not_trusted(setup: Setup) -> None:
    setup.token = setup.server.add_account(plan="premium", credits=100).token
    # The upload's answer is held back, giving the test time to change the file under it.
    setup.server.faults.set(
        "slow", count=1, endpoints=["/api/separation/create"], delay_seconds=1.5
    )
    path = setup.hot / "changing.wav"
    write_wav(path, 0.5, seed=1)
    with running_daemon(setup) as daemon:
        wait_until(
            lambda: any(j.state is JobState.UPLOADING for j in daemon.store.jobs()),
            20,
            message="the upload to start",
        )
        write_wav(path, 0.5, seed=2)
        first = wait_until(
            lambda: failed_job(daemon.store.jobs(), "changing.wav"), 30, message="the first"
        )
        assert first.reason is not None and "changed while it was being uploaded" in first.reason
        wait_until(lambda: daemon.done(1), 30, message="the new version")
    # The first upload was cancelled at MVSEP before it started, so its credit was refunded:
    # only the new version is paid for.
    jobs = setup.server.state.jobs()
    assert sorted((job.removed, job.status) for job in jobs) == [(False, "done"), (True, "waiting")]
    assert setup.server.state.credits(setup.token) == 99


@pytest.mark.parametrize(
    "emulator_settings",
    [
        EmulatorSettings(
            publish_seconds=0.3,
            processing_seconds=0.1,
            rate_limit=False,
            free_max_upload_bytes=100_000,
        )
    ],
)
def test_a_file_larger_than_the_plan_allows(setup: Setup) -> None:
    with running_daemon(setup) as daemon:
        write_wav(setup.hot / "long.wav", 3.0)
        job = wait_until(lambda: failed_job(daemon.store.jobs(), "long.wav"), 30, message="fail")
        assert job.reason is not None and "larger than" in job.reason
        still_works(setup, daemon, 1)
    assert setup.server.state.create_count() == 1


def test_a_preset_the_catalog_does_not_know(setup: Setup) -> None:
    other = setup.hot.parent / "Other"
    other.mkdir()
    config = setup.config_text(
        preset="sep_type: 9999",
        extra_folders=f"""
  - path: "{other}"
    preset: good
    existing_files: process
    stability_seconds: 0.3
""",
    )
    config = config.replace("presets:\n", "presets:\n  good: {sep_type: 20}\n", 1)
    with running_daemon(setup, config) as daemon:
        assert any("9999" in problem for problem in daemon.daemon.preset_problems())
        write_wav(setup.hot / "unknown preset.wav", 0.2, seed=1)
        write_wav(other / "fine.wav", 0.2, seed=2)
        job = wait_until(
            lambda: failed_job(daemon.store.jobs(), "unknown preset.wav"), 30, message="fail"
        )
        assert job.reason is not None and "no algorithm with id 9999" in job.reason
        wait_until(lambda: daemon.done(1), 30, message="the other folder's file")
    assert setup.server.state.create_count() == 1


@pytest.mark.parametrize(
    "name",
    [
        "Ünïcödé ☃ — mix.wav",
        "spaces   and  tabs\tin name.wav",
        "مرحبا بالعالم.wav",
        ("x" * 247) + ".wav",
        "line\nbreak.wav",
    ],
)
def test_unusual_names(setup: Setup, name: str) -> None:
    original = write_wav(setup.hot / name, 0.2)
    with running_daemon(setup) as daemon:
        wait_until(lambda: daemon.done(1), 30, message=f"{name!r} to be processed")
        job = daemon.store.jobs()[0]
    assert job.source_path == str(setup.hot / name)
    stems = [path for path in setup.stems() if path.suffix == ".wav"]
    assert len(stems) == 5
    for stem in stems:
        assert len(stem.name.encode("utf-8")) <= 255
        assert setup.outputs in stem.parents
    assert (setup.hot / name).read_bytes() == original


def test_an_invalid_config_keeps_the_daemon_from_starting(setup: Setup) -> None:
    config = setup.write_config("presets:\n  p: {sep_type: 1\nfolders: []\n")
    process = start_daemon_process(setup, config)
    assert process.wait(timeout=30) == 78
    log = (setup.tmp / "daemon.log").read_text()
    assert "line 3" in log and "not valid YAML" in log


# --- permissions and a full disk, with the daemon in its own process -----------------------
# Root reads and writes anything; the daemon runs without the capabilities that allow it, so
# file permissions apply to it as to any user.
WITHOUT_OVERRIDE = [
    "setpriv",
    "--inh-caps=-dac_override,-dac_read_search",
    "--bounding-set=-dac_override,-dac_read_search",
]


def run_limited(setup: Setup, config: Path) -> subprocess.Popen[str]:
    if os.geteuid() != 0:
        return start_daemon_process(setup, config)
    assert shutil.which("setpriv"), "util-linux's setpriv is needed to test as root"
    return start_daemon_process(setup, config, prefix=WITHOUT_OVERRIDE)


def done_count(setup: Setup) -> int:
    return sum(1 for job in setup.jobs() if job.state is JobState.DONE)


def test_an_unreadable_hot_folder_is_reported_and_picked_up_when_readable(setup: Setup) -> None:
    write_wav(setup.hot / "waiting.wav", 0.2)
    setup.hot.chmod(0o000)
    process = run_limited(setup, setup.write_config())
    try:
        wait_until(
            lambda: "Permission denied" in (setup.tmp / "daemon.log").read_text(),
            20,
            message="the permission problem to be logged",
        )
        assert process.poll() is None, "the daemon stopped"
        setup.hot.chmod(0o755)
        wait_until(lambda: done_count(setup) == 1, 60, message="the file once readable")
    finally:
        setup.hot.chmod(0o755)
        stop_process(process)


def test_an_unwritable_output_folder_waits_and_loses_nothing(setup: Setup) -> None:
    setup.outputs.mkdir()
    setup.outputs.chmod(0o555)
    write_wav(setup.hot / "song.wav", 0.2)
    process = run_limited(setup, setup.write_config())
    try:
        job = wait_until(
            lambda: next((j for j in setup.jobs() if j.state is JobState.RETRY_WAIT), None),
            30,
            message="the job to wait for a writable output folder",
        )
        assert job.reason is not None and "cannot write" in job.reason
        setup.outputs.chmod(0o755)
        wait_until(lambda: done_count(setup) == 1, 90, message="the stems once writable")
    finally:
        setup.outputs.chmod(0o755)
        stop_process(process)
    assert setup.server.state.create_count() == 1
    assert setup.leftovers() == []


def test_a_full_disk_while_writing_stems_waits_and_loses_nothing(setup: Setup) -> None:
    # RLIMIT_FSIZE makes every write past 1 MB fail (EFBIG) as a full disk fails (ENOSPC):
    # the stems of a 15 s track are bigger than that; the job store stays far below it.
    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, 1_000_000))

    original = write_wav(setup.hot / "big.wav", 15.0)
    config = setup.write_config()
    process = start_daemon_process(setup, config, preexec_fn=limit_file_size)
    try:
        job = wait_until(
            lambda: next((j for j in setup.jobs() if j.state is JobState.RETRY_WAIT), None),
            60,
            message="the download to fail for want of space",
        )
        assert job.reason is not None and "too large" in job.reason.lower()
        assert process.poll() is None, "the daemon stopped"
        assert not list(setup.outputs.rglob("*.wav")), "a partial stem is visible"
    finally:
        stop_process(process)
    # With room again (a new start without the limit), the same job finishes: nothing lost,
    # nothing paid twice.
    process = start_daemon_process(setup, config)
    try:
        wait_until(lambda: done_count(setup) == 1, 60, message="the stems with room again")
    finally:
        stop_process(process)
    assert setup.server.state.create_count() == 1
    assert (setup.hot / "big.wav").read_bytes() == original
    assert setup.leftovers() == []
