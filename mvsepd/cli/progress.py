"""The progress bars of ``mvsepd submit``, each counting in what it counts: bytes for the upload
and the downloads, seconds of audio for compressing and fitting the stems, places in MVSEP's
queue while the job waits, chunks while MVSEP works on it, stems while MVSEP publishes them.

A task says its unit in its ``unit`` field (``Unit``); the amount and speed columns read it.
"""

from __future__ import annotations

import enum
from typing import Any

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text


class Unit(str, enum.Enum):
    """What a progress bar counts."""

    BYTES = "bytes"
    AUDIO_SECONDS = "seconds"
    QUEUE_PLACES = "places"
    CHUNKS = "chunks"
    STEMS = "stems"


class _Amount(ProgressColumn):
    """``3.1/12.4 MB``, ``95/210 s of audio``, ``place 3 of 12``, ``2/5 chunks``."""

    def __init__(self) -> None:
        super().__init__()
        self._bytes = DownloadColumn()

    def render(self, task: Task) -> Text:
        unit = task.fields.get("unit", Unit.BYTES)
        total = task.total
        if unit == Unit.BYTES:
            return self._bytes.render(task)
        if total is None:
            return Text("")
        if unit == Unit.AUDIO_SECONDS:
            return Text(f"{task.completed:.0f}/{total:.0f} s of audio", style="progress.download")
        if unit == Unit.QUEUE_PLACES:
            place = task.fields.get("place")
            queued = task.fields.get("queued")
            of = f" of {queued}" if queued else ""
            return Text(f"place {place}{of}" if place else "", style="progress.download")
        if unit == Unit.STEMS:
            return Text(f"{task.completed:.0f}/{total:.0f} stems", style="progress.download")
        return Text(f"{task.completed:.0f}/{total:.0f} chunks", style="progress.download")


class _Speed(ProgressColumn):
    """The transfer speed, for the bars that count bytes only."""

    def __init__(self) -> None:
        super().__init__()
        self._speed = TransferSpeedColumn()

    def render(self, task: Task) -> Text:
        if task.fields.get("unit", Unit.BYTES) != Unit.BYTES:
            return Text("")
        return self._speed.render(task)


def progress_bars() -> Progress:
    """The bars' layout: what, bar, how much (in its unit), speed of a transfer, time left."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        _Amount(),
        _Speed(),
        TimeRemainingColumn(),
        transient=False,
    )


def add(progress: Progress, description: str, unit: Unit, **options: Any) -> TaskID:
    """A new bar counting in ``unit``."""
    return progress.add_task(description, unit=unit, **options)


class QueueBar:
    """MVSEP's queue as progress: the places moved up since the job was first seen waiting,
    then the chunks MVSEP has done."""

    def __init__(self, progress: Progress, task: TaskID) -> None:
        self._progress = progress
        self._task = task
        self._first_place: int | None = None

    def waiting(self, place: int, queued: int | None) -> None:
        """The job waits at ``place`` of ``queued``."""
        first = self._first_place = max(self._first_place or place, place)
        self._progress.update(
            self._task,
            description="MVSEP: waiting in the queue",
            unit=Unit.QUEUE_PLACES,
            total=first,
            completed=first - place,
            place=place,
            queued=queued,
        )

    def working(self, words: str, done: int | None, chunks: int | None) -> None:
        """MVSEP works on the job (``done`` of ``chunks`` when it says)."""
        self._progress.update(
            self._task,
            description=f"MVSEP: {words}",
            unit=Unit.CHUNKS,
            total=chunks or None,
            completed=done or 0,
        )

    def publishing(self, words: str, published: int, listed: int) -> None:
        """MVSEP is done but still exporting the stems: ``published`` of ``listed`` ready."""
        self._progress.update(
            self._task,
            description=words,
            unit=Unit.STEMS,
            total=listed or None,
            completed=published,
        )

    def finished(self, words: str) -> None:
        """MVSEP is done with the job (``words``: how it ended)."""
        self._progress.update(
            self._task,
            description=f"MVSEP: {words}",
            unit=Unit.QUEUE_PLACES,
            total=1,
            completed=1,
            place=None,
        )
