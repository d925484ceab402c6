"""The passes of a conversion over a job's stems, block by block.

``measure_lag`` finds where the stems start against their input on the first windows where it
sounds; ``write_stems`` reads the input and every stem side by side (each stem decoded and
resampled ahead in a thread of its own) and writes each in the target format, keeping the sums
the null figures come from; ``write_residual`` is a second pass over the written stems.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from mvsepd.audio import align, decode
from mvsepd.audio.formats import SourceAudio, TargetFormat
from mvsepd.audio.reports import RESIDUAL_LABEL, ConformReport, StemFile, StemReport
from mvsepd.audio.stream import Aligned, Prefetch, map_channels, quantize
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


def write_stems(
    layout: Layout,
    source_path: Path | None,
    stems: Sequence[StemFile],
    parts: Sequence[Path],
    lag: align.Lag,
    report: ConformReport,
    progress: Callable[[int, int], None] | None,
) -> Sums:
    count = len(stems)
    sums = Sums(np.zeros((count, count)), np.zeros(count))
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
            prefetch = Prefetch(stream, BLOCK, blocks)
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
            original = Prefetch(source_stream, BLOCK, blocks)
            stack.callback(original.close)
        for block_index in layout.blocks:
            if progress is not None:
                progress(min(block_index * BLOCK, layout.source.frames), layout.source.frames)
            values = []
            for index, (prefetch, writer) in enumerate(zip(ahead, writers, strict=True)):
                try:
                    block = prefetch.read()
                except AudioError as error:
                    raise undecodable(stems[index], error) from None
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
                raise undecodable(stems[index], error) from None
            report.stems[index].mvsep["frames"] = stream.decoded
            if stems[index].output is not None:
                _describe_written(report.stems[index], layout, shifts[index])
    return sums


def _accumulate(sums: Sums, mix: np.ndarray, values: Sequence[np.ndarray]) -> None:
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
    layout: Layout,
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
            rest = original.read(BLOCK)
            for reader in readers:
                rest = rest - map_channels(reader.read(rest.shape[0]), layout.channels)
            quantized = quantize(rest, layout.target.subtype)
            writer.write(quantized.data)
            residual.clipped_samples += quantized.clipped
    residual.written = layout.written()
    return residual
