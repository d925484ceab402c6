"""How long MVSEP took to process earlier jobs, by model and length of audio: what the engine
spaces its polls of a job by (``mvsepd.lifecycle.processing_poll_delay``).

A poll sees a job's processing only in steps: it began between the last look that found it
waiting and the first that found it processing, and ended between the last look that found it
processing and the first that found it done. Each job leaves the two bounds of its processing
time: ``shortest`` (between the first and the last look that found it processing) and
``longest`` (between the last look that found it waiting and the first that found it done).
Only the newest rows of a model are kept.
"""

from __future__ import annotations

from typing import NamedTuple

from mvsepd.store import records

#: Rows kept per model (the newest).
KEPT_PER_MODEL = 50


class ProcessingTime(NamedTuple):
    """One earlier job's processing time, bounded (see the module docstring)."""

    audio_seconds: float
    shortest: float
    longest: float


class ProcessingTimes(records.Backend):
    """The processing-time methods of a job store (which provides the connection)."""

    def record_processing_time(self, model: str, time: ProcessingTime) -> None:
        """Keep one job's processing time (dropping the oldest beyond ``KEPT_PER_MODEL``)."""
        with self._transaction() as connection:
            connection.execute(
                "INSERT INTO processing_times (model, audio_seconds, shortest, longest, "
                "recorded_at) VALUES (?, ?, ?, ?, ?)",
                (model, time.audio_seconds, time.shortest, time.longest, self._now()),
            )
            connection.execute(
                "DELETE FROM processing_times WHERE model = ? AND id NOT IN (SELECT id FROM "
                "processing_times WHERE model = ? ORDER BY recorded_at DESC, id DESC LIMIT ?)",
                (model, model, KEPT_PER_MODEL),
            )

    def processing_times(self, model: str, limit: int = KEPT_PER_MODEL) -> list[ProcessingTime]:
        """The newest processing times of ``model``, newest first."""
        rows = self._query(
            "SELECT audio_seconds, shortest, longest FROM processing_times WHERE model = ? "
            "ORDER BY recorded_at DESC, id DESC LIMIT ?",
            [model, limit],
        )
        return [
            ProcessingTime(float(r["audio_seconds"]), float(r["shortest"]), float(r["longest"]))
            for r in rows
        ]
