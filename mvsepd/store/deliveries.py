"""The deliveries of the job store: every place a job's results go, each placed once.

A job is one MVSEP job (one payment); a delivery is one placing of its results: the drop that
made the job, the same audio dropped into a second folder, or a step of a chain run. Adding a
delivery is idempotent (UNIQUE over job, folder, source, chain and step), so a drop seen again
after a crash finds its delivery instead of adding a second one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from mvsepd.errors import StoreError
from mvsepd.models import DeliveryRecord, DeliveryState, JobState
from mvsepd.store import records


@dataclass(frozen=True)
class DeliveryKeys:
    """What names a delivery: where (folder, source file), as which preset, chain and step."""

    folder_path: str
    source_path: str
    preset_name: str
    chain: str = ""
    step: str = ""
    parent_delivery_id: int | None = None


class DeliveryCalls(records.Backend):
    """The delivery methods of ``JobStore`` (which provides the connection and the clock)."""

    def _late_deliveries_filter(self) -> tuple[str, list[Any]]:
        """SQL (`` AND ...``) keeping the late deliveries this host places (here: all)."""
        return "", []

    def add_delivery(self, job_id: int, keys: DeliveryKeys) -> tuple[DeliveryRecord, bool]:
        """Return the delivery with these keys and whether it was added now (``waiting``)."""
        with self._transaction() as connection:
            delivery_id, added = self._insert_delivery(connection, job_id, keys, self._now())
            row = connection.execute(
                "SELECT * FROM deliveries WHERE id = ?", (delivery_id,)
            ).fetchone()
            return records.delivery_from_row(row, self.paths), added

    def _insert_delivery(
        self, connection: records.Connection, job_id: int, keys: DeliveryKeys, now: float
    ) -> tuple[int, bool]:
        """Inside a transaction: find or insert a delivery; return its id and whether it is new."""
        where = (
            job_id,
            self.paths.to_db(keys.folder_path),
            self.paths.to_db(keys.source_path),
            keys.chain,
            keys.step,
        )
        row = connection.execute(
            "SELECT id FROM deliveries WHERE job_id = ? AND folder_path = ? AND "
            "source_path = ? AND chain = ? AND step = ?",
            where,
        ).fetchone()
        if row is not None:
            return int(row["id"]), False
        # Two hosts may add the same delivery at once: the loser of the race finds the row.
        inserted = connection.execute(
            """INSERT INTO deliveries (job_id, folder_path, source_path, chain, step,
                   preset_name, parent_delivery_id, state, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (job_id, folder_path, source_path, chain, step) DO NOTHING
               RETURNING id""",
            (*where, keys.preset_name, keys.parent_delivery_id, DeliveryState.WAITING.value,
             now, now),
        ).fetchone()  # fmt: skip
        if inserted is not None:
            return int(inserted["id"]), True
        row = connection.execute(
            "SELECT id FROM deliveries WHERE job_id = ? AND folder_path = ? AND "
            "source_path = ? AND chain = ? AND step = ?",
            where,
        ).fetchone()
        return int(row["id"]), False

    def delivery(self, delivery_id: int) -> DeliveryRecord:
        """Return one delivery. Raise StoreError if there is none."""
        rows = self._query("SELECT * FROM deliveries WHERE id = ?", [delivery_id])
        if not rows:
            raise StoreError(f"no delivery with id {delivery_id}")
        return records.delivery_from_row(rows[0], self.paths)

    def deliveries(
        self,
        job_id: int | None = None,
        *,
        states: Iterable[DeliveryState] | None = None,
        folder_path: str | None = None,
        source_path: str | None = None,
        chain: str | None = None,
    ) -> list[DeliveryRecord]:
        """Return deliveries, oldest first, filtered by job, state, folder, source and chain."""
        clauses: list[str] = []
        parameters: list[Any] = []
        if job_id is not None:
            clauses.append("job_id = ?")
            parameters.append(job_id)
        if states is not None:
            wanted = [state.value for state in states]
            clauses.append(f"state IN ({', '.join('?' for _ in wanted)})")
            parameters.extend(wanted)
        for column, value in (("folder_path", folder_path), ("source_path", source_path)):
            if value is not None:
                clauses.append(f"{column} = ?")
                parameters.append(self.paths.to_db(value))
        if chain is not None:
            clauses.append("chain = ?")
            parameters.append(chain)
        sql = "SELECT * FROM deliveries"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY id"
        return [records.delivery_from_row(row, self.paths) for row in self._query(sql, parameters)]

    def late_deliveries(self) -> list[DeliveryRecord]:
        """Waiting deliveries of jobs that are done already (the same audio dropped again after
        its stems were placed, a chain that reuses a finished job)."""
        mine, mine_parameters = self._late_deliveries_filter()
        where = f"deliveries.state = ? AND jobs.state = ?{mine}"
        sql = (
            "SELECT deliveries.* FROM deliveries JOIN jobs ON jobs.id = deliveries.job_id "  # noqa: S608 (fixed text)
            "WHERE " + where + " ORDER BY deliveries.id"
        )
        rows = self._query(
            sql,
            [DeliveryState.WAITING.value, JobState.DONE.value, *mine_parameters],
        )
        return [records.delivery_from_row(row, self.paths) for row in rows]

    def finish_delivery(
        self,
        delivery_id: int,
        state: DeliveryState,
        *,
        reason: str | None = None,
        output_dir: str | None = None,
    ) -> DeliveryRecord:
        """Mark a delivery done or failed (with the reason, or where its files are)."""
        with self._transaction() as connection:
            connection.execute(
                "UPDATE deliveries SET state = ?, reason = ?, output_dir = ?, updated_at = ? "
                "WHERE id = ?",
                (
                    state.value,
                    reason,
                    self.paths.to_db(output_dir) if output_dir is not None else None,
                    self._now(),
                    delivery_id,
                ),
            )
            row = connection.execute(
                "SELECT * FROM deliveries WHERE id = ?", (delivery_id,)
            ).fetchone()
        if row is None:
            raise StoreError(f"no delivery with id {delivery_id}")
        return records.delivery_from_row(row, self.paths)

    def fail_deliveries_of(self, job_id: int, reason: str) -> None:
        """A job that failed or was cancelled takes its waiting deliveries with it."""
        with self._transaction() as connection:
            connection.execute(
                "UPDATE deliveries SET state = ?, reason = ?, updated_at = ? "
                "WHERE job_id = ? AND state = ?",
                (DeliveryState.FAILED.value, reason, self._now(), job_id,
                 DeliveryState.WAITING.value),
            )  # fmt: skip

    def reopen_deliveries_of(self, job_id: int) -> None:
        """A job started again (``mvsepd retry``) places its results again everywhere."""
        with self._transaction() as connection:
            connection.execute(
                "UPDATE deliveries SET state = ?, reason = NULL, updated_at = ? WHERE job_id = ?",
                (DeliveryState.WAITING.value, self._now(), job_id),
            )
