"""Stems are conformed as each download completes, while the next ones still come down; a stem
that does not decode fails the take whole: nothing placed, the staging folder gone."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest

from mvsepd.emulator import EmulatorSettings
from mvsepd.models import JobState
from tests.conform.material import Source, write_source
from tests.integration.conftest import QUICK
from tests.integration.support import FAST_DAEMON, Setup, running_daemon, wait_until

#: Slow enough that each stem takes a good part of a second to come down.
DOWNLOAD_RATE = 400_000.0


@pytest.fixture
def emulator_settings() -> EmulatorSettings:
    return dataclasses.replace(QUICK, download_rate=DOWNLOAD_RATE)


def _watch(staging: Path, seen: list[set[str]], stop: threading.Event) -> None:
    """Note, every few milliseconds, the names in the staging folder at that moment."""
    while not stop.is_set():
        try:
            names = {path.name for path in staging.rglob("*")}
        except OSError:
            names = set()
        if names:
            seen.append(names)
        stop.wait(0.005)


def _corrupt(path: Path) -> None:
    """Keep the FLAC's header and first frames, garble the rest (the same size)."""
    data = bytearray(path.read_bytes())
    for index in range(8192, len(data), 7):
        data[index] = (data[index] * 31 + 17) & 0xFF
    path.write_bytes(bytes(data))


def test_a_stem_is_conformed_while_others_download_and_a_bad_one_places_nothing(
    setup: Setup,
) -> None:
    config = setup.config_text(daemon=FAST_DAEMON + "\n  parallel_downloads: 1")
    staging = setup.outputs / ".mvsepd-staging"
    seen: list[set[str]] = []
    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(staging, seen, stop))
    watcher.start()
    try:
        with running_daemon(setup, config) as daemon:
            write_source(setup.hot, Source("Take", 48000, 2, "PCM_24", seconds=4.0), seed=2)

            def published() -> bool:
                jobs = setup.server.state.jobs()
                return bool(jobs) and bool(jobs[0].files) and all(jobs[0].published)

            wait_until(published, 60, message="MVSEP to publish the stems", interval=0.01)
            (remote,) = setup.server.state.jobs()
            last = remote.files[-1]  # fetched last, one stem at a time
            _corrupt(last.path)
            wait_until(lambda: daemon.finished(1), 90, message="the job to end")
    finally:
        stop.set()
        watcher.join()
    (job,) = setup.jobs()
    assert job.state is JobState.FAILED
    assert f"the stem {last.label!r}" in (job.reason or ""), job.reason
    # An earlier stem was being conformed (its values beside its part) while a later one was
    # still downloading.
    overlapping = [
        names
        for names in seen
        if any(name.startswith(".values-") for name in names)
        and any(name.startswith("mvsep-") and name.endswith(".part") for name in names)
    ]
    assert overlapping, "no stem was conformed while another downloaded"
    assert not [path for path in setup.stems() if ".mvsepd-staging" not in path.parts]
    assert setup.leftovers() == [], "the staging folder outlived the failed take"
