"""The job store's read-only views: job listings, counts, a job's history, the credits
committed, and the integrity check of the job rows."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mvsepd.domain import lifecycle
from mvsepd.models import JobRecord, JobState
from mvsepd.store import records


class JobReads(records.Backend):
    """The read-only job methods of a job store (which provides the connection)."""

    #: Studio mode: this host's id (None on one machine); set by the store.
    host_id: str | None

    def jobs(
        self,
        states: Iterable[JobState] | None = None,
        *,
        limit: int | None = None,
        mine: bool = False,
    ) -> list[JobRecord]:
        """Return jobs (optionally only in ``states``, only this host's), oldest first."""
        sql = "SELECT * FROM jobs"
        clauses: list[str] = []
        parameters: list[Any] = []
        if states is not None:
            wanted = [state.value for state in states]
            clauses.append(f"state IN ({', '.join('?' for _ in wanted)})")
            parameters.extend(wanted)
        if mine and self.host_id is not None:
            clauses.append("owner_host = ?")
            parameters.append(self.host_id)
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            parameters.append(limit)
        return [records.job_from_row(row, self.paths) for row in self._query(sql, parameters)]

    def recent(self, limit: int = 50) -> list[JobRecord]:
        """Return the most recently changed jobs, newest first."""
        rows = self._query("SELECT * FROM jobs ORDER BY updated_at DESC, id DESC LIMIT ?", [limit])
        return [records.job_from_row(row, self.paths) for row in rows]

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

    # --- integrity ---------------------------------------------------------------------------

    def integrity_problems(self) -> list[str]:
        """Return everything wrong with the store (empty when healthy)."""
        return self._row_problems()

    def _row_problems(self) -> list[str]:
        problems: list[str] = []
        known = {state.value for state in JobState}
        rows = self._query("SELECT id, state, resume_state, separation_hash, remote_hash FROM jobs")
        for row in rows:
            if row["state"] not in known:
                problems.append(f"job {row['id']}: unknown state {row['state']!r}")
                continue
            state = JobState(row["state"])
            waiting_for_remote = state is JobState.SUBMITTED and row["remote_hash"]
            if (
                state
                in (
                    JobState.SUBMITTED,
                    JobState.PUBLISHING,
                    JobState.DOWNLOADING,
                    JobState.DONE,
                    JobState.UNPUBLISHED,
                )
                and not row["separation_hash"]
                and not waiting_for_remote
            ):
                problems.append(f"job {row['id']}: {state.value} without a separation hash")
            if state is JobState.RETRY_WAIT and row["resume_state"] not in {
                s.value for s in lifecycle.RESUMABLE_STATES
            }:
                problems.append(f"job {row['id']}: retry_wait without a state to resume")
        return problems
