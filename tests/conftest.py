"""Fixtures shared by test folders: one throwaway PostgreSQL cluster for the session (started
only when a test asks for it), a new database per test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.studio.pgserver import PostgresServer, server_binaries


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    binaries = server_binaries()
    if binaries is None:
        message = "PostgreSQL's server is not installed (scripts/test installs postgresql)"
        if os.environ.get("MVSEPD_REQUIRE_POSTGRES"):
            # scripts/test (and so CI) installs it: studio mode must be tested, not skipped.
            pytest.fail(message)
        pytest.skip(message)
    server = PostgresServer(binaries)
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture
def postgres_dsn(postgres_server: PostgresServer) -> str:
    """A new, empty database of the session's cluster."""
    return postgres_server.new_dsn()
