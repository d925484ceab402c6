"""Conforming a job's stems one at a time, each as soon as its file is at hand (the others may
still be downloading): ``Conversion``.

Each stem is checked (``sent``), its start measured against the source on its own, written in
the target format as a ``.part`` beside its output with the source's timestamp and tags, and
hashed; its values go into a file beside it (``passes.write_stem``), with its products with the
source and with every stem written before it. ``finish``, once every stem is in, adds what
needs all of them: the null figures and the subset of stems that nulls best (from those
products, without reading any stem again), the ``Residual`` (from the values files), and then
moves every part to its output at once: a job's stems are conformed whole or not at all.

The start: a stem that resembles the source is moved by the lag it shows itself. One that does
not (a quiet or silent stem) is placed as it comes when MVSEP sent a lossless file (WAV or
FLAC have no codec delay) and, when it sent a lossy one, waits for ``finish``, where the lag of
the sum of all stems decides, as for the whole job before.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mvsepd.audio import align, passes, stamping
from mvsepd.audio.formats import LOSSY_CONTAINERS, SourceAudio, StemFormat, choose_target
from mvsepd.audio.reports import RESIDUAL_LABEL, ConformReport, StemFile, StemReport
from mvsepd.audio.verifying import best_subset, decibels, sent
from mvsepd.domain.hashing import file_sha256
from mvsepd.errors import AudioError

_SOURCE_VALUES = ".source.values"


@dataclass(frozen=True)
class _Written:
    """A stem whose pass is over."""

    values: Path
    part: Path | None
    sums: passes.StemSums
    lag: align.Lag | None


class Conversion:
    """One delivery's stems brought to their source's format, one ``convert`` per stem (from
    any thread, several at once), then ``finish`` (see the module docstring)."""

    def __init__(
        self,
        source: SourceAudio,
        source_path: Path | None,
        stems: Sequence[StemFile],
        wanted: StemFormat,
        *,
        source_name: str,
        origin: str,
        scratch: Path,
        residual_output: Path | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self._source = source
        self._stems = list(stems)
        self._wanted = wanted
        self._scratch = scratch
        self._origin = f"{source_name}; {origin}"
        self._source_name = source_name
        self._residual_output = residual_output
        self._progress = progress
        self.target = choose_target(source, wanted)
        self.report = ConformReport(
            "source",
            [StemReport(stem.label, {"name": stem.name}) for stem in stems],
            notes=list(self.target.notes),
        )
        self._source_path = source_path
        self._lock = threading.Lock()
        self._source_lock = threading.Lock()
        self._layout: passes.Layout | None = None
        self._original: Path | None = None
        self._source_values: np.ndarray | None = None
        self._source_energy = 0.0
        self._written: dict[int, _Written] = {}
        self._deferred: list[int] = []
        self._frames_done = [0] * len(self._stems)
        self.digests: dict[Path, str] = {}
        if source_path is None:
            self.report.notes.append(
                "the original changed or is gone: start, null and residual unchecked"
            )
        if self.target.mono or wanted.channels == "stereo" or source.channels <= 2:
            self._settle_channels(1 if self.target.mono else 2)

    # -- one stem ----------------------------------------------------------------------------

    def convert(self, index: int) -> None:
        """Conform stem ``index`` (its file complete); raise AudioError naming a stem that is
        not audio or does not decode."""
        stem = self._stems[index]
        self.report.stems[index] = report = sent(stem)
        layout = self._settle_channels(report.mvsep["channels"])
        original = self._original
        lag: align.Lag | None = None
        if original is not None:
            lag = passes.measure_lag(layout, original, [stem])
            if lag.confidence < align.MIN_CONFIDENCE and report.mvsep["container"] in (
                LOSSY_CONTAINERS
            ):
                with self._lock:
                    self._deferred.append(index)
                return  # a codec may have moved it: the lag of the whole set decides
        self._write(index, layout, lag)

    def _settle_channels(self, sent_channels: int) -> passes.Layout:
        """The layout, decided by the first stem where the source has more than two channels
        (MVSEP sends stereo; the channels of the others are mapped to it)."""
        with self._lock:
            if self._layout is None:
                channels = sent_channels
                self.report.target = {
                    "container": self.target.container,
                    "subtype": self.target.subtype,
                    "rate": self._source.rate,
                    "channels": channels,
                    "frames": self._source.frames,
                }
                self._layout = passes.Layout(self._source, self.target, channels)
                path = self._source_path
                if path is not None and self._source.channels in (channels, 1):
                    self._original = path
                elif path is not None:
                    self.report.notes.append(
                        f"the source has {self._source.channels} channels and the stems "
                        f"{channels}: start, null and residual unchecked"
                    )
            return self._layout

    def _write(self, index: int, layout: passes.Layout, lag: align.Lag | None) -> None:
        stem = self._stems[index]
        report = self.report.stems[index]
        trusted = lag is not None and lag.confidence >= align.MIN_CONFIDENCE
        reader_rate = int(report.mvsep["rate"])
        shift = lag.at_rate(reader_rate, self._source.rate) if lag is not None and trusted else 0
        source = self._source_values_map(layout)
        with self._lock:
            partners = {i: passes.values_of(w.values, *self._dtype(layout)) for i, w in
                        self._written.items()}  # fmt: skip
        values = self._scratch / f".values-{index:02d}"
        part = _part(stem.output) if stem.output is not None else None
        try:
            sums = passes.write_stem(
                layout,
                stem,
                part,
                values,
                shift,
                report,
                source=source,
                partners=partners,
                progress=lambda frames: self._advance(index, frames),
            )
            if part is not None:
                stamping.stamp_all(
                    layout,
                    [part],
                    [stem.label],
                    self.report,
                    origin=self._origin,
                    source_name=self._source_name,
                    copy_tags=self._wanted.tags == "copy",
                )
            digest = file_sha256(part) if part is not None else None
            with self._lock:
                # Registered in one step with the look at who came before: of two stems that
                # end together, the later one to register multiplies itself with the other.
                late = {i: w for i, w in self._written.items() if i not in partners}
                self._written[index] = _Written(values, part, sums, lag)
                if part is not None and stem.output is not None and digest is not None:
                    self.digests[stem.output] = digest
            for other, written in late.items():
                sums.pairs[other] = passes.dot(
                    passes.values_of(values, *self._dtype(layout)),
                    passes.values_of(written.values, *self._dtype(layout)),
                )
        except BaseException:
            for leftover in (part, values):
                if leftover is not None:
                    leftover.unlink(missing_ok=True)
            raise

    def _source_values_map(self, layout: passes.Layout) -> np.ndarray | None:
        """The source's values, written once (by the first stem that needs them)."""
        original = self._original
        if original is None:
            return None
        with self._source_lock:
            if self._source_values is None:
                path = self._scratch / _SOURCE_VALUES
                self._source_energy = passes.write_values(layout, original, path)
                dtype = passes.values_dtype(self._source.subtype or "")
                self._source_values = passes.values_of(path, dtype, layout.channels)
            return self._source_values

    def _dtype(self, layout: passes.Layout) -> tuple[type[np.floating[Any]], int]:
        return passes.values_dtype(layout.target.subtype), layout.channels

    def _advance(self, index: int, frames: int) -> None:
        if self._progress is None:
            return
        with self._lock:
            self._frames_done[index] = frames
            done = sum(self._frames_done)
        self._progress(done, self._source.frames * len(self._stems))

    # -- the whole set -----------------------------------------------------------------------

    def finish(self) -> ConformReport:
        """Once every stem is converted: the stems that waited for the set's lag, the null
        figures, the Residual; then every part becomes its output. Raise AudioError as
        ``convert``."""
        try:
            return self._finish()
        except BaseException:
            self.abandon()
            raise

    def _finish(self) -> ConformReport:
        missing = [
            index
            for index in range(len(self._stems))
            if index not in self._written and index not in self._deferred
        ]
        if missing:
            raise AudioError(f"the stem {self._stems[missing[0]].label!r} was never converted")
        layout = self._layout
        if layout is None:  # no stem at all
            return self.report
        self._lag_of_the_set(layout)
        self._nulls(layout)
        outputs: list[tuple[Path, Path]] = []
        for index, written in sorted(self._written.items()):
            output = self._stems[index].output
            if written.part is not None and output is not None:
                outputs.append((written.part, output))
        residual = self._residual(layout)
        if residual is not None:
            outputs.append(residual)
        for part, output in outputs:
            os.replace(part, output)
        self._remove_values()
        return self.report

    def _lag_of_the_set(self, layout: passes.Layout) -> None:
        """Stems that waited are moved by the lag of the sum of all stems; the report gives
        the lag of the set (or the surest one a stem showed)."""
        original = self._original
        if original is None:
            return
        if self._deferred:
            lag = passes.measure_lag(layout, original, self._stems)
            for index in self._deferred:
                self._write(index, layout, lag)
            self._deferred.clear()
        else:
            lags = [w.lag for w in self._written.values() if w.lag is not None]
            lag = max(lags, key=lambda found: found.confidence, default=align.Lag(0, 0.0))
        self.report.lag_samples = lag.samples
        self.report.lag_confidence = round(lag.confidence, 3)
        if lag.confidence < align.MIN_CONFIDENCE:
            self.report.notes.append(
                "the start could not be verified: the stems do not resemble the source"
            )

    def _nulls(self, layout: passes.Layout) -> None:
        if self._original is None or self._source_values is None:
            return
        count = len(self._stems)
        gram = np.zeros((count, count))
        cross = np.zeros(count)
        for index, written in self._written.items():
            cross[index] = written.sums.cross
            gram[index, index] = written.sums.energy
            for other, product in written.sums.pairs.items():
                gram[index, other] = gram[other, index] = product
        energy = self._source_energy
        error = energy - 2 * cross.sum() + gram.sum()
        self.report.null_db = decibels(max(0.0, float(error)), energy)
        self.report.best_null = best_subset(self.report, gram, cross, energy)

    def _residual(self, layout: passes.Layout) -> tuple[Path, Path] | None:
        output = self._residual_output
        if output is None:
            return None
        if self._original is None or self._source_values is None:
            self.report.notes.append("no Residual: it needs the original")
            return None
        labels = [stem.label for stem in self._stems if stem.output is not None]
        chosen = (self.report.best_null or {}).get("stems") or labels
        if not set(chosen) <= set(labels):
            self.report.notes.append(
                "no Residual: the stems that sum to the source are not all kept"
            )
            return None
        indexes = [i for i, stem in enumerate(self._stems) if stem.label in chosen and stem.output]
        part = _part(output)
        try:
            self.report.residual = passes.write_residual(
                layout,
                self._source_values,
                [passes.values_of(self._written[i].values, *self._dtype(layout)) for i in indexes],
                part,
                "source - " + " - ".join(chosen),
            )
            stamping.stamp_all(
                layout,
                [part],
                [RESIDUAL_LABEL],
                self.report,
                origin=self._origin,
                source_name=self._source_name,
                copy_tags=self._wanted.tags == "copy",
            )
            self.digests[output] = file_sha256(part)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        return part, output

    def abandon(self) -> None:
        """Remove every part and values file (a stem failed, or the job stopped)."""
        with self._lock:
            written = list(self._written.values())
        for item in written:
            if item.part is not None:
                item.part.unlink(missing_ok=True)
        for stem in self._stems:
            if stem.output is not None:
                _part(stem.output).unlink(missing_ok=True)
        if self._residual_output is not None:
            _part(self._residual_output).unlink(missing_ok=True)
        self._remove_values()

    def _remove_values(self) -> None:
        self._source_values = None
        for index in range(len(self._stems)):
            with contextlib.suppress(OSError):
                (self._scratch / f".values-{index:02d}").unlink()
        with contextlib.suppress(OSError):
            (self._scratch / _SOURCE_VALUES).unlink()


def _part(path: Path) -> Path:
    return path.with_name(f".{path.name}.part")
