"""Fixtures of the chaos tests: a seeded emulator with a premium account and a hot folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mvsepd.emulator import EmulatorServer, EmulatorSettings
from tests.chaos.inputs import chaos_seed
from tests.integration.support import Setup


@pytest.fixture
def seed() -> int:
    return chaos_seed()


@pytest.fixture
def chaos_setup(tmp_path: Path, seed: int) -> Iterator[Setup]:
    # A short queue and processing time, so that jobs spend a while "submitted" (a kill
    # moment) without making the run slow; no rate limit, since 429s come from the faults.
    settings = EmulatorSettings(
        publish_seconds=0.3, queue_seconds=0.4, processing_seconds=0.2, rate_limit=False, seed=seed
    )
    with EmulatorServer(settings) as server:
        account = server.add_account(plan="premium", credits=1_000_000)
        hot = tmp_path / "Exports" / "Bounces"
        hot.mkdir(parents=True)
        yield Setup(tmp=tmp_path, server=server, token=account.token, hot=hot)
