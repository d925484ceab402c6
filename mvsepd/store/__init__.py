"""The job store: SQLite in WAL mode in the user state directory (adapter; the only sqlite3
user), or PostgreSQL for several hosts (studio mode, ``mvsepd.store.postgres``).

The SQLite store owns its connection, the schema (versioned with ``PRAGMA user_version`` and
numbered migrations) and its file's permissions; every call is ``mvsepd.store.base``'s. Its
transactions are ``BEGIN IMMEDIATE``: one writer at a time, so a read-check-write is safe.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mvsepd.errors import StoreError
from mvsepd.store import schema
from mvsepd.store.base import SqlJobStore
from mvsepd.store.deliveries import DeliveryKeys
from mvsepd.store.records import SourceRecord
from mvsepd.store.schema import SCHEMA_VERSION
from mvsepd.store.sources import CHECKING, SKIPPED
from mvsepd.store.timing import ProcessingTime

__all__ = [
    "CHECKING",
    "SCHEMA_VERSION",
    "SKIPPED",
    "DeliveryKeys",
    "JobStore",
    "ProcessingTime",
    "SourceRecord",
    "SqlJobStore",
]


class JobStore(SqlJobStore):
    """The SQLite job store. Thread-safe: one connection, guarded by a lock."""

    _NEW_JOB_ID = (
        "(SELECT MAX(COALESCE((SELECT MAX(id) FROM jobs), 0), "
        "COALESCE((SELECT CAST(value AS INTEGER) FROM flags WHERE name = 'job_ids_through'), 0))"
        " + 1)"
    )

    def __init__(self, path: Path | str, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path) if str(path) != ":memory:" else None
        self._clock = clock
        self._lock = threading.RLock()
        try:
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._connection = sqlite3.connect(
                str(path), check_same_thread=False, isolation_level=None, timeout=30
            )
            self._connection.row_factory = sqlite3.Row
            self._connection.execute("PRAGMA journal_mode=WAL")
            # FULL: a recorded separation hash must survive a power cut, or a job is paid twice.
            self._connection.execute("PRAGMA synchronous=FULL")
            self._connection.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.Error as error:
            raise StoreError(f"cannot open the job store {path}: {error}") from None
        if self.path is not None:
            for suffix in ("", "-wal", "-shm"):
                candidate = Path(f"{self.path}{suffix}")
                if candidate.exists():
                    candidate.chmod(0o600)

    # --- plumbing ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._connection.close()

    def __enter__(self) -> JobStore:
        return self

    def _now(self) -> float:
        return self._clock()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._connection.execute("BEGIN IMMEDIATE")
                yield self._connection
                self._connection.execute("COMMIT")
            except sqlite3.Error as error:
                self._rollback()
                raise StoreError(f"job store: {error}") from None
            except BaseException:
                self._rollback()
                raise

    def _rollback(self) -> None:
        if self._connection.in_transaction:
            self._connection.execute("ROLLBACK")

    def _query(self, sql: str, parameters: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return list(self._connection.execute(sql, tuple(parameters)))
            except sqlite3.Error as error:
                raise StoreError(f"job store: {error}") from None

    def _migrate(self) -> None:
        try:
            with self._lock:
                schema.migrate(self._connection, location=str(self.path or ":memory:"))
        except ValueError as error:
            raise StoreError(str(error)) from None

    def integrity_problems(self) -> list[str]:
        """Return everything wrong with the store (empty when healthy)."""
        problems: list[str] = []
        check = self._query("PRAGMA integrity_check")
        if check and check[0][0] != "ok":
            problems.extend(f"sqlite: {row[0]}" for row in check)
        return problems + self._row_problems()
