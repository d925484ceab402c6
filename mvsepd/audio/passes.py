"""The passes of a conversion over a job's stems, block by block.

``measure_lag`` finds where stems start against their input on the first windows where it
sounds; ``write_values`` keeps the input's values (at its rate, in the stems' channels) in a
file; ``write_stem`` writes one stem in the target format (decoded and resampled ahead in a
thread of its own), keeps its values in a file of its own and sums its products with the
input and with the stems written before it, which is all the null figures need;
``write_residual`` writes the input minus some stems, from those files.

A values file holds a stem's samples exactly as a reader of the written file gets them, in a
float type that holds them exactly (``values_dtype``): reading it back costs a memory map, not
a decode, so the products of a stem written last with the others are cheap.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from mvsepd.audio import align, decode
from mvsepd.audio.formats import SourceAudio, TargetFormat
from mvsepd.audio.reports import RESIDUAL_LABEL, StemFile, StemReport
from mvsepd.audio.stream import Aligned, Prefetch, quantize
from mvsepd.errors import AudioError

BLOCK = 1 << 16


#: Windows (of ``align.WINDOW`` samples) searched for a place where the source is not silent.
_LAG_WINDOWS = 40


@dataclass(frozen=True)
class Layout:
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
        return range(math.ceil(self.source.frames / BLOCK))

    def written(self) -> dict[str, Any]:
        return {
            "container": self.target.container,
            "subtype": self.target.subtype,
            "rate": self.source.rate,
            "channels": self.channels,
            "frames": self.source.frames,
        }


@dataclass
class Sums:
    """Sums over the whole job for the null figures: pairs of stems, stems × source, source²,
    and (source − Σ stems)²."""

    gram: np.ndarray
    cross: np.ndarray
    source_energy: float = 0.0
    error_energy: float = 0.0


def undecodable(stem: StemFile, error: AudioError) -> AudioError:
    return AudioError(f"the stem {stem.label!r} ({stem.name}) does not decode: {error}")


def _open_stem(stem: StemFile) -> decode.Reader:
    try:
        return decode.open_reader(stem.downloaded, stem.name)
    except AudioError as error:
        raise undecodable(stem, error) from None


def _read(stream: Aligned, stem: StemFile, frames: int = BLOCK) -> np.ndarray:
    try:
        return stream.read(frames)
    except AudioError as error:
        raise undecodable(stem, error) from None


def measure_lag(layout: Layout, source_path: Path, stems: Sequence[StemFile]) -> align.Lag:
    """The lag of Σ stems against the source, on the first windows where the source sounds
    (a short source is compared whole, with a search as wide as a quarter of it)."""
    frames = layout.source.frames
    width = min(align.WINDOW, frames)
    margin = min(align.MAX_LAG, max(1, frames // 4))
    mono = Layout(layout.source, layout.target, 1)
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


def values_dtype(subtype: str) -> type[np.floating[Any]]:
    """The float type that holds every value of ``subtype`` exactly (24 bits of mantissa:
    PCM up to 24 bits and 32-bit float fit float32; wider formats need float64)."""
    return np.float32 if subtype in _EXACT_IN_FLOAT32 else np.float64


_EXACT_IN_FLOAT32 = frozenset(
    {"PCM_S8", "PCM_U8", "PCM_16", "PCM_24", "FLOAT", "ALAC_16", "ALAC_20", "ALAC_24"}
)


@dataclass
class StemSums:
    """What one stem's pass adds to the null figures: its products with the source and with
    itself, and with the stems written before it (by their index)."""

    cross: float = 0.0
    energy: float = 0.0
    pairs: dict[int, float] = field(default_factory=dict)


def values_of(path: Path, dtype: type[np.floating[Any]], channels: int) -> np.ndarray:
    """A values file (``write_stem``'s ``values_out``) as a read-only (frames × channels) map."""
    if path.stat().st_size == 0:
        return np.zeros((0, channels), dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r").reshape(-1, channels)


def write_stem(
    layout: Layout,
    stem: StemFile,
    part: Path | None,
    values_out: Path,
    shift: int,
    report: StemReport,
    *,
    source: np.ndarray | None,
    partners: dict[int, np.ndarray],
    progress: Callable[[int], None] | None = None,
) -> StemSums:
    """Write one stem in the target format into ``part`` (None: only its values are kept, a
    stem that is not placed), moved ``shift`` frames of its own rate back, and its values as
    a reader of ``part`` will see them into ``values_out``; with ``source`` (the source's
    values), the products the null figures come from, with ``partners`` (the values of stems
    written before) too. Raise AudioError naming the stem when it does not decode."""
    sums = StemSums(pairs=dict.fromkeys(partners, 0.0))
    subtype = layout.target.subtype
    dtype = values_dtype(subtype)
    with contextlib.ExitStack() as stack:
        reader = stack.enter_context(_open_stem(stem))
        stream = layout.aligned(reader, lag=shift)
        prefetch = Prefetch(stream, BLOCK, len(layout.blocks))
        stack.callback(prefetch.close)
        writer = stack.enter_context(_writer(part, layout)) if part is not None else None
        values_file = stack.enter_context(values_out.open("wb"))
        start = 0
        for _ in layout.blocks:
            try:
                block = prefetch.read()
            except AudioError as error:
                raise undecodable(stem, error) from None
            quantized = quantize(block, subtype)
            if writer is not None:
                writer.write(quantized.data)
                report.clipped_samples += quantized.clipped
            values = quantized.values
            values.astype(dtype).tofile(values_file)
            end = start + values.shape[0]
            flat = values.ravel()
            sums.energy += float(np.dot(flat, flat))
            if source is not None:
                sums.cross += float(np.dot(flat, _block(source, start, end)))
            for index, partner in partners.items():
                sums.pairs[index] += float(np.dot(flat, _block(partner, start, end)))
            start = end
            if progress is not None:
                progress(end)
        prefetch.close()
        try:
            stream.finish()
        except AudioError as error:
            raise undecodable(stem, error) from None
        report.mvsep["frames"] = stream.decoded
        if part is not None:
            _describe_written(report, layout, shift)
    return sums


def _block(values: np.ndarray, start: int, end: int) -> np.ndarray:
    return np.asarray(values[start:end], dtype=np.float64).ravel()


def dot(first: np.ndarray, second: np.ndarray) -> float:
    """The product of two values maps, block by block (memory stays flat)."""
    total = 0.0
    for start in range(0, min(first.shape[0], second.shape[0]), BLOCK):
        end = start + BLOCK
        total += float(np.dot(_block(first, start, end), _block(second, start, end)))
    return total


def write_values(layout: Layout, path: Path, values_out: Path) -> float:
    """The source's values (at its rate, in the stems' channels) into ``values_out``, in
    ``values_dtype`` of its sample format; return their energy (the sum of their squares)."""
    energy = 0.0
    dtype = values_dtype(layout.source.subtype or "")
    with decode.open_reader(path) as reader, values_out.open("wb") as handle:
        stream = layout.aligned(reader)
        for _ in layout.blocks:
            block = stream.read(BLOCK)
            block.astype(dtype).tofile(handle)
            flat = block.ravel()
            energy += float(np.dot(flat, flat))
    return energy


@contextlib.contextmanager
def _writer(path: Path, layout: Layout) -> Iterator[soundfile.SoundFile]:
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


def _describe_written(stem: StemReport, layout: Layout, shift: int) -> None:
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


def write_residual(
    layout: Layout, source: np.ndarray, chosen: Sequence[np.ndarray], part: Path, label: str
) -> StemReport:
    """Write the source's values minus the sum of ``chosen`` stems' values into ``part``."""
    residual = StemReport(RESIDUAL_LABEL, {"name": label})
    with _writer(part, layout) as writer:
        for start in range(0, layout.source.frames, BLOCK):
            end = start + BLOCK
            rest = np.asarray(source[start:end], dtype=np.float64)
            for values in chosen:
                rest = rest - np.asarray(values[start:end], dtype=np.float64)
            quantized = quantize(rest, layout.target.subtype)
            writer.write(quantized.data)
            residual.clipped_samples += quantized.clipped
    residual.written = layout.written()
    return residual
