"""Producing a job's result files from its input, block by block.

Memory use is bounded by ``block_frames`` × channels × stems regardless of the input's length:
the input is read with libsndfile in blocks, each block is split (``dsp``) and appended to one
open writer per stem (``encoding``).

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

from mvsepd.emulator.dsp import plan_stems, split_block
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


def render(
    input_path: Path,
    targets: list[StemTarget],
    fmt: OutputFormat,
    *,
    block_frames: int,
    ffmpeg: str | None,
    gain: float = 1.0,
) -> list[StemTarget]:
    """Write every target; on failure remove what was written and re-raise."""
    plan = plan_stems([target.key for target in targets])
    try:
        with soundfile.SoundFile(str(input_path)) as source, contextlib.ExitStack() as stack:
            writers = {
                target.key: stack.enter_context(
                    StemWriter(target.path, fmt, source.samplerate, source.channels)
                )
                for target in targets
            }
            while True:
                block = source.read(block_frames, dtype="float64", always_2d=True)
                if block.shape[0] == 0:
                    break
                if gain != 1.0:
                    block = block * gain
                stems = split_block(block, source.samplerate, plan)
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
