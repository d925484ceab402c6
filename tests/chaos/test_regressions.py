"""Defects the chaos runs found, each pinned down by a small test that fails without its fix."""

from __future__ import annotations

import pytest

from mvsepd.models import JobState
from tests.integration.support import Setup, running_daemon, wait_until, write_wav

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
