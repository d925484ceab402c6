"""Polls of a job MVSEP processes are spaced by when it is expected to finish: the first job
of a model is watched closely, its processing time is kept in the job store, and the next job
of that model and length is looked at seldom until its expected end, then closely; "done" is
seen soon after MVSEP finishes, either way."""

from __future__ import annotations

import dataclasses

import pytest

from mvsepd.emulator import EmulatorSettings
from mvsepd.store import JobStore
from tests.integration.conftest import QUICK
from tests.integration.support import Setup, running_daemon, wait_until, write_wav

PROCESSING = 3.0


@pytest.fixture
def emulator_settings() -> EmulatorSettings:
    # Published with "done": the job's poll count is then all its looks while it was processed.
    return dataclasses.replace(QUICK, processing_seconds=PROCESSING, publish_seconds=0.0)


def test_a_model_seen_before_is_polled_less_and_done_is_seen_as_soon(setup: Setup) -> None:
    with running_daemon(setup, setup.config_text()) as daemon:
        write_wav(setup.hot / "first.wav", 2.0)
        wait_until(lambda: daemon.done(1), 60, message="the first job")
        write_wav(setup.hot / "second.wav", 2.0, seed=9)
        wait_until(lambda: daemon.done(2), 60, message="the second job")
    first, second = setup.jobs()
    remote = {job.hash: job for job in setup.server.state.jobs()}
    lags = []
    for job in (first, second):
        finished = remote[job.separation_hash or ""].finished_at
        assert finished is not None
        lags.append(job.timings["done_seen"] - finished)
    # The engine's intervals are scaled down 50 times here (first look 0.1 s, not 5 s): the
    # near-done looks are 0.04 s apart, so "done" is seen within a tenth of a second or so.
    assert max(lags) < 0.3, lags
    assert second.polls < first.polls / 2, (first.polls, second.polls)
    with JobStore(setup.paths.store_file) as store:
        rows = store.processing_times(f"{first.sep_type}:{{}}")
    assert len(rows) == 2  # one for each job, the newest first
    for row, job in zip(rows, (second, first), strict=True):
        took = remote[job.separation_hash or ""]
        assert took.finished_at is not None and took.started_at is not None
        assert row.shortest <= took.finished_at - took.started_at <= row.longest
