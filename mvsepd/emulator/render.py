"""Producing a job's result files from its input, block by block, the way MVSEP's models do.

Memory use is bounded by ``block_frames`` × channels × stems regardless of the input's length:
the input is read with libsndfile in blocks, brought to the model's rate and channels
(``ModelInput``), each block is split (``dsp``) and appended to one open writer per stem
(``encoding``).

MVSEP's models run at 44,100 Hz in stereo [INF: ZFTurbo's open inference code, the MVSEP
author's, loads every input with ``librosa.load(path, sr=44100, mono=False)``, stacks a mono
input into two channels and writes at the model rate; 46 of its 47 model configs say 44100].
So by default every stem is rendered at ``output_rate`` (44,100 Hz, resampled with soxr's HQ
preset, librosa's default), a mono source gives stereo stems and a source with more than two
channels its first two [INF], and a stem is ceil(N × 44100 / rate) frames long, librosa's
length for a resampled signal; a 44.1 kHz source keeps its N frames. ``output_rate=None``
echoes the source's rate, channels and length instead (for tests that need the stems to sum
back to the input exactly).

Tolerance of the round trip (stated for tests and users of the emulator): for the lossless
formats, reading every primary stem back and summing gives the input (read back the same way)
to within ``n_stems × 2^-(bits-2)`` per sample (16 bit: n × 6.1e-5, 24 bit: n × 2.4e-7, 32-bit
float: n × 1e-6), provided no stem exceeds full scale (stems are clipped to ±1 for integer
formats). mp3 and m4a are lossy and carry no such bound.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from pathlib import Path

import numpy as np
import soundfile
import soxr

from mvsepd.emulator.dsp import Audio, plan_stems, split_block
from mvsepd.emulator.encoding import OutputFormat, StemWriter


@dataclasses.dataclass(frozen=True)
class StemTarget:
    """Where one stem goes: its label, server file and suggested download name."""

    key: str
    label: str
    path: Path
    download: str


def tolerance(fmt: OutputFormat, stems: int) -> float:
    """The round-trip bound of the module docstring for ``stems`` primary stems."""
    if fmt.subtype == "FLOAT":
        return stems * 1e-6
    bits = fmt.bits or 16
    return stems * 2.0 ** -(bits - 2)


#: Channels of every model's output [INF, see the module docstring].
MODEL_CHANNELS = 2


class ModelInput:
    """The input as a model sees it: read in blocks, resampled and made stereo when asked."""

    def __init__(self, source: soundfile.SoundFile, output_rate: int | None) -> None:
        self._source = source
        self.source_rate = int(source.samplerate)
        self.rate = output_rate or self.source_rate
        self.channels = int(source.channels) if output_rate is None else MODEL_CHANNELS
        self._frames_in = 0
        self._frames_out = 0
        self._stream = (
            soxr.ResampleStream(self.source_rate, self.rate, self.channels, "float64", "HQ")
            if self.rate != self.source_rate
            else None
        )
        self._finished = False

    def read(self, block_frames: int) -> Audio:
        """The next block at the model's rate and channels; an empty block at the end."""
        while not self._finished:
            block: Audio = self._source.read(block_frames, dtype="float64", always_2d=True)
            last = block.shape[0] < block_frames
            self._frames_in += block.shape[0]
            block = self._channels(block)
            if self._stream is not None:
                block = np.asarray(self._stream.resample_chunk(block, last=last))
            if last:
                self._finished = True
                block = self._pad_to_length(block)
            self._frames_out += block.shape[0]
            if block.shape[0] > 0:
                return block
        return np.zeros((0, self.channels))

    def _channels(self, block: Audio) -> Audio:
        if block.shape[1] == self.channels:
            return block
        if block.shape[1] == 1:
            return np.repeat(block, self.channels, axis=1)
        return block[:, : self.channels]

    def _pad_to_length(self, block: Audio) -> Audio:
        """Make the total ceil(N × rate / source rate) frames (soxr gives the rounded length)."""
        wanted = -(-self._frames_in * self.rate // self.source_rate)
        missing = wanted - (self._frames_out + block.shape[0])
        if missing > 0:
            block = np.concatenate([block, np.zeros((missing, self.channels))])
        elif missing < 0:
            block = block[: block.shape[0] + missing]
        return block


def render(
    input_path: Path,
    targets: list[StemTarget],
    fmt: OutputFormat,
    *,
    block_frames: int,
    ffmpeg: str | None,
    gain: float = 1.0,
    output_rate: int | None = None,
) -> list[StemTarget]:
    """Write every target; on failure remove what was written and re-raise.

    ``output_rate`` is the model's rate (MVSEP: 44100); None echoes the source's format.
    """
    plan = plan_stems([target.key for target in targets])
    try:
        with soundfile.SoundFile(str(input_path)) as source, contextlib.ExitStack() as stack:
            model_input = ModelInput(source, output_rate)
            writers = {
                target.key: stack.enter_context(
                    StemWriter(target.path, fmt, model_input.rate, model_input.channels)
                )
                for target in targets
            }
            while True:
                block = model_input.read(block_frames)
                if block.shape[0] == 0:
                    break
                if gain != 1.0:
                    block = block * gain
                stems = split_block(block, model_input.rate, plan)
                for key, writer in writers.items():
                    writer.write(stems[key])
        for writer in writers.values():
            writer.finish(ffmpeg)
    except BaseException:
        for target in targets:
            target.path.unlink(missing_ok=True)
            target.path.with_suffix(".tmp.wav").unlink(missing_ok=True)
        raise
    return targets


def rms(path: Path, block_frames: int) -> float:
    """Root-mean-square level of a file, read in blocks."""
    total = 0.0
    count = 0
    with soundfile.SoundFile(str(path)) as source:
        while True:
            block = source.read(block_frames, dtype="float64", always_2d=True)
            if block.shape[0] == 0:
                break
            total += float(np.sum(block * block))
            count += block.size
    return math.sqrt(total / count) if count else 0.0


def matchering_gain(target: Path, reference: Path, block_frames: int) -> float:
    """Gain that gives ``target`` the loudness (RMS) of ``reference``, capped at 10× [INF]."""
    target_level = rms(target, block_frames)
    if target_level <= 0.0:
        return 1.0
    return min(10.0, rms(reference, block_frames) / target_level)
