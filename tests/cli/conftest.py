"""Fixtures of the command-line tests: the user's folders inside the test's own."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every platform directory inside the test's folder, and no token in the environment."""
    for name, sub in [
        ("MVSEPD_CONFIG_DIR", "config"),
        ("MVSEPD_STATE_DIR", "state"),
        ("MVSEPD_CACHE_DIR", "cache"),
        ("MVSEPD_LOG_DIR", "log"),
        ("MVSEPD_RUNTIME_DIR", "run"),
    ]:
        monkeypatch.setenv(name, str(tmp_path / sub))
    monkeypatch.delenv("MVSEP_API_TOKEN", raising=False)
    monkeypatch.delenv("MVSEPD_CONFIG", raising=False)
    return tmp_path
