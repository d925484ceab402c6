"""Fixtures shared by test folders: one throwaway PostgreSQL cluster for the session (started
only when a test asks for it), a new database per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.studio.pgserver import PostgresServer, server_binaries


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    binaries = server_binaries()
    if binaries is None:
        # Studio mode is tested, never skipped: scripts/test installs the server itself.
        pytest.fail(
            "PostgreSQL's server is not installed: run the tests with scripts/test (it installs "
            "Debian's postgresql), or `apt-get install -y postgresql`"
        )
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
