"""Kept-alive connections closed under the daemon: the emulator closes an idle connection
after 0.15 s, and its close reaches the daemon only once the next request is on its way (as
over a link with latency), while the daemon polls 0.1 to 0.3 s apart: polls and downloads keep
meeting connections the server has just closed (MVSEP's Apache: 5 s idle, polls 5 to 30 s
apart). Every job still ends done, each paid once, and the races really happened."""

from __future__ import annotations

from pathlib import Path

import pytest

from mvsepd.emulator import EmulatorServer, EmulatorSettings
from mvsepd.models import JobState
from tests.hostile.logs import capturing_logs
from tests.integration.support import Setup, running_daemon, wait_until, write_wav

JOBS = 50


@pytest.fixture
def emulator_settings() -> EmulatorSettings:
    return EmulatorSettings(
        publish_seconds=0.3,
        queue_seconds=0.0,
        processing_seconds=0.1,
        rate_limit=False,
        keepalive_seconds=0.15,
        keepalive_close_late=True,
    )


def test_fifty_jobs_over_connections_the_server_keeps_closing(
    tmp_path: Path, emulator_settings: EmulatorSettings
) -> None:
    with EmulatorServer(emulator_settings) as server:
        token = server.add_account(plan="premium", credits=1000).token
        hot = tmp_path / "Exports" / "Bounces"
        hot.mkdir(parents=True)
        setup = Setup(tmp=tmp_path, server=server, token=token, hot=hot)
        with capturing_logs() as log, running_daemon(setup) as daemon:
            for number in range(JOBS):
                write_wav(hot / f"Take {number:02d}.wav", 0.1, seed=100 + number)
            wait_until(lambda: daemon.finished(JOBS), 180, message=f"{JOBS} jobs to end")
            states = daemon.states()
        assert states.get(JobState.DONE) == JOBS, states
        assert server.state.create_count(token) == JOBS
    races = log.text().count("closed the connection before answering")
    assert races >= 5, f"only {races} requests met a closed connection"
