"""What MVSEP sent for each stem (``sent``: complete, audio, in which format, its SHA-256),
``verify`` for ``conform: off`` (every stem decodes to its end), and the null figures' words:
the subset of stems that nulls best against the source, in dB."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from mvsepd.audio import decode, passes, readiness
from mvsepd.audio.reports import ConformReport, StemFile, StemReport
from mvsepd.domain.hashing import file_sha256
from mvsepd.errors import AudioError

#: Subsets of stems are compared for the best null only up to this many stems.
_MAX_SUBSET_STEMS = 12
#: A subset of stems whose sum is this close to the source partitions it.
_NULLS_DB = -50.0


def verify(stems: Sequence[StemFile]) -> ConformReport:
    """``conform: off``: decode every stem to its end (raise AudioError naming a bad one)."""
    return ConformReport("off", [verify_one(stem) for stem in stems])


def verify_one(stem: StemFile) -> StemReport:
    """One stem of ``verify``: what it is, decoded to its end."""
    report = sent(stem)
    try:
        rate, channels, frames = decode.count_frames(stem.downloaded, stem.name)
    except AudioError as error:
        raise passes.undecodable(stem, error) from None
    if frames == 0:
        raise AudioError(f"the stem {stem.label!r} ({stem.name}) holds no audio")
    report.mvsep.update(rate=rate, channels=channels, frames=frames)
    return report


def sent(stem: StemFile) -> StemReport:
    """Check MVSEP's file and describe it (frames are counted when it is decoded)."""
    path = stem.downloaded
    verdict = readiness.check(path)
    if verdict.completeness is readiness.Completeness.INVALID:
        raise AudioError(f"the stem {stem.label!r} ({stem.name}) is not audio: {verdict.reason}")
    if verdict.completeness is not readiness.Completeness.COMPLETE:
        # A download is complete by now: what looks unfinished was cut short by the server
        # (the check's words are for a file still being written: it "cannot be decoded yet").
        reason = (verdict.reason or "").replace(
            "cannot be decoded yet: ", "it does not decode to its end: "
        )
        raise AudioError(f"the stem {stem.label!r} ({stem.name}) is cut short: {reason}")
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


def best_subset(
    report: ConformReport, gram: np.ndarray, cross: np.ndarray, energy: float
) -> dict[str, Any] | None:
    """The stems whose sum nulls against the source, from their products with each other
    (``gram``) and with the source (``cross``) and the source's ``energy``: the subset with the
    most stems among those that null as well as the best one, or to below ``_NULLS_DB``
    (quantisation alone makes a smaller subset of a perfect partition null a few dB deeper)."""
    count = len(report.stems)
    if count > _MAX_SUBSET_STEMS or energy <= 0:
        return None
    figures = []
    for size in range(1, count + 1):
        for subset in itertools.combinations(range(count), size):
            chosen = list(subset)
            error = energy - 2 * cross[chosen].sum() + gram[np.ix_(chosen, chosen)].sum()
            figures.append((decibels(max(0.0, float(error)), energy), subset))
    best = min(value for value, _ in figures)
    good = [
        (value, subset)
        for value, subset in figures
        if value <= best + 0.5 or (best <= _NULLS_DB and value <= _NULLS_DB)
    ]
    value, subset = min(good, key=lambda item: (-len(item[1]), item[0]))
    return {"stems": [report.stems[i].label for i in subset], "null_db": value}


def decibels(error: float, reference: float) -> float:
    """``error`` relative to ``reference`` (energies) in dB, to 0.01 dB; -200 for none."""
    if reference <= 0:
        return 0.0
    if error <= 0:
        return -200.0
    return round(10 * math.log10(error / reference), 2)
