"""Conform a job's stems to their source: rate, channels, exact length, start, sample format,
container and Broadcast WAV timestamp; or, with ``conform: off``, check that each decodes.

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

import contextlib
import itertools
import math
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from mvsepd import __version__
from mvsepd.audio import align, decode, readiness, riff
from mvsepd.audio.formats import SourceAudio, StemFormat, TargetFormat, choose_target
from mvsepd.audio.stream import Aligned, Prefetch, map_channels, quantize
from mvsepd.errors import AudioError
from mvsepd.hashing import file_sha256

_BLOCK = 1 << 16
#: Windows (of ``align.WINDOW`` samples) searched for a place where the source is not silent.
_LAG_WINDOWS = 40
#: Subsets of stems are compared for the best null only up to this many stems.
_MAX_SUBSET_STEMS = 12
RESIDUAL_LABEL = "Residual"
#: A subset of stems whose sum is this close to the source partitions it.
_NULLS_DB = -50.0


@dataclass(frozen=True)
class StemFile:
    """One audio stem of a job: MVSEP's file as downloaded, and where its conformed copy goes
    (None: read for the null figure and the start, not written; a chain step's unkept stem)."""

    label: str
    downloaded: Path
    output: Path | None
    name: str


@dataclass
class StemReport:
    """What MVSEP sent for one stem and what was written."""

    label: str
    mvsep: dict[str, Any]
    written: dict[str, Any] | None = None
    clipped_samples: int = 0
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The manifest's entry."""
        entry: dict[str, Any] = {"label": self.label, "mvsep": self.mvsep}
        if self.written is not None:
            entry["written"] = self.written
            entry["clipped_samples"] = self.clipped_samples
        if self.notes:
            entry["notes"] = self.notes
        return entry


@dataclass
class ConformReport:
    """What conform did to one job's stems, for its manifest."""

    mode: str
    stems: list[StemReport]
    target: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    lag_samples: int | None = None
    lag_confidence: float | None = None
    null_db: float | None = None
    best_null: dict[str, Any] | None = None
    timestamp: dict[str, Any] | None = None
    residual: StemReport | None = None

    def to_json(self) -> dict[str, Any]:
        """The manifest's ``conform`` section."""
        document: dict[str, Any] = {"mode": self.mode}
        for key in ("target", "lag_samples", "lag_confidence", "null_db", "best_null"):
            value = getattr(self, key)
            if value is not None:
                document[key] = value
        if self.timestamp is not None:
            document["timestamp"] = self.timestamp
        if self.notes:
            document["notes"] = self.notes
        document["stems"] = [stem.to_json() for stem in self.stems]
        if self.residual is not None:
            document["residual"] = self.residual.to_json()
        return document


def verify(stems: Sequence[StemFile]) -> ConformReport:
    """``conform: off``: decode every stem to its end (raise AudioError naming a bad one)."""
    reports = []
    for stem in stems:
        report = _sent(stem)
        try:
            rate, channels, frames = decode.count_frames(stem.downloaded, stem.name)
        except AudioError as error:
            raise _undecodable(stem, error) from None
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
    layout = _Layout(source, target, channels)
    lag = align.Lag(0, 0.0)
    if original is not None:
        lag = _measure_lag(layout, original, stems)
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
        sums = _write_stems(layout, original, stems, parts, lag, report, progress)
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
                report.residual = _write_residual(layout, original, stems, parts, report)
        elif residual_output is not None:
            report.notes.append("no Residual: it needs the original")
        report.timestamp = _stamp_all(layout, parts, labels, f"{source_name}; {origin}", report)
        for part, output in zip(parts, outputs, strict=True):
            os.replace(part, output)
    finally:
        for part in parts:
            part.unlink(missing_ok=True)
    return report


@dataclass(frozen=True)
class _Layout:
    """What every output of a job is written as."""

    source: SourceAudio
    target: TargetFormat
    channels: int

    def aligned(self, reader: decode.Reader, *, lag: int = 0, extra: int = 0) -> Aligned:
        return Aligned(
            reader,
            rate=self.source.rate,
            channels=self.channels,
            lag=lag,
            frames=self.source.frames + extra,
        )

    @property
    def blocks(self) -> range:
        return range(math.ceil(self.source.frames / _BLOCK))

    def written(self) -> dict[str, Any]:
        return {
            "container": self.target.container,
            "subtype": self.target.subtype,
            "rate": self.source.rate,
            "channels": self.channels,
            "frames": self.source.frames,
        }


@dataclass
class _Sums:
    """Sums over the whole job for the null figures: pairs of stems, stems × source, source²,
    and (source − Σ stems)²."""

    gram: np.ndarray
    cross: np.ndarray
    source_energy: float = 0.0
    error_energy: float = 0.0


def _sent(stem: StemFile) -> StemReport:
    """Check MVSEP's file and describe it (frames are counted when it is decoded)."""
    path = stem.downloaded
    verdict = readiness.check(path)
    if verdict.completeness is readiness.Completeness.INVALID:
        raise AudioError(f"the stem {stem.label!r} ({stem.name}) is not audio: {verdict.reason}")
    if verdict.completeness is not readiness.Completeness.COMPLETE:
        # A download is complete by now: what looks unfinished was cut short by the server.
        reason = verdict.reason.replace(" (still being written, or truncated)", "")
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
        raise _undecodable(stem, error) from None
    described["sha256"] = file_sha256(path)
    return StemReport(stem.label, described)


def _undecodable(stem: StemFile, error: AudioError) -> AudioError:
    return AudioError(f"the stem {stem.label!r} ({stem.name}) does not decode: {error}")


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


def _open_stem(stem: StemFile) -> decode.Reader:
    try:
        return decode.open_reader(stem.downloaded, stem.name)
    except AudioError as error:
        raise _undecodable(stem, error) from None


def _read(stream: Aligned, stem: StemFile, frames: int = _BLOCK) -> np.ndarray:
    try:
        return stream.read(frames)
    except AudioError as error:
        raise _undecodable(stem, error) from None


def _measure_lag(layout: _Layout, source_path: Path, stems: Sequence[StemFile]) -> align.Lag:
    """The lag of Σ stems against the source, on the first windows where the source sounds
    (a short source is compared whole, with a search as wide as a quarter of it)."""
    frames = layout.source.frames
    width = min(align.WINDOW, frames)
    margin = min(align.MAX_LAG, max(1, frames // 4))
    mono = _Layout(layout.source, layout.target, 1)
    with contextlib.ExitStack() as stack:
        source_stream = mono.aligned(stack.enter_context(decode.open_reader(source_path)))
        stem_streams = [
            (mono.aligned(stack.enter_context(_open_stem(stem)), extra=margin), stem)
            for stem in stems
        ]

        def stem_sum() -> np.ndarray:
            total = np.zeros(width)
            for stream, stem in stem_streams:
                block = _read(stream, stem, width)[:, 0]
                total[: block.size] += block
            return total

        previous, current = np.zeros(width), stem_sum()
        best = align.Lag(0, 0.0)
        for _ in range(_LAG_WINDOWS):
            reference = source_stream.read(width)[:, 0]
            if reference.size < margin:
                break
            following = stem_sum()
            if not align.is_silent(reference):
                candidate = np.concatenate([previous[-margin:], current, following[:margin]])
                found = align.find_lag(
                    reference, candidate[: reference.size + 2 * margin], max_lag=margin
                )
                if found.confidence >= align.MIN_CONFIDENCE:
                    return found
                best = max(best, found, key=lambda lag: lag.confidence)
            previous, current = current, following
        return best


def _write_stems(
    layout: _Layout,
    source_path: Path | None,
    stems: Sequence[StemFile],
    parts: Sequence[Path],
    lag: align.Lag,
    report: ConformReport,
    progress: Callable[[int, int], None] | None,
) -> _Sums:
    count = len(stems)
    sums = _Sums(np.zeros((count, count)), np.zeros(count))
    trusted = lag.confidence >= align.MIN_CONFIDENCE
    rate = layout.source.rate
    subtype = layout.target.subtype
    with contextlib.ExitStack() as stack:
        readers = [stack.enter_context(_open_stem(stem)) for stem in stems]
        shifts = [lag.at_rate(reader.rate, rate) if trusted else 0 for reader in readers]
        streams = [
            layout.aligned(reader, lag=shift) for reader, shift in zip(readers, shifts, strict=True)
        ]
        blocks = len(layout.blocks)
        ahead = []
        for stream in streams:
            prefetch = Prefetch(stream, _BLOCK, blocks)
            stack.callback(prefetch.close)
            ahead.append(prefetch)
        written = iter(parts)
        writers = [
            stack.enter_context(_writer(next(written), layout)) if stem.output is not None else None
            for stem in stems
        ]
        original = None
        if source_path is not None:
            source_stream = layout.aligned(stack.enter_context(decode.open_reader(source_path)))
            original = Prefetch(source_stream, _BLOCK, blocks)
            stack.callback(original.close)
        for block_index in layout.blocks:
            if progress is not None:
                progress(min(block_index * _BLOCK, layout.source.frames), layout.source.frames)
            values = []
            for index, (prefetch, writer) in enumerate(zip(ahead, writers, strict=True)):
                try:
                    block = prefetch.read()
                except AudioError as error:
                    raise _undecodable(stems[index], error) from None
                quantized = quantize(block, subtype)
                if writer is not None:
                    writer.write(quantized.data)
                    report.stems[index].clipped_samples += quantized.clipped
                values.append(quantized.values)
            if original is not None:
                _accumulate(sums, original.read(), values)
        for index, stream in enumerate(streams):
            ahead[index].close()
            try:
                stream.finish()
            except AudioError as error:
                raise _undecodable(stems[index], error) from None
            report.stems[index].mvsep["frames"] = stream.decoded
            if stems[index].output is not None:
                _describe_written(report.stems[index], layout, shifts[index])
    return sums


def _accumulate(sums: _Sums, mix: np.ndarray, values: Sequence[np.ndarray]) -> None:
    flat_mix = mix.ravel()
    flat = [value.ravel() for value in values]
    error = flat_mix.copy()
    for index, stem in enumerate(flat):
        error -= stem
        sums.cross[index] += float(np.dot(stem, flat_mix))
        for other in range(index + 1):
            product = float(np.dot(stem, flat[other]))
            sums.gram[index, other] += product
            if other != index:
                sums.gram[other, index] += product
    sums.source_energy += float(np.dot(flat_mix, flat_mix))
    sums.error_energy += float(np.dot(error, error))


@contextlib.contextmanager
def _writer(path: Path, layout: _Layout) -> Iterator[soundfile.SoundFile]:
    target, rate = layout.target, layout.source.rate
    try:
        handle = soundfile.SoundFile(
            str(path), "w", rate, layout.channels, target.subtype, None, target.container
        )
    except (soundfile.LibsndfileError, RuntimeError, ValueError) as error:
        raise AudioError(
            f"cannot write {target.describe()} at {rate} Hz with {layout.channels} channels: "
            f"{error}"
        ) from None
    with handle:
        yield handle


def _describe_written(stem: StemReport, layout: _Layout, shift: int) -> None:
    source = layout.source
    # The lag removed is counted in samples of MVSEP's file (its rate is in "mvsep").
    stem.written = {**layout.written(), "lag_removed": shift}
    sent_seconds = stem.mvsep["frames"] / stem.mvsep["rate"]
    if abs(sent_seconds - source.duration_seconds) > 0.5 + 0.01 * source.duration_seconds:
        stem.notes.append(
            f"MVSEP's file is {sent_seconds:.1f} s long, the source "
            f"{source.duration_seconds:.1f} s: cut or padded with silence to the source's length"
        )
    if stem.clipped_samples:
        stem.notes.append(
            f"{stem.clipped_samples} samples over full scale were clipped "
            f"({layout.target.describe()} cannot hold them; a float format can)"
        )


def _write_residual(
    layout: _Layout,
    source_path: Path,
    stems: Sequence[StemFile],
    parts: Sequence[Path],
    report: ConformReport,
) -> StemReport:
    """Write source − (the stems that null best) into the last of ``parts`` (the others are
    the written stems, in order)."""
    chosen = (report.best_null or {}).get("stems") or [stem.label for stem in report.stems]
    written = [stem for stem in stems if stem.output is not None]
    indexes = [index for index, stem in enumerate(written) if stem.label in chosen]
    residual = StemReport(RESIDUAL_LABEL, {"name": "source - " + " - ".join(chosen)})
    with contextlib.ExitStack() as stack:
        original = layout.aligned(stack.enter_context(decode.open_reader(source_path)))
        readers = [stack.enter_context(decode.open_reader(parts[index])) for index in indexes]
        writer = stack.enter_context(_writer(parts[-1], layout))
        for _ in layout.blocks:
            rest = original.read(_BLOCK)
            for reader in readers:
                rest = rest - map_channels(reader.read(rest.shape[0]), layout.channels)
            quantized = quantize(rest, layout.target.subtype)
            writer.write(quantized.data)
            residual.clipped_samples += quantized.clipped
    residual.written = layout.written()
    return residual


def _best_subset(report: ConformReport, sums: _Sums) -> dict[str, Any] | None:
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


def _stamp_all(
    layout: _Layout,
    parts: Sequence[Path],
    labels: Sequence[str],
    origin: str,
    report: ConformReport,
) -> dict[str, Any] | None:
    """Give every WAV output the source's ``bext`` (and iXML); return the timestamp written."""
    source, target, channels = layout.source, layout.target, layout.channels
    original = riff.Bext.parse(source.bext) if source.bext is not None else None
    if original is None:
        return None
    if not target.carries_bext:
        return {"written": False, "why": f"{target.container} has no Broadcast WAV timestamp"}
    # The stems are at the source's rate, so the sample count since midnight stays as it is;
    # a timestamp copied across a rate change would place them minutes off.
    stamped = original.rescaled(source.rate, source.rate)
    ixml = None
    if source.ixml is not None and channels == source.channels:
        ixml = riff.ixml_with_timestamp(
            source.ixml, time_reference=stamped.time_reference, rate=source.rate
        )
    bits = target.integer_bits or (64 if target.subtype == "DOUBLE" else 32)
    mode = "mono" if channels == 1 else "stereo" if channels == 2 else "multichannel"
    # CodingHistory lines are comma-separated fields: keep the free text free of commas.
    text = origin.replace(",", ";")
    for part, label in zip(parts, labels, strict=True):
        bext = riff.Bext(
            description=f"{label} stem of {origin}",
            originator="mvsepd",
            originator_reference=f"MVSEPD{uuid.uuid4().hex[:26].upper()}",
            origination_date=original.origination_date,
            origination_time=original.origination_time,
            time_reference=stamped.time_reference,
            coding_history=_history(original.coding_history)
            + f"A=PCM,F={source.rate},W={bits},M={mode},T=mvsepd {__version__} {label}: {text}",
        )
        chunks = [(b"bext", bext.pack())]
        if ixml is not None:
            chunks.append((b"iXML", ixml))
        stamped_part = part.with_name(part.name + ".bwf")
        try:
            if not riff.insert_chunks(part, stamped_part, chunks):
                report.notes.append(f"{label}: too large for a RIFF WAV, no bext written")
                continue
            os.replace(stamped_part, part)
        finally:
            stamped_part.unlink(missing_ok=True)
    return {
        "written": True,
        "time_reference": stamped.time_reference,
        "rate": source.rate,
        "seconds_since_midnight": round(stamped.time_reference / source.rate, 6),
        "ixml": "rewritten" if ixml is not None else ("dropped" if source.ixml else None),
    }


def _history(previous: str) -> str:
    lines = [line for line in previous.replace("\r\n", "\n").split("\n") if line.strip()]
    return "".join(line + "\r\n" for line in lines)


def _part(path: Path) -> Path:
    return path.with_name(f".{path.name}.part")


def _decibels(error: float, reference: float) -> float:
    if reference <= 0:
        return 0.0
    if error <= 0:
        return -200.0
    return round(10 * math.log10(error / reference), 2)
