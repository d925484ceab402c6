"""The hot-folder records of the job store: files already seen (so a start-up scan of 10,000
processed files hashes nothing), folders already watched and the files that were there before
(skipped by ``existing_files: skip`` until the user takes them), and small daemon flags (paused,
token invalid; in studio mode they are the studio's)."""

from __future__ import annotations

from collections.abc import Iterable

from mvsepd.store import records
from mvsepd.store.records import SourceRecord

#: The verdict of a file while it is being checked (hashed, its partners looked for).
CHECKING = "checking"
#: The verdict of a file that was in a hot folder before it was first watched, left alone
#: (``existing_files: skip``) until the user asks for it (``mvsepd rescan --include-existing``).
SKIPPED = "skipped"


class SourceCalls(records.Backend):
    """The source, folder and flag methods of a job store (which provides the connection)."""

    # --- sources and folders -------------------------------------------------------------------

    def source(self, folder_path: str, relative_path: str) -> SourceRecord | None:
        """Return what is known of one file in a hot folder, if anything."""
        rows = self._query(
            "SELECT * FROM sources WHERE folder_path = ? AND relative_path = ?",
            [self.paths.to_db(folder_path), self.paths.relative_to_db(relative_path)],
        )
        return records.source_from_row(rows[0], self.paths) if rows else None

    def source_stats(
        self, folder_path: str, *, checks_since: float | None = None
    ) -> dict[str, tuple[int, int]]:
        """Return (size, mtime_ns) of every recorded file of a hot folder, by relative path:
        one read for a whole scan. With ``checks_since``, a file whose check began before that
        moment and never ended (still ``checking``) is left out, so it is looked at again."""
        sql = "SELECT relative_path, size, mtime_ns FROM sources WHERE folder_path = ?"
        parameters: list[object] = [self.paths.to_db(folder_path)]
        if checks_since is not None:
            sql += " AND (verdict <> ? OR seen_at >= ?)"
            parameters += [CHECKING, checks_since]
        rows = self._query(sql, parameters)
        from_db = self.paths.relative_from_db
        return {from_db(row["relative_path"]): (row["size"], row["mtime_ns"]) for row in rows}

    def sources_in(self, folder_path: str) -> dict[str, SourceRecord]:
        """Return every recorded file of a hot folder, by relative path."""
        rows = self._query(
            "SELECT * FROM sources WHERE folder_path = ?", [self.paths.to_db(folder_path)]
        )
        found = (records.source_from_row(row, self.paths) for row in rows)
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
                    self.paths.to_db(record.folder_path),
                    self.paths.relative_to_db(record.relative_path),
                    record.size,
                    record.mtime_ns,
                    record.content_sha256,
                    record.job_id,
                    record.verdict,
                    self._now(),
                ),
            )

    def forget_source(self, folder_path: str, relative_path: str) -> None:
        """Forget a file (it was removed), so that a new file at that path is looked at anew."""
        with self._transaction() as connection:
            connection.execute(
                "DELETE FROM sources WHERE folder_path = ? AND relative_path = ?",
                (self.paths.to_db(folder_path), self.paths.relative_to_db(relative_path)),
            )

    def folder_first_watched(self, folder_path: str) -> float | None:
        """Return when a hot folder was first watched, or None if never."""
        rows = self._query(
            "SELECT first_watched_at FROM folders WHERE path = ?", [self.paths.to_db(folder_path)]
        )
        return float(rows[0]["first_watched_at"]) if rows else None

    def mark_folder_watched(
        self, folder_path: str, skipped: Iterable[tuple[str, int, int]] = ()
    ) -> None:
        """Remember that a hot folder is watched from now on, and (in the same transaction)
        the files that were there before and are skipped: (relative path, size, mtime_ns) each.
        A file already recorded keeps its record (a skip never hides a job)."""
        folder = self.paths.to_db(folder_path)
        now = self._now()
        with self._transaction() as connection:
            for relative_path, size, mtime_ns in skipped:
                relative = self.paths.relative_to_db(relative_path)
                connection.execute(
                    """INSERT INTO sources (folder_path, relative_path, size, mtime_ns,
                           content_sha256, job_id, verdict, seen_at)
                       VALUES (?, ?, ?, ?, NULL, NULL, ?, ?)
                       ON CONFLICT (folder_path, relative_path) DO NOTHING""",
                    (folder, relative, size, mtime_ns, SKIPPED, now),
                )
            connection.execute(
                "INSERT INTO folders (path, first_watched_at) VALUES (?, ?) "
                "ON CONFLICT (path) DO NOTHING",
                (folder, now),
            )

    def skipped_files(self, folder_path: str, *, limit: int | None = None) -> tuple[int, list[str]]:
        """How many files of a hot folder were skipped as there before its first watch, and
        their relative paths in name order (the first ``limit`` of them)."""
        folder = self.paths.to_db(folder_path)
        counted = self._query(
            "SELECT COUNT(*) AS skipped FROM sources WHERE folder_path = ? AND verdict = ?",
            [folder, SKIPPED],
        )
        count = int(counted[0]["skipped"])
        if count == 0 or limit == 0:
            return count, []
        sql = "SELECT relative_path FROM sources WHERE folder_path = ? AND verdict = ?"
        sql += " ORDER BY relative_path"
        parameters: list[object] = [folder, SKIPPED]
        if limit is not None:
            sql += " LIMIT ?"
            parameters.append(limit)
        from_db = self.paths.relative_from_db
        return count, [from_db(row["relative_path"]) for row in self._query(sql, parameters)]

    def release_skipped(self, folder_path: str) -> int:
        """Forget the skipped files of a hot folder, so that they are taken as new files;
        return how many there were."""
        with self._transaction() as connection:
            cursor = connection.execute(
                "DELETE FROM sources WHERE folder_path = ? AND verdict = ?",
                (self.paths.to_db(folder_path), SKIPPED),
            )
            return int(cursor.rowcount)

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
