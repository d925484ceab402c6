"""The studio job store: PostgreSQL shared by several hosts (adapter; psycopg is used only
here, in ``pgwire`` and in ``pglink``).

Every call is ``mvsepd.store.base``'s, over a psycopg connection pool. What one machine never
needed, this backend adds:

- Ownership: a job belongs to the host that made it (``owner_host``) under a lease
  (``lease_epoch``, ``lease_expires_at`` on the database's clock, renewed by a heartbeat). Every
  write locks the job's row and is refused (``LeaseLostError``) unless this host holds the lease
  it last read, so a host that wakes up after losing a job changes nothing.
- Takeover: ``take_over`` gives this host the unfinished jobs of hosts whose heartbeat and
  lease both ran out, on shares this host mounts, each with a new lease number (and their
  finished jobs that a delivery on such a share waits for).
- Slots: ``claim_slot`` counts and claims under a transaction-scoped advisory lock, so the
  account's limit holds for the whole studio.
- Wake-ups: ``mvsepd.store.pglink`` listens for the jobs trigger's notifications and keeps the
  heartbeat; polling stays the truth.
- Time: the store's clock is this host's, corrected by the database's (measured at every
  heartbeat), so a workstation whose clock is an hour off writes the studio's times.

The DSN's password never reaches a log or an error: errors are reworded without it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import psycopg
import psycopg_pool
from psycopg import errors as pg_errors
from psycopg.rows import dict_row

from mvsepd import __version__
from mvsepd.errors import LeaseLostError, StoreError, StoreUnavailableError
from mvsepd.models import DeliveryState, JobRecord, JobState, Secret
from mvsepd.store import pgschema, records
from mvsepd.store.base import SqlJobStore
from mvsepd.store.pgwire import (
    DB_NOW,
    TERMINAL,
    Connection,
    configure_connection,
    describe_dsn,
    like_prefix,
    marks,
    words,
)
from mvsepd.store.studio import StudioPaths

_SLOTS_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('mvsepd:slots', 0))"
#: States whose takeover needs no source file (MVSEP has the audio already).
_REMOTE_STATES = (
    JobState.SUBMITTED.value,
    JobState.PUBLISHING.value,
    JobState.DOWNLOADING.value,
)


class PostgresJobStore(SqlJobStore):
    """A job store in a PostgreSQL database shared by the studio's hosts."""

    _LOCK_ROW = " FOR UPDATE"

    def __init__(
        self,
        dsn: str,
        *,
        host_id: str,
        shares: Mapping[str, str],
        lease_seconds: float = 30.0,
        connect_timeout: float = 10.0,
    ) -> None:
        self.host_id = host_id
        self.studio_paths = StudioPaths(host_id, shares)
        self.paths = self.studio_paths
        self.lease_seconds = lease_seconds
        self.location = describe_dsn(dsn)
        self._held: dict[int, int] = {}
        self._held_lock = threading.Lock()
        self._offset = 0.0
        self._dsn = Secret(dsn)  # never in a repr or a traceback's locals
        self._pool: psycopg_pool.ConnectionPool[psycopg.Connection[dict[str, Any]]] = (
            psycopg_pool.ConnectionPool(
                dsn,
                min_size=1,
                max_size=6,
                open=False,
                timeout=connect_timeout,
                kwargs={"row_factory": dict_row, "connect_timeout": int(connect_timeout)},
                configure=configure_connection,
                check=psycopg_pool.ConnectionPool.check_connection,
                name="mvsepd-store",
            )
        )
        try:
            # One connection first, outside the pool: its failure says why ("connection
            # refused", "database ... does not exist"); the pool's says only that none came.
            psycopg.connect(dsn, connect_timeout=int(connect_timeout)).close()
            self._pool.open(wait=True, timeout=connect_timeout)
            with self._pool.connection() as connection:
                pgschema.migrate(connection, location=self.location, host_id=host_id)
            self.measure_clock()
            self._register_host()
        except ValueError as error:
            self._pool.close()
            raise StoreError(str(error)) from None
        except StoreError:
            self._pool.close()
            raise
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as error:
            self._pool.close()
            raise StoreUnavailableError(
                f"the studio database ({self.location}) cannot be reached: {words(error)}"
            ) from None
        except psycopg.Error as error:
            self._pool.close()
            raise StoreError(
                f"cannot open the studio database ({self.location}): {words(error)}"
            ) from None

    # --- plumbing ---------------------------------------------------------------------------

    def close(self) -> None:
        """Say this host stopped (its jobs stay its own until the lease runs out), close."""
        try:
            with self._transaction() as connection:
                connection.execute(
                    f"UPDATE hosts SET stopped_at = {DB_NOW} WHERE id = ?", (self.host_id,)
                )
        except StoreError:
            pass
        self._pool.close()

    def __enter__(self) -> PostgresJobStore:
        return self

    def connect_listener(self) -> psycopg.Connection[Any]:
        """A connection of its own (autocommit, outside the pool) for LISTEN."""
        try:
            return psycopg.connect(self._dsn.reveal(), autocommit=True, connect_timeout=10)
        except psycopg.Error as error:
            raise StoreUnavailableError(
                f"the studio database ({self.location}) cannot be reached: {words(error)}"
            ) from None

    def _now(self) -> float:
        return time.time() + self._offset

    def clock(self) -> float:
        """This host's time, corrected by the database's: the studio's time."""
        return self._now()

    @contextmanager
    def _transaction(self) -> Iterator[records.Connection]:
        try:
            with self._pool.connection() as connection, connection.transaction():
                yield Connection(connection)
        except (
            pg_errors.TransactionRollback,
            pg_errors.DeadlockDetected,
            pg_errors.SerializationFailure,
        ) as error:
            # A deadlock or serialisation failure: the database answered; try again later.
            raise StoreError(f"studio database: {words(error)}") from None
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as error:
            raise StoreUnavailableError(
                f"the studio database ({self.location}) cannot be reached: {words(error)}"
            ) from None
        except psycopg.Error as error:
            raise StoreError(f"studio database: {words(error)}") from None

    def _query(self, sql: str, parameters: Iterable[Any] = ()) -> list[Any]:
        with self._transaction() as connection:
            return connection.execute(sql, tuple(parameters)).fetchall()

    def measure_clock(self) -> float:
        """Measure how far this host's clock is from the database's; return the offset."""
        before = time.time()
        rows = self._query(f"SELECT {DB_NOW} AS now")
        after = time.time()
        self._offset = float(rows[0]["now"]) - (before + after) / 2
        return self._offset

    def _register_host(self) -> None:
        with self._transaction() as connection:
            connection.execute(
                f"""INSERT INTO hosts (id, version, started_at, heartbeat_at)
                    VALUES (?, ?, {DB_NOW}, {DB_NOW})
                    ON CONFLICT (id) DO UPDATE SET version = excluded.version,
                        started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at,
                        stopped_at = NULL""",
                (self.host_id, __version__),
            )
            # This host's jobs from before its restart are its own again under the same lease
            # number (a host id runs once: the instance lock of its state folder sees to it),
            # so their downloads resume where they stopped.
            rows = connection.execute(
                f"""UPDATE jobs SET lease_expires_at = {DB_NOW} + ?
                    WHERE owner_host = ? AND state NOT IN ({marks(TERMINAL)})
                    RETURNING id, lease_epoch""",
                (self.lease_seconds, self.host_id, *TERMINAL),
            ).fetchall()
        with self._held_lock:
            self._held.update({int(row["id"]): int(row["lease_epoch"]) for row in rows})

    # --- ownership ---------------------------------------------------------------------------

    def _new_owner(self) -> tuple[str | None, int, float | None]:
        return (self.host_id, 1, self._now() + self.lease_seconds)

    def _fence(self, row: records.Row, to_state: JobState) -> dict[str, Any]:
        job_id, owner, epoch = int(row["id"]), row["owner_host"], int(row["lease_epoch"])
        with self._held_lock:
            held = self._held.get(job_id)
        if owner == self.host_id and held == epoch:
            return {}
        finished = JobState(row["state"]).terminal
        # A step of this host that ends after another host took the job and finished it (a
        # cancel there) writes nothing: refused below.
        late_step = held is not None and held < epoch and to_state.terminal
        if owner is None or (finished and not late_step):
            # A finished job started again here (``mvsepd retry``) is this host's from now on.
            return self._adopt(row)
        with self._held_lock:
            self._held.pop(job_id, None)
        raise LeaseLostError(job_id, owner)

    def _adopt(self, row: records.Row) -> dict[str, Any]:
        return {
            "owner_host": self.host_id,
            "lease_epoch": int(row["lease_epoch"]) + 1,
            "lease_expires_at": self._now() + self.lease_seconds,
        }

    def _held_now(self, job: JobRecord) -> None:
        if job.owner_host == self.host_id:
            with self._held_lock:
                self._held[job.id] = job.lease_epoch

    def owns(self, job: JobRecord) -> bool:
        with self._held_lock:
            return job.owner_host == self.host_id and self._held.get(job.id) == job.lease_epoch

    def check_lease(self, job_id: int) -> None:
        # Renewed here as well: a lease that lapsed while the database was away is still this
        # host's as long as nobody took the job (its lease number is unchanged).
        with self._held_lock:
            held = self._held.get(job_id)
        with self._transaction() as connection:
            renewed = connection.execute(
                f"""UPDATE jobs SET lease_expires_at = {DB_NOW} + ?
                    WHERE id = ? AND owner_host = ? AND lease_epoch = ?""",
                (self.lease_seconds, job_id, self.host_id, held if held is not None else -1),
            ).rowcount
            if renewed:
                return
            row = connection.execute(
                "SELECT owner_host FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
        if row is None:
            raise StoreError(f"no job with id {job_id}")
        raise LeaseLostError(job_id, row["owner_host"])

    def notify(self, channel: str, payload: str) -> None:
        """Send a notification (the listener's own stop signal)."""
        with self._transaction() as connection:
            connection.execute("SELECT pg_notify(?, ?)", (channel, payload))

    def _serialise_slots(self, connection: records.Connection) -> None:
        connection.execute(_SLOTS_LOCK)

    def _late_deliveries_filter(self) -> tuple[str, list[Any]]:
        # A finished job's late deliveries are placed by its host, or (a folder of one host
        # alone) by that host: never by two hosts at once.
        return (
            " AND (jobs.owner_host = ? OR deliveries.folder_path LIKE ?)",
            [self.host_id, like_prefix(self.studio_paths.own_prefix())],
        )

    def heartbeat(self) -> int:
        """Renew this host's heartbeat and the leases of its unfinished jobs; return how many
        leases were renewed. Raise StoreUnavailableError when the database cannot be reached."""
        self.measure_clock()
        with self._transaction() as connection:
            connection.execute(
                f"UPDATE hosts SET heartbeat_at = {DB_NOW}, stopped_at = NULL WHERE id = ?",
                (self.host_id,),
            )
            renewed = connection.execute(
                f"""UPDATE jobs SET lease_expires_at = {DB_NOW} + ?
                    WHERE owner_host = ? AND state NOT IN ({marks(TERMINAL)})""",
                (self.lease_seconds, self.host_id, *TERMINAL),
            ).rowcount
        return renewed

    def take_over(self) -> list[tuple[JobRecord, str]]:
        """Take the unfinished jobs of hosts that stopped answering: their lease ran out and
        their host's heartbeat is older than a lease. Only jobs this host can finish are
        taken: their folder is on a share mounted here, and so is their source unless MVSEP
        has the audio already. A finished job is taken when a delivery on a share mounted here
        waits for it (the same take dropped again while its host is switched off), so that
        delivery is placed here. Return each taken job (as it is now) with its former host."""
        prefixes = self.studio_paths.share_prefixes()
        if not prefixes:
            return []
        like = " OR ".join("jobs.folder_path LIKE ?" for _ in prefixes)
        source_like = " OR ".join("jobs.source_path LIKE ?" for _ in prefixes)
        delivery_like = " OR ".join("deliveries.folder_path LIKE ?" for _ in prefixes)
        patterns = [like_prefix(prefix) for prefix in prefixes]
        with self._transaction() as connection:
            candidates = connection.execute(
                f"""SELECT jobs.id, jobs.owner_host FROM jobs
                    LEFT JOIN hosts ON hosts.id = jobs.owner_host
                    WHERE jobs.owner_host IS DISTINCT FROM ?
                      AND (jobs.lease_expires_at IS NULL OR jobs.lease_expires_at < {DB_NOW})
                      AND (hosts.heartbeat_at IS NULL OR hosts.heartbeat_at < {DB_NOW} - ?)
                      AND ((jobs.state NOT IN ({marks(TERMINAL)})
                            AND ({like})
                            AND (jobs.state IN ({marks(_REMOTE_STATES)})
                                 OR jobs.input_kind IN ('url', 'prompt')
                                 OR {source_like}))
                           OR (jobs.state = ? AND EXISTS (
                                 SELECT 1 FROM deliveries WHERE deliveries.job_id = jobs.id
                                   AND deliveries.state = ? AND ({delivery_like}))))
                    ORDER BY jobs.id
                    FOR UPDATE OF jobs SKIP LOCKED""",
                (
                    self.host_id,
                    self.lease_seconds,
                    *TERMINAL,
                    *patterns,
                    *_REMOTE_STATES,
                    *patterns,
                    JobState.DONE.value,
                    DeliveryState.WAITING.value,
                    *patterns,
                ),
            ).fetchall()
            taken: list[tuple[JobRecord, str]] = []
            now = self._now()
            for candidate in candidates:
                row = connection.execute(
                    f"""UPDATE jobs SET owner_host = ?, lease_epoch = lease_epoch + 1,
                            lease_expires_at = {DB_NOW} + ?, updated_at = ?
                        WHERE id = ? RETURNING *""",
                    (self.host_id, self.lease_seconds, now, candidate["id"]),
                ).fetchone()
                former = str(candidate["owner_host"] or "nobody")
                connection.execute(
                    "INSERT INTO events (job_id, at, from_state, to_state, detail) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (
                        row["id"],
                        now,
                        row["state"],
                        row["state"],
                        f"taken over from {former} (its lease ran out)"
                        if row["state"] != JobState.DONE.value
                        else f"its late deliveries taken over from {former} (it stopped answering)",
                    ),
                )
                taken.append((records.job_from_row(row, self.paths), former))
        for job, _former in taken:
            self._held_now(job)
        return taken

    def studio(self) -> dict[str, Any] | None:
        return {"host": self.host_id, "database": self.location, "hosts": self.hosts()}

    def hosts(self) -> list[dict[str, Any]]:
        """Every host of the studio: id, version, seconds since its heartbeat, stopped or not."""
        rows = self._query(
            f"SELECT id, version, {DB_NOW} - heartbeat_at AS quiet_seconds, "
            "stopped_at IS NOT NULL AS stopped FROM hosts ORDER BY id"
        )
        return [
            {
                "id": row["id"],
                "version": row["version"],
                "quiet_seconds": round(float(row["quiet_seconds"]), 1),
                "stopped": bool(row["stopped"]),
                "alive": not row["stopped"]
                and float(row["quiet_seconds"]) < 2 * self.lease_seconds,
            }
            for row in rows
        ]
