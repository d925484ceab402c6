"""Fixtures of the hostile catalogue: one emulator, hostile front and trap per module; a fresh
account, hot folder and temporary tree per row."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mvsepd.emulator import EmulatorServer, EmulatorSettings
from tests.hostile.front import HostileFront, Trap
from tests.integration.support import Setup


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    # Storage outside every row's temporary tree, so that the ledger sees only mvsepd's writes.
    settings = EmulatorSettings(
        queue_seconds=0.0,
        processing_seconds=0.1,
        rate_limit=False,
        # The rows that publish late rewrite the answers themselves (the hostile front).
        publish_seconds=0.0,
        storage_parent=str(tmp_path_factory.mktemp("emulator-storage")),
    )
    with EmulatorServer(settings) as server:
        yield server


@pytest.fixture(scope="module")
def front(emulator: EmulatorServer) -> Iterator[HostileFront]:
    with HostileFront(emulator) as hostile:
        yield hostile


@pytest.fixture(scope="module")
def trap() -> Iterator[Trap]:
    other_host = Trap().start()
    yield other_host
    other_host.stop()


@pytest.fixture
def setup(
    tmp_path: Path, emulator: EmulatorServer, front: HostileFront, trap: Trap
) -> Iterator[Setup]:
    """A new free account per row (its own MVSEP slot), with no faults and no rules left over."""
    emulator.faults.clear()
    front.clear()
    trap.requests.clear()
    account = emulator.add_account(plan="free")
    hot = tmp_path / "Exports" / "Vocals"
    hot.mkdir(parents=True)
    yield Setup(tmp=tmp_path, server=emulator, token=account.token, hot=hot)
    emulator.faults.clear()
    front.clear()
