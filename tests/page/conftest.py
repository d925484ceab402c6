"""Fixtures of the page's tests: the emulator and a hot folder (as the integration tests have
them), and a daemon serving its page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.conftest import cli, emulator_settings, setup
from tests.integration.support import Setup
from tests.page.support import PageSetup, page_daemon

__all__ = ["cli", "emulator_settings", "page", "setup"]


@pytest.fixture
def page(setup: Setup) -> Iterator[PageSetup]:
    with page_daemon(setup) as running:
        yield running
