"""The job store: SQLite in WAL mode in the user state directory (adapter; the only sqlite3 user).

It owns the schema (versioned with ``PRAGMA user_version`` and numbered migrations), the one
writer of job states (``transition``, checked against ``mvsepd.lifecycle``; the new state, its
fields and an event row are written in one transaction), progress updates that never change a
state, the record of source files already seen (so a start-up scan of 10,000 processed files
hashes nothing), and small daemon flags (paused, token invalid).

A job's identity is (SHA-256 of its bytes, preset fingerprint), enforced by a UNIQUE index: the
same audio with the same preset is one job, however often it appears.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mvsepd import lifecycle
from mvsepd.errors import IllegalTransitionError, StoreError
from mvsepd.models import JobRecord, JobState
from mvsepd.store import records, schema
from mvsepd.store.deliveries import DeliveryCalls, DeliveryKeys
from mvsepd.store.records import SourceRecord
from mvsepd.store.schema import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "DeliveryKeys", "JobStore", "SourceRecord"]

#: Job columns a progress update may change without a state transition.
_PROGRESS_FIELDS = frozenset(
    {
        "remote_status",
        "queue_count",
        "current_order",
        "finished_chunks",
        "all_chunks",
        "progress_done",
        "progress_total",
        "next_attempt_at",
        "polls",
        "reason",
        "server",
        "output_dir",
        "duration_seconds",
        "credits_estimate",
        "upload_json",
        "oversize_downloads",
    }
)
#: Job columns a transition may set along with the state.
_TRANSITION_FIELDS = _PROGRESS_FIELDS | frozenset(
    {
        "resume_state",
        "attempts",
        "sep_type",
        "options",
        "output_format",
        "separation_hash",
        "upload_started_at",
        "finished_at",
        "source_audio",
        "remote_hash",
        "credits_reserved",
    }
)


class JobStore(DeliveryCalls):
    """The SQLite job store. Thread-safe: one connection, guarded by a lock."""

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

    def __exit__(self, *exc: object) -> None:
        self.close()

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

    # --- jobs -------------------------------------------------------------------------------

    def find_or_create(
        self,
        *,
        content_sha256: str,
        preset_fingerprint: str,
        preset_name: str,
        folder_path: str,
        source_path: str,
        source_size: int | None,
        sep_type: int | None,
        options: Mapping[str, str],
        output_format: int | None,
        input_kind: str = "file",
        input_json: str | None = None,
        parent_job_id: int | None = None,
        from_stem: str | None = None,
        credits_reserved: int | None = None,
        delivery: DeliveryKeys | None = None,
    ) -> tuple[JobRecord, bool]:
        """Return the job with this identity and whether it was created now (as ``discovered``).

        A new job gets, in the same transaction, its first delivery: ``delivery`` (by default
        its folder and source, no chain). An existing job's new places are ``add_delivery``'s.
        """
        now = self._clock()
        with self._transaction() as connection:
            row = connection.execute(
                "SELECT * FROM jobs WHERE content_sha256 = ? AND preset_fingerprint = ?",
                (content_sha256, preset_fingerprint),
            ).fetchone()
            keys = delivery or DeliveryKeys(folder_path, source_path, preset_name)
            if row is not None:
                return records.job_from_row(row), False
            cursor = connection.execute(
                """INSERT INTO jobs (content_sha256, preset_fingerprint, preset_name, folder_path,
                       source_path, source_size, state, sep_type, options_json, output_format,
                       input_kind, input_json, parent_job_id, from_stem, credits_reserved,
                       created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    content_sha256,
                    preset_fingerprint,
                    preset_name,
                    records.path_to_db(folder_path),
                    records.path_to_db(source_path),
                    source_size,
                    JobState.DISCOVERED.value,
                    sep_type,
                    json.dumps(dict(options), sort_keys=True),
                    output_format,
                    input_kind,
                    input_json,
                    parent_job_id,
                    from_stem,
                    credits_reserved,
                    now,
                    now,
                ),
            )
            job_id = cursor.lastrowid
            connection.execute(
                "INSERT INTO events (job_id, at, from_state, to_state, detail) VALUES (?,?,?,?,?)",
                (job_id, now, None, JobState.DISCOVERED.value, records.path_to_db(source_path)),
            )
            assert job_id is not None
            self._insert_delivery(connection, job_id, keys, now)
            created = connection.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            return records.job_from_row(created), True

    def transition(
        self,
        job_id: int,
        to_state: JobState,
        *,
        expected: JobState | Iterable[JobState] | None = None,
        detail: str | None = None,
        **changes: Any,
    ) -> JobRecord:
        """Move a job to ``to_state`` with ``changes``, and log it, in one transaction.

        ``expected`` guards against a concurrent change (the state must be one of them). Raise
        IllegalTransitionError if the lifecycle forbids the move, StoreError for an unknown job.
        """
        unknown = set(changes) - _TRANSITION_FIELDS
        if unknown:
            raise StoreError(f"a transition may not change {', '.join(sorted(unknown))}")
        now = self._clock()
        with self._transaction() as connection:
            row = connection.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise StoreError(f"no job with id {job_id}")
            current = JobState(row["state"])
            allowed = records.as_state_set(expected)
            if (allowed is not None and current not in allowed) or not lifecycle.can_transition(
                current, to_state
            ):
                raise IllegalTransitionError(job_id, current.value, to_state.value)
            values = records.column_values(changes)
            values.update(state=to_state.value, updated_at=now)
            if to_state.terminal and "finished_at" not in values:
                values["finished_at"] = now
            assignments = ", ".join(f"{column} = ?" for column in values)
            connection.execute(
                f"UPDATE jobs SET {assignments} WHERE id = ?",  # noqa: S608 (columns whitelisted)
                (*values.values(), job_id),
            )
            connection.execute(
                "INSERT INTO events (job_id, at, from_state, to_state, detail) VALUES (?,?,?,?,?)",
                (job_id, now, current.value, to_state.value, detail or changes.get("reason")),
            )
            updated = connection.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            return records.job_from_row(updated)

    def set_separation_hash(self, job_id: int, separation_hash: str) -> JobRecord:
        """Record the real hash of a submitted URL job (MVSEP answered it after fetching)."""
        with self._transaction() as connection:
            changed = connection.execute(
                "UPDATE jobs SET separation_hash = ?, updated_at = ? WHERE id = ? AND state = ?",
                (separation_hash, self._clock(), job_id, JobState.SUBMITTED.value),
            ).rowcount
            row = connection.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise StoreError(f"no job with id {job_id}")
        if not changed:
            raise IllegalTransitionError(job_id, row["state"], JobState.SUBMITTED.value)
        return records.job_from_row(row)

    def update_progress(self, job_id: int, **changes: Any) -> JobRecord:
        """Record progress (queue position, bytes, next poll) without changing the state."""
        unknown = set(changes) - _PROGRESS_FIELDS
        if unknown:
            raise StoreError(f"progress updates may not change {', '.join(sorted(unknown))}")
        values = records.column_values(changes)
        values["updated_at"] = self._clock()
        assignments = ", ".join(f"{column} = ?" for column in values)
        with self._transaction() as connection:
            connection.execute(
                f"UPDATE jobs SET {assignments} WHERE id = ?",  # noqa: S608 (columns whitelisted)
                (*values.values(), job_id),
            )
            row = connection.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise StoreError(f"no job with id {job_id}")
        return records.job_from_row(row)

    def get(self, job_id: int) -> JobRecord:
        """Return the job with ``job_id``. Raise StoreError if there is none."""
        rows = self._query("SELECT * FROM jobs WHERE id = ?", (job_id,))
        if not rows:
            raise StoreError(f"no job with id {job_id}")
        return records.job_from_row(rows[0])

    def jobs(
        self, states: Iterable[JobState] | None = None, *, limit: int | None = None
    ) -> list[JobRecord]:
        """Return jobs (optionally only in ``states``), oldest first."""
        sql = "SELECT * FROM jobs"
        parameters: list[Any] = []
        if states is not None:
            wanted = [state.value for state in states]
            sql += f" WHERE state IN ({', '.join('?' for _ in wanted)})"
            parameters.extend(wanted)
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            parameters.append(limit)
        return [records.job_from_row(row) for row in self._query(sql, parameters)]

    def recent(self, limit: int = 50) -> list[JobRecord]:
        """Return the most recently changed jobs, newest first."""
        rows = self._query("SELECT * FROM jobs ORDER BY updated_at DESC, id DESC LIMIT ?", [limit])
        return [records.job_from_row(row) for row in rows]

    def count_by_state(self) -> dict[JobState, int]:
        """Return how many jobs are in each state."""
        rows = self._query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state")
        return {JobState(row["state"]): int(row["n"]) for row in rows}

    def credits_committed_since(self, since: float) -> int:
        """Return the estimated credits of jobs submitted at or after ``since`` (a chain's
        first step counts what it reserved for the whole chain)."""
        rows = self._query(
            "SELECT COALESCE(SUM(COALESCE(credits_reserved, credits_estimate)), 0) AS total "
            "FROM jobs "
            "WHERE upload_started_at >= ? AND state NOT IN (?, ?)",
            [since, JobState.CANCELLED.value, JobState.STABLE.value],
        )
        return int(rows[0]["total"])

    def events(self, job_id: int) -> list[tuple[float, str | None, str, str | None]]:
        """Return a job's history: (time, from state, to state, detail), oldest first."""
        rows = self._query(
            "SELECT at, from_state, to_state, detail FROM events WHERE job_id = ? ORDER BY id",
            [job_id],
        )
        return [(row["at"], row["from_state"], row["to_state"], row["detail"]) for row in rows]

    # --- sources and folders -------------------------------------------------------------------

    def source(self, folder_path: str, relative_path: str) -> SourceRecord | None:
        """Return what is known of one file in a hot folder, if anything."""
        rows = self._query(
            "SELECT * FROM sources WHERE folder_path = ? AND relative_path = ?",
            [records.path_to_db(folder_path), records.path_to_db(relative_path)],
        )
        return records.source_from_row(rows[0]) if rows else None

    def source_stats(self, folder_path: str) -> dict[str, tuple[int, int]]:
        """Return (size, mtime_ns) of every recorded file of a hot folder, by relative path:
        one read for a whole scan."""
        rows = self._query(
            "SELECT relative_path, size, mtime_ns FROM sources WHERE folder_path = ?",
            [records.path_to_db(folder_path)],
        )
        from_db = records.path_from_db
        return {from_db(row[0]): (row[1], row[2]) for row in rows}

    def sources_in(self, folder_path: str) -> dict[str, SourceRecord]:
        """Return every recorded file of a hot folder, by relative path."""
        rows = self._query(
            "SELECT * FROM sources WHERE folder_path = ?", [records.path_to_db(folder_path)]
        )
        found = (records.source_from_row(row) for row in rows)
        return {record.relative_path: record for record in found}

    def record_source(self, record: SourceRecord) -> None:
        """Remember a file's size, mtime, content hash and what became of it."""
        with self._transaction() as connection:
            connection.execute(
                """INSERT INTO sources (folder_path, relative_path, size, mtime_ns,
                       content_sha256, job_id, verdict, seen_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (folder_path, relative_path) DO UPDATE SET
                       size = excluded.size, mtime_ns = excluded.mtime_ns,
                       content_sha256 = excluded.content_sha256, job_id = excluded.job_id,
                       verdict = excluded.verdict, seen_at = excluded.seen_at""",
                (
                    records.path_to_db(record.folder_path),
                    records.path_to_db(record.relative_path),
                    record.size,
                    record.mtime_ns,
                    record.content_sha256,
                    record.job_id,
                    record.verdict,
                    self._clock(),
                ),
            )

    def forget_source(self, folder_path: str, relative_path: str) -> None:
        """Forget a file (it was removed), so that a new file at that path is looked at anew."""
        with self._transaction() as connection:
            connection.execute(
                "DELETE FROM sources WHERE folder_path = ? AND relative_path = ?",
                (records.path_to_db(folder_path), records.path_to_db(relative_path)),
            )

    def folder_first_watched(self, folder_path: str) -> float | None:
        """Return when a hot folder was first watched, or None if never."""
        rows = self._query(
            "SELECT first_watched_at FROM folders WHERE path = ?", [records.path_to_db(folder_path)]
        )
        return float(rows[0]["first_watched_at"]) if rows else None

    def mark_folder_watched(self, folder_path: str) -> None:
        """Remember that a hot folder has been watched (its first scan is done)."""
        with self._transaction() as connection:
            connection.execute(
                "INSERT OR IGNORE INTO folders (path, first_watched_at) VALUES (?, ?)",
                (records.path_to_db(folder_path), self._clock()),
            )

    # --- flags ------------------------------------------------------------------------------

    def flag(self, name: str) -> str | None:
        """Return a daemon flag's value, or None."""
        rows = self._query("SELECT value FROM flags WHERE name = ?", [name])
        return str(rows[0]["value"]) if rows else None

    def set_flag(self, name: str, value: str | None) -> None:
        """Set (or with None, clear) a daemon flag."""
        with self._transaction() as connection:
            if value is None:
                connection.execute("DELETE FROM flags WHERE name = ?", (name,))
            else:
                connection.execute(
                    "INSERT INTO flags (name, value) VALUES (?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    (name, value),
                )

    # --- integrity ---------------------------------------------------------------------------

    def integrity_problems(self) -> list[str]:
        """Return everything wrong with the store (empty when healthy)."""
        problems: list[str] = []
        check = self._query("PRAGMA integrity_check")
        if check and check[0][0] != "ok":
            problems.extend(f"sqlite: {row[0]}" for row in check)
        known = {state.value for state in JobState}
        rows = self._query("SELECT id, state, resume_state, separation_hash, remote_hash FROM jobs")
        for row in rows:
            if row["state"] not in known:
                problems.append(f"job {row['id']}: unknown state {row['state']!r}")
                continue
            state = JobState(row["state"])
            waiting_for_remote = state is JobState.SUBMITTED and row["remote_hash"]
            if (
                state in (JobState.SUBMITTED, JobState.DOWNLOADING, JobState.DONE)
                and not row["separation_hash"]
                and not waiting_for_remote
            ):
                problems.append(f"job {row['id']}: {state.value} without a separation hash")
            if state is JobState.RETRY_WAIT and row["resume_state"] not in {
                s.value for s in lifecycle.RESUMABLE_STATES
            }:
                problems.append(f"job {row['id']}: retry_wait without a state to resume")
        return problems
