"""Defects the chaos runs found, each pinned down by a small test that fails without its fix."""

from __future__ import annotations

import time

import pytest

from mvsepd.models import JobState
from tests.integration.support import (
    Setup,
    running_daemon,
    start_daemon_process,
    stop_process,
    wait_until,
    write_wav,
)

CREATE = "/api/separation/create"


@pytest.mark.parametrize("fault", ["http_502", "http_503", "drop_connection"])
def test_an_upload_that_never_reached_mvsep_is_sent_again(chaos_setup: Setup, fault: str) -> None:
    # The create fails before MVSEP makes a job, with an answer that does not say so: the
    # daemon looks for the job in the history, waits out the grace period, and sends it again.
    setup = chaos_setup
    setup.server.faults.set(fault, endpoints=[CREATE], count=1)
    write_wav(setup.hot / "unlucky.wav", 0.3)
    with running_daemon(setup) as daemon:
        wait_until(lambda: daemon.done(1), 30, message="the upload to be sent again")
    assert setup.server.state.create_count() == 1


def test_stems_placed_before_an_interruption_are_neither_fetched_nor_placed_twice(
    chaos_setup: Setup,
) -> None:
    # Placing the stems stops half-way (here: a name is taken and the folder says
    # on_collision: fail; a kill does the same). Once the way is clear, the stems already in
    # place stay as they are: no second download, no "(2)" copies, no endless retry.
    setup = chaos_setup
    write_wav(setup.hot / "blocked.wav", 0.3)
    track = setup.outputs / "blocked"
    track.mkdir(parents=True)
    blocker = track / "blocked - Other.wav"
    blocker.write_bytes(b"somebody else's file")
    config = setup.config_text(folder="on_collision: fail")
    with running_daemon(setup, config) as daemon:
        wait_until(
            lambda: any(
                job.state is JobState.RETRY_WAIT and "already exists" in (job.reason or "")
                for job in daemon.store.jobs()
            ),
            30,
            message="placing the stems to stop at the taken name",
        )
        assert (track / "blocked - Bass.wav").exists()  # placed before the stop
        blocker.unlink()
        wait_until(lambda: daemon.done(1), 30, message="the job to finish once the name is free")
    assert sorted(path.name for path in track.iterdir()) == [
        "blocked - Bass.wav",
        "blocked - Drums.wav",
        "blocked - Instrumental.wav",
        "blocked - Other.wav",
        "blocked - Vocals.wav",
        "manifest.json",
    ]
    assert setup.leftovers() == []


def test_killed_after_the_manifest_is_written_but_before_the_job_is_done(
    chaos_setup: Setup,
) -> None:
    # Between writing the manifest and recording "done" the daemon dies. The next start must
    # see that the stems are in place: no second download, no "(2)" copies.
    setup = chaos_setup
    config = setup.write_config(setup.config_text(stability=0.2))
    caught: list[str] = []
    for attempt in range(5):
        track = f"late {attempt}"
        write_wav(setup.hot / f"{track}.wav", 1.0, seed=attempt)
        manifest = setup.outputs / track / "manifest.json"
        process = start_daemon_process(setup, config)
        try:
            # Spin: the window lasts a few milliseconds (removing the staging folder, one
            # SQLite commit); a stat every 0.2 ms lands in it nearly every time.
            deadline = time.monotonic() + 30
            while not manifest.exists() and time.monotonic() < deadline:
                time.sleep(0.0002)
        finally:
            stop_process(process, kill=True)
        states = [job.state for job in setup.jobs() if job.source_name == f"{track}.wav"]
        if states == [JobState.DOWNLOADING]:
            caught.append(track)
            break
    assert caught, "no kill landed between the manifest and the done state in five tries"
    process = start_daemon_process(setup, config)
    try:
        wait_until(
            lambda: all(job.state is JobState.DONE for job in setup.jobs()),
            30,
            message="every job after the restart",
        )
    finally:
        assert stop_process(process) == 0
    for track in caught:
        assert sorted(path.name for path in (setup.outputs / track).iterdir()) == [
            f"{track} - {stem}.wav" for stem in ("Bass", "Drums", "Instrumental", "Other", "Vocals")
        ] + ["manifest.json"]
    assert setup.leftovers() == []
    assert setup.server.state.create_count() == len(setup.jobs())


def test_each_step_runs_once_on_the_job_as_it_is_now(chaos_setup: Setup) -> None:
    # While the worker that found a file still holds it, the scheduler saw its fresh job and
    # checked it a second time; and a step handed out on a stale read of the store ran on a
    # job a worker had just finished (a second download of a done job). Each time one of the
    # two lost and logged a warning for a normal event.
    setup = chaos_setup
    for index in range(10):
        write_wav(setup.hot / f"together {index}.wav", 0.2, seed=index)
    process = start_daemon_process(setup, setup.write_config())
    try:
        wait_until(
            lambda: (
                len(setup.jobs()) == 10 and all(job.state is JobState.DONE for job in setup.jobs())
            ),
            60,
            message="every job",
        )
    finally:
        assert stop_process(process) == 0
    log = (setup.tmp / "daemon.log").read_text(encoding="utf-8")
    assert '"step_skipped"' not in log
    assert '"stems_found_in_place"' not in log  # nothing was interrupted
    assert log.count('"job_ready"') == 10
