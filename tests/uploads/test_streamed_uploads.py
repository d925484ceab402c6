"""A FLAC streamed into the upload as it is encoded: it starts within 100 ms of the file being
judged ready, writes nothing to disk, and a daemon killed half-way through it leaves no
temporary file and pays once after its restart."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import soundfile

from mvsepd.emulator import EmulatorSettings
from mvsepd.models import JobState
from tests.conform.material import Source, write_source
from tests.integration.conftest import QUICK
from tests.integration.support import (
    Setup,
    running_daemon,
    start_daemon_process,
    stop_process,
    wait_until,
)
from tests.uploads.helpers import received, temporary_files

#: Slow enough that an upload of a few megabytes takes seconds.
UPLOAD_RATE = 400_000.0


@pytest.fixture
def emulator_settings() -> EmulatorSettings:
    return dataclasses.replace(QUICK, upload_rate=UPLOAD_RATE)


def test_the_upload_starts_within_100_ms_of_the_file_being_ready(setup: Setup) -> None:
    with running_daemon(setup, setup.config_text()) as daemon:
        write_source(setup.hot, Source("Take", 48000, 2, "PCM_24", seconds=20.0), seed=5)
        wait_until(lambda: daemon.done(1), 120, message="the job")
    (job,) = setup.jobs()
    timings = job.timings
    assert timings["upload_began"] - timings["ready"] < 0.1, timings
    assert job.upload["streamed"] is True
    assert temporary_files(setup) == []


def test_a_kill_half_way_through_a_streamed_upload_leaves_nothing_and_pays_once(
    setup: Setup,
) -> None:
    config = setup.write_config(setup.config_text())
    path = write_source(setup.hot, Source("Long take", 48000, 2, "PCM_24", seconds=8.0), seed=2)
    arriving = setup.server.storage.uploads

    def half_way() -> bool:
        return any(part.stat().st_size > 300_000 for part in arriving.iterdir())

    process = start_daemon_process(setup, config)
    try:
        wait_until(half_way, 60, message="the upload half-way", interval=0.005)
        assert temporary_files(setup) == [], "the streamed FLAC was written to disk"
    finally:
        stop_process(process, kill=True)
    assert setup.server.state.create_count() == 0
    assert setup.jobs()[0].state is JobState.UPLOADING
    process = start_daemon_process(setup, config)
    try:
        wait_until(lambda: setup.jobs()[0].state is JobState.DONE, 120, message="the job")
    finally:
        assert stop_process(process) == 0
    assert setup.server.state.create_count() == 1, "the killed upload was paid a second time"
    assert temporary_files(setup) == []
    _remote, kept = received(setup)
    sent, _ = soundfile.read(str(kept), dtype="int32")
    original, _ = soundfile.read(str(path), dtype="int32")
    assert np.array_equal(sent, original)
