"""Fixtures of the daemon integration tests: an emulator and a hot folder per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mvsepd.emulator import EmulatorServer, EmulatorSettings
from tests.integration.support import Setup

#: Fast, but still through every state: waiting, processing, done.
QUICK = EmulatorSettings(
    publish_seconds=0.3, queue_seconds=0.0, processing_seconds=0.1, rate_limit=False
)


@pytest.fixture
def emulator_settings() -> EmulatorSettings:
    return QUICK


@pytest.fixture
def setup(tmp_path: Path, emulator_settings: EmulatorSettings) -> Iterator[Setup]:
    with EmulatorServer(emulator_settings) as server:
        account = server.add_account(plan="free")
        hot = tmp_path / "Exports" / "Vocals"
        hot.mkdir(parents=True)
        yield Setup(tmp=tmp_path, server=server, token=account.token, hot=hot)
