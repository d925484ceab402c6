"""Defects the chaos runs found, each pinned down by a small test that fails without its fix."""

from __future__ import annotations

import pytest

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
