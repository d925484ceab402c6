"""``open_store``: the store under test, once per backend (SQLite; PostgreSQL as one studio
host sees it, with the test's paths on neither a share nor another host)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mvsepd.store import JobStore, SqlJobStore

OpenStore = Callable[..., SqlJobStore]


@pytest.fixture(params=["sqlite", "postgres"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenStore]:
    """A factory of stores on one database: each call opens it again (the clock is honoured
    by SQLite; PostgreSQL keeps the database's time)."""
    opened: list[SqlJobStore] = []
    if request.param == "sqlite":

        def open_sqlite(clock: Callable[[], float] | None = None) -> SqlJobStore:
            path = tmp_path / "jobs.sqlite3"
            store = JobStore(path, clock=clock) if clock is not None else JobStore(path)
            opened.append(store)
            return store

        yield open_sqlite
    else:
        from mvsepd.store.postgres import PostgresJobStore

        dsn = request.getfixturevalue("postgres_dsn")

        def open_postgres(clock: Callable[[], float] | None = None) -> SqlJobStore:
            store = PostgresJobStore(dsn, host_id="room-a", shares={})
            opened.append(store)
            return store

        yield open_postgres
    for store in opened:
        store.close()
