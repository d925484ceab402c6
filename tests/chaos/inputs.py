"""The audio files a chaos run drops into the hot folder, planned from its seed.

Every file is a short WAV of noise whose bytes depend on its own seed, so each has content of
its own; a few are byte-identical copies of another file under a second name, which MVSEP must
see only once. MVSEP names a job after the MD5 of the upload (``<time>-<md5[:10]>-<slug>.<ext>``),
which is how the emulator's jobs are matched back to the files here.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
from dataclasses import dataclass
from pathlib import Path

import soundfile

from tests.integration.support import wav_bytes


def chaos_seed() -> int:
    """The run's seed: ``MVSEPD_CHAOS_SEED`` when set (to replay a failure), else a fresh one."""
    text = os.environ.get("MVSEPD_CHAOS_SEED", "").strip()
    return int(text) if text else int.from_bytes(os.urandom(4), "big")


@dataclass(frozen=True)
class InputFile:
    """One file the run writes: its name, its bytes and its length in seconds."""

    name: str
    data: bytes
    seconds: float

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def md5_prefix(self) -> str:
        """The part of MVSEP's separation hash that names the uploaded bytes."""
        return hashlib.md5(self.data, usedforsecurity=False).hexdigest()[:10]

    @property
    def audio_shape(self) -> tuple[int, int, int]:
        """(rate, channels, frames) of the file's audio."""
        with soundfile.SoundFile(io.BytesIO(self.data)) as handle:
            return int(handle.samplerate), int(handle.channels), int(handle.frames)

    @property
    def track(self) -> str:
        return Path(self.name).stem


def plan_inputs(
    generator: random.Random,
    count: int,
    *,
    seconds: tuple[float, float] = (0.2, 0.5),
    copies: bool = True,
) -> list[InputFile]:
    """Return ``count`` distinct files (``seconds`` long) plus about one copy per ten of them.

    Copies come after their original in the list, so they are written later, often while the
    original's job is already running.
    """
    distinct: list[InputFile] = []
    for index in range(count):
        length = round(generator.uniform(*seconds), 2)
        data = wav_bytes(length, seed=generator.randrange(2**31))
        distinct.append(InputFile(f"take {index:04d}.wav", data, length))
    files = list(distinct)
    for copy_number in range(max(1, count // 10) if copies else 0):
        original = generator.choice(distinct[: max(1, len(distinct) // 2)])
        name = f"copy {copy_number:02d} of {original.name}"
        copy = InputFile(name, original.data, original.seconds)
        position = generator.randrange(files.index(original) + 1, len(files) + 1)
        files.insert(position, copy)
    return files


def plan_spares(generator: random.Random, count: int) -> list[InputFile]:
    """Return ``count`` distinct files kept back for rounds that need a job on its way."""
    spares = []
    for index in range(count):
        length = round(generator.uniform(0.2, 0.5), 2)
        data = wav_bytes(length, seed=generator.randrange(2**31))
        spares.append(InputFile(f"spare {index:02d}.wav", data, length))
    return spares


def md5_part(separation_hash: str) -> str:
    """The MD5 part of a separation hash (``20250101120000-0123456789-slug.wav``)."""
    parts = separation_hash.split("-")
    return parts[1] if len(parts) > 2 else ""
