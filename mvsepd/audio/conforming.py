"""Conform a job's stems to their source: rate, channels, exact length, start, sample format,
container, Broadcast WAV timestamp and tags; or, with ``conform: off``, check that each decodes
(MVSEP's files are then placed as sent, without tags).

Everything streams in blocks (memory stays flat for a two-hour stem) and writes ``.part``
files beside the outputs, renamed into place only when every output of the job is complete:
a stem is conformed whole or not at all. One pass reads the source and all stems side by side,
so the null figure (RMS of source − Σ stems relative to the source, in dB) costs no second
read; the sums of every pair of stems are kept too, which gives the subset of stems that nulls
best (models that add a derived stem, such as an instrumental beside vocals, drums, bass and
other, do not sum to the mix with all of them). The optional ``Residual`` (source − that
subset: what the model left out) is a second pass over the written stems.

A stem that will not decode raises ``AudioError`` naming it; a source format that cannot be
matched is written in the nearest one, and the report says which and why.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mvsepd.audio import align, decode, passes, readiness, stamping
from mvsepd.audio.formats import SourceAudio, StemFormat, TargetFormat, choose_target
from mvsepd.audio.reports import RESIDUAL_LABEL, ConformReport, StemFile, StemReport
from mvsepd.domain.hashing import file_sha256
from mvsepd.errors import AudioError

#: Subsets of stems are compared for the best null only up to this many stems.
_MAX_SUBSET_STEMS = 12


#: A subset of stems whose sum is this close to the source partitions it.
_NULLS_DB = -50.0


def verify(stems: Sequence[StemFile]) -> ConformReport:
    """``conform: off``: decode every stem to its end (raise AudioError naming a bad one)."""
    reports = []
    for stem in stems:
        report = _sent(stem)
        try:
            rate, channels, frames = decode.count_frames(stem.downloaded, stem.name)
        except AudioError as error:
            raise passes.undecodable(stem, error) from None
        if frames == 0:
            raise AudioError(f"the stem {stem.label!r} ({stem.name}) holds no audio")
        report.mvsep.update(rate=rate, channels=channels, frames=frames)
        reports.append(report)
    return ConformReport("off", reports)


def conform(
    source: SourceAudio,
    source_path: Path | None,
    stems: Sequence[StemFile],
    wanted: StemFormat,
    *,
    source_name: str,
    origin: str,
    residual_output: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ConformReport:
    """Write every stem in the source's format (see the module docstring).

    ``source_path`` is the original when it still holds the job's audio (None otherwise: no
    lag check, null figure or residual then). ``source_name`` and ``origin`` (the preset and
    model) go into the stems' ``bext`` description and coding history. ``progress`` is told
    the frames written so far and in all, block by block.
    """
    target = choose_target(source, wanted)
    report = ConformReport("source", [_sent(stem) for stem in stems], notes=list(target.notes))
    channels = _output_channels(source, target, wanted, [r.mvsep["channels"] for r in report.stems])
    report.target = {
        "container": target.container,
        "subtype": target.subtype,
        "rate": source.rate,
        "channels": channels,
        "frames": source.frames,
    }
    original = source_path if source_path is not None and _comparable(source, channels) else None
    if source_path is None:
        report.notes.append("the original changed or is gone: start, null and residual unchecked")
    elif original is None:
        report.notes.append(
            f"the source has {source.channels} channels and the stems {channels}: "
            "start, null and residual unchecked"
        )
    layout = passes.Layout(source, target, channels)
    lag = align.Lag(0, 0.0)
    if original is not None:
        lag = passes.measure_lag(layout, original, stems)
        report.lag_samples = lag.samples
        report.lag_confidence = round(lag.confidence, 3)
        if lag.confidence < align.MIN_CONFIDENCE:
            report.notes.append(
                "the start could not be verified: the stems do not resemble the source"
            )
    written = [stem for stem in stems if stem.output is not None]
    parts = [_part(stem.output) for stem in written if stem.output is not None]
    outputs = [stem.output for stem in written if stem.output is not None]
    labels = [stem.label for stem in written]
    try:
        sums = passes.write_stems(layout, original, stems, parts, lag, report, progress)
        if original is not None:
            report.null_db = _decibels(sums.error_energy, sums.source_energy)
            report.best_null = _best_subset(report, sums)
            chosen = set((report.best_null or {}).get("stems") or labels)
            if residual_output is not None and not chosen <= set(labels):
                report.notes.append(
                    "no Residual: the stems that sum to the source are not all kept"
                )
            elif residual_output is not None:
                parts.append(_part(residual_output))
                outputs.append(residual_output)
                labels.append(RESIDUAL_LABEL)
                report.residual = passes.write_residual(layout, original, stems, parts, report)
        elif residual_output is not None:
            report.notes.append("no Residual: it needs the original")
        stamping.stamp_all(
            layout,
            parts,
            labels,
            report,
            origin=f"{source_name}; {origin}",
            source_name=source_name,
            copy_tags=wanted.tags == "copy",
        )
        for part, output in zip(parts, outputs, strict=True):
            os.replace(part, output)
    finally:
        for part in parts:
            part.unlink(missing_ok=True)
    return report


def _sent(stem: StemFile) -> StemReport:
    """Check MVSEP's file and describe it (frames are counted when it is decoded)."""
    path = stem.downloaded
    verdict = readiness.check(path)
    if verdict.completeness is readiness.Completeness.INVALID:
        raise AudioError(f"the stem {stem.label!r} ({stem.name}) is not audio: {verdict.reason}")
    if verdict.completeness is not readiness.Completeness.COMPLETE:
        # A download is complete by now: what looks unfinished was cut short by the server.
        raise AudioError(f"the stem {stem.label!r} ({stem.name}) is cut short: {verdict.reason}")
    try:
        with decode.open_reader(path, stem.name) as reader:
            described: dict[str, Any] = {
                "name": stem.name,
                "container": reader.container,
                "subtype": reader.subtype,
                "rate": reader.rate,
                "channels": reader.channels,
            }
    except AudioError as error:
        raise passes.undecodable(stem, error) from None
    described["sha256"] = file_sha256(path)
    return StemReport(stem.label, described)


def _output_channels(
    source: SourceAudio, target: TargetFormat, wanted: StemFormat, sent: Sequence[int]
) -> int:
    if target.mono:
        return 1
    if wanted.channels == "stereo" or source.channels == 2:
        return 2
    return max(sent)  # more than two: as MVSEP sent


def _comparable(source: SourceAudio, channels: int) -> bool:
    return source.channels in (channels, 1)


def _best_subset(report: ConformReport, sums: passes.Sums) -> dict[str, Any] | None:
    """The stems whose sum nulls against the source: the subset with the most stems among those
    that null as well as the best one, or to below ``_NULLS_DB`` (quantisation alone makes a
    smaller subset of a perfect partition null a few dB deeper)."""
    count = len(report.stems)
    if count > _MAX_SUBSET_STEMS or sums.source_energy <= 0:
        return None
    figures = []
    for size in range(1, count + 1):
        for subset in itertools.combinations(range(count), size):
            chosen = list(subset)
            error = (
                sums.source_energy
                - 2 * sums.cross[chosen].sum()
                + sums.gram[np.ix_(chosen, chosen)].sum()
            )
            figures.append((_decibels(max(0.0, float(error)), sums.source_energy), subset))
    best = min(decibels for decibels, _ in figures)
    good = [
        (decibels, subset)
        for decibels, subset in figures
        if decibels <= best + 0.5 or (best <= _NULLS_DB and decibels <= _NULLS_DB)
    ]
    decibels, subset = min(good, key=lambda item: (-len(item[1]), item[0]))
    return {"stems": [report.stems[i].label for i in subset], "null_db": decibels}


def _part(path: Path) -> Path:
    return path.with_name(f".{path.name}.part")


def _decibels(error: float, reference: float) -> float:
    if reference <= 0:
        return 0.0
    if error <= 0:
        return -200.0
    return round(10 * math.log10(error / reference), 2)
