"""Servers that take no upload without a length: the first streamed upload is refused (a 411,
or an application that got no body at all), goes again at once with its length, nothing is
paid twice, and every later upload to that server goes with its length; a kill while such a
FLAC is encoded leaves no temporary file and uploads once."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import soundfile

from mvsepd.emulator import EmulatorSettings
from mvsepd.engine.sending import NEEDS_LENGTH_FLAG
from mvsepd.models import JobState
from mvsepd.store import JobStore
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


@pytest.fixture(params=["length_required", "empty_body"])
def emulator_settings(request: pytest.FixtureRequest) -> EmulatorSettings:
    return dataclasses.replace(QUICK, chunked_uploads=request.param)


def test_a_refused_streamed_upload_goes_again_with_its_length_and_is_paid_once(
    setup: Setup,
) -> None:
    with running_daemon(setup, setup.config_text()) as daemon:
        first = write_source(setup.hot, Source("Take one", 48000, 2, "PCM_24", seconds=2.0), seed=3)
        wait_until(lambda: daemon.finished(1), 60, message="the first job")
        second = write_source(
            setup.hot, Source("Take two", 44100, 2, "PCM_16", seconds=2.0), seed=4
        )
        wait_until(lambda: daemon.finished(2), 60, message="the second job")
    assert [job.state for job in setup.jobs()] == [JobState.DONE, JobState.DONE]
    # One create each: the refused stream made no job (and was not taken for a bad token).
    assert setup.server.state.create_count() == 2
    for path, remote in zip((first, second), setup.server.state.jobs(), strict=True):
        kept = setup.server.state.received_file(remote.hash)
        assert kept is not None and remote.received_name == f"{path.stem}.flac"
        sent, _ = soundfile.read(str(kept), dtype="int32")
        original, _ = soundfile.read(str(path), dtype="int32")
        assert np.array_equal(sent, original)
    manifests = {m["source"]["path"]: m["upload"] for m in setup.manifests()}
    assert manifests[str(first)]["streamed"] is False
    assert manifests[str(second)]["streamed"] is False, "the refusal was not remembered"
    with JobStore(setup.paths.store_file) as store:
        assert store.flag(NEEDS_LENGTH_FLAG + setup.server.url) is not None
    assert temporary_files(setup) == []


def test_a_kill_while_compressing_leaves_no_temporary_file_and_uploads_once(
    setup: Setup,
) -> None:
    # Long enough at 96 kHz that the encoding takes a while: the kill lands inside it.
    config = setup.write_config(setup.config_text())
    path = write_source(setup.hot, Source("Long take", 96000, 2, "PCM_24", seconds=60.0), seed=2)
    uploads = setup.tmp / "cache" / "uploads"

    def compressing() -> bool:
        return uploads.is_dir() and any(p.name.endswith(".partial") for p in uploads.iterdir())

    process = start_daemon_process(setup, config)
    try:
        wait_until(compressing, 60, message="the FLAC being written", interval=0.002)
    finally:
        stop_process(process, kill=True)
    assert setup.server.state.create_count() == 0
    process = start_daemon_process(setup, config)
    try:
        wait_until(lambda: setup.jobs()[0].state is JobState.DONE, 120, message="the job")
    finally:
        assert stop_process(process) == 0
    assert list(uploads.iterdir()) == [], "a temporary FLAC outlived its upload"
    assert setup.server.state.create_count() == 1
    _remote, kept = received(setup)
    sent, _ = soundfile.read(str(kept), dtype="int32")
    original, _ = soundfile.read(str(path), dtype="int32")
    assert np.array_equal(sent, original)
