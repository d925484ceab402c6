"""The job store's schema: the current version and the numbered migrations that reach it."""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 9

MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY,
        content_sha256 TEXT NOT NULL,
        preset_fingerprint TEXT NOT NULL,
        preset_name TEXT NOT NULL,
        folder_path TEXT NOT NULL,
        source_path TEXT NOT NULL,
        source_size INTEGER,
        state TEXT NOT NULL,
        resume_state TEXT,
        reason TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL,
        sep_type INTEGER,
        options_json TEXT NOT NULL DEFAULT '{}',
        output_format INTEGER,
        server TEXT,
        separation_hash TEXT,
        upload_started_at REAL,
        remote_status TEXT,
        queue_count INTEGER,
        current_order INTEGER,
        finished_chunks INTEGER,
        all_chunks INTEGER,
        progress_done INTEGER,
        progress_total INTEGER,
        duration_seconds REAL,
        credits_estimate INTEGER,
        output_dir TEXT,
        polls INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        finished_at REAL,
        UNIQUE (content_sha256, preset_fingerprint)
    );
    CREATE UNIQUE INDEX jobs_by_hash ON jobs (separation_hash) WHERE separation_hash IS NOT NULL;
    CREATE INDEX jobs_by_state ON jobs (state);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        job_id INTEGER NOT NULL REFERENCES jobs (id),
        at REAL NOT NULL,
        from_state TEXT,
        to_state TEXT NOT NULL,
        detail TEXT
    );
    CREATE INDEX events_by_job ON events (job_id);
    CREATE TABLE sources (
        folder_path TEXT NOT NULL,
        relative_path TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        content_sha256 TEXT,
        job_id INTEGER REFERENCES jobs (id),
        verdict TEXT NOT NULL,
        seen_at REAL NOT NULL,
        PRIMARY KEY (folder_path, relative_path)
    );
    CREATE TABLE folders (
        path TEXT PRIMARY KEY,
        first_watched_at REAL NOT NULL
    );
    CREATE TABLE flags (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # 2: what the source is (rate, channels, length, format, BWF chunks), read when the job is
    # probed, so its stems can be conformed even if the original is moved before they arrive.
    2: """
    ALTER TABLE jobs ADD COLUMN source_audio TEXT;
    """,
    # 3: jobs fed by other things than a file (a link, a prompt, a target and its reference, a
    # stem of an earlier chain step), their lineage, credits reserved for a whole chain; and
    # deliveries: every place a job's results go (the drop that made it, the same audio dropped
    # elsewhere, a chain's step), each placed once. Existing jobs get their own delivery.
    3: """
    ALTER TABLE jobs ADD COLUMN input_kind TEXT NOT NULL DEFAULT 'file';
    ALTER TABLE jobs ADD COLUMN input_json TEXT;
    ALTER TABLE jobs ADD COLUMN remote_hash TEXT;
    ALTER TABLE jobs ADD COLUMN parent_job_id INTEGER REFERENCES jobs (id);
    ALTER TABLE jobs ADD COLUMN from_stem TEXT;
    ALTER TABLE jobs ADD COLUMN credits_reserved INTEGER;
    CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY,
        job_id INTEGER NOT NULL REFERENCES jobs (id),
        folder_path TEXT NOT NULL,
        source_path TEXT NOT NULL,
        preset_name TEXT NOT NULL,
        chain TEXT NOT NULL DEFAULT '',
        step TEXT NOT NULL DEFAULT '',
        parent_delivery_id INTEGER REFERENCES deliveries (id),
        state TEXT NOT NULL,
        reason TEXT,
        output_dir TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        UNIQUE (job_id, folder_path, source_path, chain, step)
    );
    CREATE INDEX deliveries_by_state ON deliveries (state);
    CREATE INDEX deliveries_by_job ON deliveries (job_id);
    INSERT INTO deliveries (job_id, folder_path, source_path, preset_name, state, reason,
                            output_dir, created_at, updated_at)
        SELECT id, folder_path, source_path, preset_name,
               CASE state WHEN 'done' THEN 'done' WHEN 'failed' THEN 'failed'
                          WHEN 'cancelled' THEN 'failed' ELSE 'waiting' END,
               reason, output_dir, created_at, updated_at
        FROM jobs;
    """,
    # 4: how a file was sent (as it is, or losslessly as FLAC), under which name and how many
    # bytes, decided before the upload so that a lost answer is looked up under that name; and
    # how often a result came larger than announced (the job fails after a few).
    4: """
    ALTER TABLE jobs ADD COLUMN upload_json TEXT;
    ALTER TABLE jobs ADD COLUMN oversize_downloads INTEGER NOT NULL DEFAULT 0;
    """,
    # 5: who works on a job (studio mode: a host's id, its lease number and until when the
    # lease runs). On one machine they stay empty; the columns keep both backends' rows alike.
    5: """
    ALTER TABLE jobs ADD COLUMN owner_host TEXT;
    ALTER TABLE jobs ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN lease_expires_at REAL;
    """,
    # 6: how often the user retried a job (its manifest names the attempt that wrote it), and
    # when MVSEP first said done without publishing every stem (the wait for them is bounded).
    6: """
    ALTER TABLE jobs ADD COLUMN retries INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN publish_started_at REAL;
    """,
    # 7: what a failed job needs: a fixed file, fixed settings, or another try.
    7: """
    ALTER TABLE jobs ADD COLUMN failure_kind TEXT;
    """,
    # 8: when each step of a job happened (the file judged ready, the upload begun and
    # answered, done seen at MVSEP, downloads and conversions over, stems placed), and how long
    # MVSEP took to process earlier jobs of each model, by their length: the next job's polls
    # are spaced by it.
    8: """
    ALTER TABLE jobs ADD COLUMN timings_json TEXT;
    CREATE TABLE processing_times (
        id INTEGER PRIMARY KEY,
        model TEXT NOT NULL,
        audio_seconds REAL NOT NULL,
        shortest REAL NOT NULL,
        longest REAL NOT NULL,
        recorded_at REAL NOT NULL
    );
    CREATE INDEX processing_times_by_model ON processing_times (model, recorded_at);
    """,
    # 9: why a held job waits (the token, the budget, premium), as data: what releases it
    # was read from its reason's words. Held jobs of earlier versions get theirs from those
    # words, once, here.
    9: """
    ALTER TABLE jobs ADD COLUMN hold_kind TEXT;
    UPDATE jobs SET hold_kind = 'token'
        WHERE state = 'held' AND reason LIKE 'MVSEP refused the API token%';
    UPDATE jobs SET hold_kind = 'budget'
        WHERE state = 'held' AND reason LIKE 'daily credit budget reached%';
    UPDATE jobs SET hold_kind = 'premium'
        WHERE state = 'held' AND reason LIKE 'needs a premium MVSEP account%';
    """,
}


def migrate(connection: sqlite3.Connection, *, location: str) -> None:
    """Bring the database up to ``SCHEMA_VERSION``, one numbered migration per transaction.

    Raise ValueError if the database is newer than this mvsepd.
    """
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise ValueError(
            f"the job store {location} was written by a newer mvsepd (schema {version}, "
            f"this one knows {SCHEMA_VERSION}); upgrade mvsepd"
        )
    for number in range(version + 1, SCHEMA_VERSION + 1):
        connection.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while this one waited for the write lock.
            current = connection.execute("PRAGMA user_version").fetchone()[0]
            if current < number:
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {number}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
