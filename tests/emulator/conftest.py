"""Fixtures for the emulator tests: servers on 127.0.0.1:0 with a manual clock and zero timings."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mvsepd.emulator import EmulatorServer, EmulatorSettings, ManualClock
from tests.emulator.helpers import write_audio

START = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC

FAST = EmulatorSettings(
    queue_seconds=0.0,
    processing_seconds=0.0,
    merging_seconds=0.0,
    tick_interval_seconds=0.02,
    publish_seconds=0.0,  # tests of publishing set their own
)

ServerFactory = Callable[..., EmulatorServer]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def make_server(clock: ManualClock, tmp_path: Path) -> Iterator[ServerFactory]:
    """Start servers with ``FAST`` settings overridden by keyword arguments; stop them after."""
    servers: list[EmulatorServer] = []

    def factory(**overrides: Any) -> EmulatorServer:
        own_clock = overrides.pop("clock", clock)
        settings = dataclasses.replace(FAST, storage_parent=str(tmp_path), **overrides)
        server = EmulatorServer(settings, host="127.0.0.1", port=0, clock=own_clock)
        servers.append(server)
        return server.start()

    yield factory
    for server in servers:
        server.stop()


@pytest.fixture
def server(make_server: ServerFactory) -> EmulatorServer:
    return make_server()


@pytest.fixture
def audio(tmp_path: Path) -> Path:
    """Two seconds of 16-bit stereo at 44.1 kHz, named like a real track."""
    return write_audio(tmp_path / "Luke's Theme - A Madman's Symphony.wav", 2.0)
