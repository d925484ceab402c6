"""Conforming a job's stems while the others still download.

A ``StemWork`` is one delivery's stems on their way into its staging folder: each result it
places is conformed (``conform: source``), or decode-checked and, where MVSEP was asked for
FLAC 16 in place of the WAV 16 the preset asked for, rewrapped (``conform: off``), as soon as
its own download is complete (``take``); ``finish`` then does what needs every stem (the null
figures, the Residual, MVSEP's files kept as sent) and saves the report, the mark that the
stems are ready. Nothing is placed here: ``deliver`` places a take's stems all at once, or
none.

``JobConversions`` feeds a job's works from its downloads: ``downloaded(index)`` (from a
download thread) hands the result to every work that wants it, on the daemon's conversion
pool, which runs at most as many conversions at once as the machine has cores (memory stays
flat: each works block by block). The first failure (a stem that does not decode) stops the
rest: downloads still running are cut short (``check``), conversions not started are dropped,
and the caller abandons every work (their ``.part`` files go).
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mvsepd import audio, outputs
from mvsepd.engine.stems import ResultLayout, copy_into, save_report, stem_format
from mvsepd.errors import AudioError
from mvsepd.models import ResultFile

#: How often ``JobConversions.wait`` tells how far the conversions are.
_PROGRESS_SECONDS = 0.5


class StemWork:
    """One delivery's stems, converted one by one (see the module docstring)."""

    def __init__(
        self,
        plan: outputs.OutputPlan,
        layout: ResultLayout,
        files: Sequence[ResultFile],
        *,
        downloads: Path,
        source_name: str,
        original: Path | None,
        origin: str,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.plan = plan
        self.layout = layout
        #: The source file while it holds the job's audio (what the stems are compared with).
        self.original = original
        self._downloads = downloads
        stems: list[audio.StemFile] = []
        #: Result index -> position among ``stems``.
        self._position: dict[int, int] = {}
        for index, result in enumerate(files):
            if not layout.is_audio[index] or index not in layout.needed:
                continue
            request = layout.target_of[index]
            output = plan.targets[request].staged if request is not None else None
            self._position[index] = len(stems)
            stems.append(
                audio.StemFile(
                    label=layout.names[index] if layout.names else result.type or "Result",
                    downloaded=downloads / layout.downloads[index],
                    output=output if layout.conforming or _rewrapped(layout, request) else None,
                    name=result.download_name or layout.downloads[index],
                )
            )
        self._stems = stems
        self._reports: list[Any] = [None] * len(stems)
        #: Frames converted so far, and in all (for the status).
        self.frames = (0, 0)
        self._progress = progress
        self._conversion: audio.Conversion | None = None
        if layout.conforming and layout.source is not None:
            residual = layout.residual_index
            self._conversion = audio.Conversion(
                layout.source,
                original,
                stems,
                stem_format(layout.settings),
                source_name=source_name,
                origin=origin,
                scratch=plan.staging_dir,
                residual_output=plan.targets[residual].staged if residual is not None else None,
                progress=self._advance,
            )

    def _advance(self, done: int, total: int) -> None:
        self.frames = (done, total)
        if self._progress is not None:
            self._progress(done, total)

    @property
    def wanted(self) -> frozenset[int]:
        """The results this work converts (audio it places or needs for its figures)."""
        return frozenset(self._position)

    @property
    def digests(self) -> dict[Path, str]:
        """SHA-256 of each conformed output, by staged path (after ``finish``)."""
        return dict(self._conversion.digests) if self._conversion is not None else {}

    def take(self, index: int) -> None:
        """Convert result ``index`` (its download complete). Raise AudioError naming a stem
        that does not decode."""
        position = self._position[index]
        if self._conversion is not None:
            self._conversion.convert(position)
            return
        stem = self._stems[position]
        self._reports[position] = audio.verify_one(stem)
        if stem.output is not None:
            audio.rewrap(stem, container="WAV", subtype="PCM_16")

    def finish(self) -> dict[str, Any]:
        """Once every wanted result is taken: what needs them all, MVSEP's files kept as sent
        copied in; the report saved and returned."""
        if self._conversion is not None:
            report = self._conversion.finish()
        else:
            missing = [
                stem.label
                for stem, report in zip(self._stems, self._reports, strict=True)
                if report is None
            ]
            if missing:
                raise AudioError(f"the stem {missing[0]!r} was never checked")
            report = audio.ConformReport("off", list(self._reports))
            if self.layout.unconformed_because:
                report.notes.append(self.layout.unconformed_because)
            if any(source is not None for source in self.layout.rewrap_from):
                report.notes.append(
                    "MVSEP's FLAC 16 stems are written as the WAV 16 the preset asks for, "
                    "their samples unchanged (the job was fetched as FLAC for a folder that "
                    "conforms its stems)"
                )
        for request, source in enumerate(self.layout.copy_from):
            if source is not None:
                downloaded = self._downloads / self.layout.downloads[source]
                copy_into(downloaded, self.plan.targets[request].staged)
        return save_report(self.plan, report)

    def all_at_hand(self) -> dict[str, Any]:
        """Convert every wanted result, all downloaded already (a late delivery, ``mvsepd
        submit``), and ``finish``; on a failure nothing is left."""
        try:
            for index in sorted(self.wanted):
                self.take(index)
            return self.finish()
        except BaseException:
            self.abandon()
            raise

    def abandon(self) -> None:
        """Remove what this work wrote (a stem failed, or the job stopped)."""
        if self._conversion is not None:
            self._conversion.abandon()
            return
        for stem in self._stems:
            if stem.output is not None:
                stem.output.unlink(missing_ok=True)


def _rewrapped(layout: ResultLayout, request: int | None) -> bool:
    return (
        request is not None
        and request < len(layout.rewrap_from)
        and layout.rewrap_from[request] is not None
    )


class JobConversions:
    """A job's works, fed from its downloads on a bounded pool (see the module docstring)."""

    def __init__(self, pool: concurrent.futures.Executor) -> None:
        self._pool = pool
        self._works: list[StemWork] | None = None
        #: Results complete before the works were made.
        self._early: list[int] = []
        self._lock = threading.Lock()
        self._futures: list[concurrent.futures.Future[None]] = []
        self._failure: BaseException | None = None
        self._stopped = threading.Event()

    def start(self, works: Sequence[StemWork]) -> None:
        """The works to feed; results already complete are handed to them now."""
        with self._lock:
            self._works = list(works)
            early, self._early = self._early, []
        for index in early:
            self.downloaded(index)

    def downloaded(self, index: int) -> None:
        """Result ``index`` is complete on disk: convert it for every work that wants it."""
        with self._lock:
            works = self._works
            if works is None:
                self._early.append(index)
                return
        for work in works:
            if index in work.wanted:
                future = self._pool.submit(self._take, work, index)
                with self._lock:
                    self._futures.append(future)

    def _take(self, work: StemWork, index: int) -> None:
        if self._stopped.is_set():
            return
        try:
            work.take(index)
        except BaseException as error:
            with self._lock:
                if self._failure is None:
                    self._failure = error
            self._stopped.set()
            raise

    def check(self) -> None:
        """Raise the first conversion failure (a download calls this as it goes: a take that
        cannot be placed is not downloaded to its end)."""
        failure = self._failure
        if failure is not None:
            raise failure

    def wait(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Wait for every conversion handed out (telling ``progress`` the frames converted so
        far and in all, twice a second); raise the first failure."""
        while True:
            with self._lock:
                pending = [future for future in self._futures if not future.done()]
                works = list(self._works or ())
            if not pending:
                break
            if progress is not None:
                progress(sum(w.frames[0] for w in works), sum(w.frames[1] for w in works))
            concurrent.futures.wait(pending, timeout=_PROGRESS_SECONDS)
        self.check()

    def stop(self) -> None:
        """Drop conversions not started and wait for the running ones to end."""
        self._stopped.set()
        with self._lock:
            futures = list(self._futures)
        for future in futures:
            future.cancel()
        concurrent.futures.wait(futures)

    def abandon(self) -> None:
        """Stop, and remove what every work wrote."""
        self.stop()
        for work in self._works or ():
            work.abandon()
