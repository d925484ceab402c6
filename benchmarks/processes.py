"""Processes the benchmarks run beside the one they measure: the emulator in a process of its
own (so that its memory and CPU never count), and a large WAV written in blocks.

Nothing heavy is imported here (numpy only inside ``write_noise_wav``): a measured child
process that imports this module keeps its idle memory.
"""

from __future__ import annotations

import os
import re
import secrets
import string
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
WAV_HEADER_BYTES = 44
SAMPLERATE = 44100
CHANNELS = 2
SAMPLE_BYTES = 2
#: Longer than any run: the emulator never starts rendering a benchmark upload.
QUEUE_SECONDS = 7 * 24 * 3600
_WRITE_BLOCK_BYTES = 8 * MIB
_LISTENING = re.compile(r"listening on (http://\S+)")


def write_noise_wav(path: Path, size_bytes: int, *, seed: int = 1) -> None:
    """Write a valid 16-bit stereo WAV of exactly ``size_bytes`` bytes, noise in blocks.

    Only one block (8 MiB) is in memory at a time, so the benchmark's own process stays small
    too. ``size_bytes - 44`` must be a whole number of frames (a multiple of 4).
    """
    import numpy  # only the parent needs it; children must not pay for it in their idle RSS

    data_bytes = size_bytes - WAV_HEADER_BYTES
    frame_bytes = CHANNELS * SAMPLE_BYTES
    if data_bytes <= 0 or data_bytes % frame_bytes:
        raise ValueError(f"size must be 44 + a multiple of {frame_bytes} bytes")
    # RIFF header, a 16-byte PCM "fmt " chunk, then the "data" chunk's header.
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        *(b"RIFF", size_bytes - 8, b"WAVE", b"fmt ", 16, 1, CHANNELS, SAMPLERATE),
        *(SAMPLERATE * frame_bytes, frame_bytes, SAMPLE_BYTES * 8, b"data", data_bytes),
    )
    generator = numpy.random.default_rng(seed)
    with path.open("wb") as output:
        output.write(header)
        remaining = data_bytes
        while remaining:
            count = min(_WRITE_BLOCK_BYTES, remaining) // SAMPLE_BYTES
            # Quiet noise (about -30 dBFS): a believable signal, not full-scale garbage.
            block = generator.integers(-1000, 1000, size=count, dtype=numpy.int16)
            output.write(block.tobytes())
            remaining -= count * SAMPLE_BYTES


@dataclass(frozen=True)
class Emulator:
    url: str
    token: str


@contextmanager
def emulator_process(storage: Path, queue_seconds: float | None = None) -> Iterator[Emulator]:
    """Run ``python -m mvsepd.emulator`` on a free loopback port with one premium account.

    ``queue_seconds`` None keeps jobs queued (nothing is rendered); 0 lets them run at once.

    Its stderr goes to ``emulator.log`` beside its storage, for when an upload fails.
    """
    alphabet = string.ascii_letters + string.digits
    token = "".join(secrets.choice(alphabet) for _ in range(30))
    command = [sys.executable, "-m", "mvsepd.emulator", "--host", "127.0.0.1", "--port", "0"]
    command += ["--account", f"{token}:premium:1000000", "--no-rate-limit"]
    wait = QUEUE_SECONDS if queue_seconds is None else queue_seconds
    command += ["--queue-seconds", str(wait)]
    # The emulator keeps uploads in the system temporary folder: point it at ours.
    environment = {**os.environ, "TMPDIR": str(storage)}
    with (storage.parent / "emulator.log").open("w") as log:
        process = subprocess.Popen(
            command, cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=log, text=True
        )
        try:
            yield Emulator(url=_wait_for_url(process), token=token)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for_url(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the emulator exited (status {process.poll()}) before listening")
        match = _LISTENING.search(line)
        if match:
            return match.group(1)
    raise RuntimeError("the emulator did not say where it listens within 60 s")
