"""Fixtures for the status API tests: private ``MVSEPD_*`` folders, an emulator, a daemon."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mvsepd.emulator import EmulatorServer
from mvsepd.paths import AppPaths, app_paths
from tests.statusapi.harness import MVSEP_TOKEN, Harness, emulator_settings

MakeHarness = Callable[..., Harness]


@pytest.fixture
def user_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppPaths:
    """This test's own directories, found by the daemon and the CLI alike."""
    for variable, name in (
        ("MVSEPD_CONFIG_DIR", "config"),
        ("MVSEPD_STATE_DIR", "state"),
        ("MVSEPD_CACHE_DIR", "cache"),
        ("MVSEPD_LOG_DIR", "log"),
        ("MVSEPD_RUNTIME_DIR", "run"),
    ):
        monkeypatch.setenv(variable, str(tmp_path / "user" / name))
    monkeypatch.delenv("MVSEPD_CONFIG", raising=False)
    return app_paths()


@pytest.fixture
def make_harness(tmp_path: Path, user_paths: AppPaths) -> Iterator[MakeHarness]:
    """Start an emulator with one account (premium, 100 credits unless told) and a daemon."""
    made: list[Harness] = []

    def make(
        *, plan: str = "premium", credits: int = 100, start: bool = True, **settings: Any
    ) -> Harness:
        server = EmulatorServer(emulator_settings(tmp_path, **settings)).start()
        server.add_account(token=MVSEP_TOKEN, plan=plan, credits=credits)
        hot = tmp_path / "Exports"
        hot.mkdir(exist_ok=True)
        harness = Harness(server=server, paths=user_paths, hot=hot)
        made.append(harness)
        if start:
            harness.start_daemon()
        return harness

    yield make
    for harness in made:
        harness.stop_daemon()
        harness.server.stop()


@pytest.fixture
def harness(make_harness: MakeHarness) -> Harness:
    return make_harness()
