"""What every job store does, in SQL both backends speak (``?`` placeholders).

It owns the one writer of job states (``transition``, checked against ``mvsepd.domain.lifecycle``;
the new state, its fields and an event row are written in one transaction, the row read
locked), progress updates that never change a state, and the claiming of the account's slots
(count and claim in one critical section). Its mixins hold the rest: the files already seen
and small daemon flags (``sources``), deliveries (``deliveries``), the read-only views
(``reads``), MVSEP's processing times (``timing``). A backend supplies the connection, its
transactions and migrations, and (studio mode) who owns a job: ``_fence`` refuses a write by
a host that lost the job's lease.

A job's identity is (SHA-256 of its bytes, preset fingerprint), enforced by a UNIQUE index: the
same audio with the same preset is one job, however often (and on however many hosts) it
appears.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from mvsepd.domain import lifecycle
from mvsepd.errors import IllegalTransitionError, StoreError
from mvsepd.models import JobRecord, JobState
from mvsepd.store import records
from mvsepd.store.deliveries import DeliveryCalls, DeliveryKeys
from mvsepd.store.reads import JobReads
from mvsepd.store.sources import SourceCalls
from mvsepd.store.timing import ProcessingTimes

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
        "timings_json",
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
        "retries",
        "publish_started_at",
        "failure_kind",
        "timings_json",
        "hold_kind",
    }
)


class SqlJobStore(DeliveryCalls, SourceCalls, JobReads, ProcessingTimes):
    """The job store's calls over a backend's connection (see the module docstring)."""

    #: Studio mode: this host's id (None on one machine, where every job is this host's).
    host_id: str | None = None
    #: Studio mode: how long a job stays its host's without a heartbeat.
    lease_seconds: float = 0.0
    #: Appended to a SELECT of the row a transaction is about to change.
    _LOCK_ROW = ""
    #: The id of a new job, where the database would otherwise hand out one again: SQLite
    #: gives the largest id plus one, so a job removed while it was the newest (a job the
    #: configuration no longer wanted, ``discard_unsent``) would lend its id to the next.
    #: None: the database never hands out an id twice (PostgreSQL's identity columns).
    _NEW_JOB_ID: str | None = None
    #: The flag that remembers the largest id a removed job had.
    _IDS_THROUGH = "job_ids_through"

    # --- what a backend provides ------------------------------------------------------------

    def close(self) -> None:
        """Close the database."""
        raise NotImplementedError

    def __enter__(self) -> SqlJobStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _serialise_slots(self, connection: records.Connection) -> None:
        """Inside a transaction: wait until no other claim of a slot is in progress."""

    def _new_owner(self) -> tuple[str | None, int, float | None]:
        """(owner_host, lease_epoch, lease_expires_at) of a job created now."""
        return (None, 0, None)

    def _fence(self, row: records.Row, to_state: JobState) -> dict[str, Any]:
        """Refuse (StoreError) a write to a job this host does not hold; return the ownership
        columns the write also sets (a finished job taken up again becomes the writer's)."""
        return {}

    def _adopt(self, row: records.Row) -> dict[str, Any]:
        """The ownership columns of a write that takes the job from whichever host holds it
        (on one machine: none)."""
        return {}

    def _held_now(self, job: JobRecord) -> None:
        """Note the lease a write left this host holding."""

    def owns(self, job: JobRecord) -> bool:
        """True when this host is the one to work on ``job`` (always, on one machine)."""
        return True

    def check_lease(self, job_id: int) -> None:
        """Studio mode: raise LeaseLostError unless this host still holds the job's lease
        (asked before a step that writes outside the store, such as placing stems)."""

    def studio(self) -> dict[str, Any] | None:
        """Studio mode: this host, the database, every host and its heartbeat (else None)."""
        return None

    def take_over(self) -> list[tuple[JobRecord, str]]:
        """Studio mode: take the jobs of hosts that went silent (here: there are none)."""
        return []

    def reachable(self, path: str) -> bool:
        """True when this host can reach ``path`` (a job's or a delivery's folder)."""
        return self.paths.reachable(path)

    def _locked_job(self, connection: records.Connection, job_id: int) -> records.Row:
        sql = f"SELECT * FROM jobs WHERE id = ?{self._LOCK_ROW}"  # noqa: S608 (fixed text)
        row = connection.execute(sql, (job_id,)).fetchone()
        if row is None:
            raise StoreError(f"no job with id {job_id}")
        return row  # type: ignore[no-any-return]

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
        now = self._now()
        keys = delivery or DeliveryKeys(folder_path, source_path, preset_name)
        with self._transaction() as connection:
            # Claim-once: among hosts that found the same audio at once, the one whose insert
            # lands makes the job; the others find it (the identity is UNIQUE).
            owner = self._new_owner()
            id_column, id_value = (
                ("id, ", f"{self._NEW_JOB_ID}, ") if self._NEW_JOB_ID else ("", "")
            )
            inserted = connection.execute(
                f"""INSERT INTO jobs ({id_column}content_sha256, preset_fingerprint, preset_name,
                       folder_path, source_path, source_size, state, sep_type, options_json,
                       output_format, input_kind, input_json, parent_job_id, from_stem,
                       credits_reserved, created_at, updated_at, owner_host, lease_epoch,
                       lease_expires_at)
                   VALUES ({id_value}?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (content_sha256, preset_fingerprint) DO NOTHING
                   RETURNING id""",  # noqa: S608 (fixed text)
                (
                    content_sha256,
                    preset_fingerprint,
                    preset_name,
                    self.paths.to_db(folder_path),
                    self.paths.to_db(source_path),
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
                    *owner,
                ),
            ).fetchone()
            if inserted is None:
                row = connection.execute(
                    "SELECT * FROM jobs WHERE content_sha256 = ? AND preset_fingerprint = ?",
                    (content_sha256, preset_fingerprint),
                ).fetchone()
                return records.job_from_row(row, self.paths), False
            job_id = int(inserted["id"])
            connection.execute(
                "INSERT INTO events (job_id, at, from_state, to_state, detail) VALUES (?,?,?,?,?)",
                (job_id, now, None, JobState.DISCOVERED.value, self.paths.to_db(source_path)),
            )
            self._insert_delivery(connection, job_id, keys, now)
            created = connection.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            job = records.job_from_row(created, self.paths)
        self._held_now(job)
        return job, True

    def transition(
        self,
        job_id: int,
        to_state: JobState,
        *,
        expected: JobState | Iterable[JobState] | None = None,
        detail: str | None = None,
        adopt: bool = False,
        **changes: Any,
    ) -> JobRecord:
        """Move a job to ``to_state`` with ``changes``, and log it, in one transaction.

        ``expected`` guards against a concurrent change (the state must be one of them). Raise
        IllegalTransitionError if the lifecycle forbids the move, StoreError for an unknown job.
        ``adopt`` (studio mode, a user's cancel or retry on another host than the job's): the
        job becomes this host's under a new lease number, so whatever its former host still
        does with it is refused.
        """
        unknown = set(changes) - _TRANSITION_FIELDS
        if unknown:
            raise StoreError(f"a transition may not change {', '.join(sorted(unknown))}")
        with self._transaction() as connection:
            return self._transition(
                connection, job_id, to_state, expected, detail, changes, adopt=adopt
            )

    def _transition(
        self,
        connection: records.Connection,
        job_id: int,
        to_state: JobState,
        expected: JobState | Iterable[JobState] | None,
        detail: str | None,
        changes: Mapping[str, Any],
        *,
        adopt: bool = False,
    ) -> JobRecord:
        """``transition`` inside a transaction: read the row locked, check, write, log."""
        now = self._now()
        row = self._locked_job(connection, job_id)
        current = JobState(row["state"])
        allowed = records.as_state_set(expected)
        if (allowed is not None and current not in allowed) or not lifecycle.can_transition(
            current, to_state
        ):
            raise IllegalTransitionError(job_id, current.value, to_state.value)
        values = self._adopt(row) if adopt else self._fence(row, to_state)
        values.update(records.column_values(changes, self.paths))
        if to_state is not JobState.HELD:
            values["hold_kind"] = None  # a hold's kind is the held state's alone
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
        job = records.job_from_row(updated, self.paths)
        self._held_now(job)
        return job

    def discard_unsent(self, job_id: int, *, expected: Iterable[JobState]) -> JobRecord | None:
        """Remove a job MVSEP never saw, with its deliveries, its history and the records of
        the files that made it, so that those files are taken afresh; return what it was, or
        None (nothing removed) when it moved on meanwhile (not in ``expected`` any more, an
        upload begun, a hash given), is another host's, or a chain step hangs from it.

        Jobs are otherwise never removed. This is for a job the configuration no longer wants
        (``engine.reconfigure``): cancelling it instead would keep its identity (the audio and
        the preset's fingerprint), and the file taken again, or the preset changed back, would
        find that cancelled job and go nowhere.
        """
        allowed = set(expected)
        with self._transaction() as connection:
            job = records.job_from_row(self._locked_job(connection, job_id), self.paths)
            sent = (
                job.separation_hash is not None
                or job.remote_hash is not None
                or job.upload_started_at is not None
            )
            if job.state not in allowed or sent or not self.owns(job):
                return None
            child = connection.execute(
                "SELECT id FROM jobs WHERE parent_job_id = ? LIMIT 1", (job_id,)
            ).fetchone()
            if child is not None:
                return None
            for statement in (
                "DELETE FROM events WHERE job_id = ?",
                "DELETE FROM sources WHERE job_id = ?",
                "DELETE FROM deliveries WHERE job_id = ?",
                "DELETE FROM jobs WHERE id = ?",
            ):
                connection.execute(statement, (job_id,))
            through = connection.execute(
                "SELECT value FROM flags WHERE name = ?", (self._IDS_THROUGH,)
            ).fetchone()
            highest = max(job_id, int(through["value"]) if through is not None else 0)
            connection.execute(
                "INSERT INTO flags (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (self._IDS_THROUGH, str(highest)),
            )
            return job

    def claim_slot(self, job_id: int, *, limit: int, **changes: Any) -> JobRecord | None:
        """Move a job that waits for a slot to ``uploading``, if fewer than ``limit`` jobs hold
        one; else None. Counting and claiming are one critical section for every host sharing
        the store: counting first and claiming after let four hosts run four jobs on a limit
        of one (the pgqueuer bug #761)."""
        with self._transaction() as connection:
            self._serialise_slots(connection)
            occupying = [state.value for state in JobState if state.occupies_slot]
            used = connection.execute(
                f"SELECT COUNT(*) AS n FROM jobs WHERE state IN ({', '.join('?' for _ in occupying)})",  # noqa: S608,E501
                occupying,
            ).fetchone()
            if int(used["n"]) >= limit:
                return None
            return self._transition(
                connection,
                job_id,
                JobState.UPLOADING,
                (JobState.STABLE, JobState.WAITING_SLOT),
                None,
                changes,
            )

    def set_separation_hash(self, job_id: int, separation_hash: str) -> JobRecord:
        """Record the real hash of a submitted URL job (MVSEP answered it after fetching)."""
        with self._transaction() as connection:
            locked = self._locked_job(connection, job_id)
            self._fence(locked, JobState.SUBMITTED)
            changed = connection.execute(
                "UPDATE jobs SET separation_hash = ?, updated_at = ? WHERE id = ? AND state = ?",
                (separation_hash, self._now(), job_id, JobState.SUBMITTED.value),
            ).rowcount
            row = connection.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if not changed:
            raise IllegalTransitionError(job_id, row["state"], JobState.SUBMITTED.value)
        return records.job_from_row(row, self.paths)

    def update_progress(self, job_id: int, **changes: Any) -> JobRecord:
        """Record progress (queue position, bytes, next poll) without changing the state."""
        unknown = set(changes) - _PROGRESS_FIELDS
        if unknown:
            raise StoreError(f"progress updates may not change {', '.join(sorted(unknown))}")
        values = records.column_values(changes, self.paths)
        values["updated_at"] = self._now()
        assignments = ", ".join(f"{column} = ?" for column in values)
        with self._transaction() as connection:
            locked = self._locked_job(connection, job_id)
            self._fence(locked, JobState(locked["state"]))
            connection.execute(
                f"UPDATE jobs SET {assignments} WHERE id = ?",  # noqa: S608 (columns whitelisted)
                (*values.values(), job_id),
            )
            row = connection.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return records.job_from_row(row, self.paths)

    def get(self, job_id: int) -> JobRecord:
        """Return the job with ``job_id``. Raise StoreError if there is none."""
        rows = self._query("SELECT * FROM jobs WHERE id = ?", (job_id,))
        if not rows:
            raise StoreError(f"no job with id {job_id}")
        return records.job_from_row(rows[0], self.paths)
