"""Fixtures of the daemon integration tests: an emulator and a hot folder per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mvsepd.cli import main
from mvsepd.emulator import EmulatorServer, EmulatorSettings
from tests.integration.support import Cli, Setup

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


@pytest.fixture
def cli(setup: Setup, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    """Run ``mvsepd ...`` in this process; it finds the test's daemon as a user's would."""
    paths = setup.paths
    for variable, directory in (
        ("MVSEPD_CONFIG_DIR", paths.config_dir),
        ("MVSEPD_STATE_DIR", paths.state_dir),
        ("MVSEPD_CACHE_DIR", paths.cache_dir),
        ("MVSEPD_LOG_DIR", paths.log_dir),
        ("MVSEPD_RUNTIME_DIR", paths.runtime_dir),
    ):
        monkeypatch.setenv(variable, str(directory))

    def run(*arguments: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main(list(arguments))
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    return run
