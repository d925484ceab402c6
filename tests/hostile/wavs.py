"""Hostile audio bytes: WAV files whose header lies in exactly the field a row names."""

from __future__ import annotations

import os
import struct
import threading
from pathlib import Path


def riff_wav(
    *,
    channels: int = 2,
    sample_rate: int = 22050,
    bits: int = 16,
    frames: int = 2205,
    data_size: int | None = None,
    riff_size: int | None = None,
    audio: bool = True,
) -> bytes:
    """A PCM WAV whose header says what the arguments say, whatever the audio really is.

    ``data_size``/``riff_size`` override the two length fields; ``audio=False`` leaves the
    samples out (the header alone, for files made sparse afterwards).
    """
    block_align = max(channels, 0) * bits // 8
    # A header that claims no channels still comes with audio bytes: the lie is in the header.
    payload = frames * (block_align or 4)
    samples = b"\x10\x20" * ((payload + 1) // 2) if audio else b""
    byte_rate = (sample_rate * block_align) & 0xFFFFFFFF
    fmt = struct.pack("<HHIIHH", 1, channels, sample_rate, byte_rate, block_align, bits)
    declared_data = len(samples) if audio and data_size is None else (data_size or payload)
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", declared_data)
        + samples
    )
    declared_riff = (
        (len(body) + (0 if audio else declared_data)) if riff_size is None else riff_size
    )
    return b"RIFF" + struct.pack("<I", declared_riff) + body


def write_sparse_wav(path: Path, *, seconds: int, sample_rate: int) -> int:
    """Write an honest mono 8-bit WAV of ``seconds`` as a sparse file; return its size.

    Only the 44-byte header is really written; the file system reads the rest as zeros, so a
    6-hour file costs no disk space and no time to write.
    """
    frames = seconds * sample_rate
    header = riff_wav(channels=1, sample_rate=sample_rate, bits=8, frames=frames, audio=False)
    temporary = path.with_name(f".sparse-{threading.get_ident()}.tmp")
    with temporary.open("wb") as handle:
        handle.write(header)
        handle.truncate(len(header) + frames)
    os.replace(temporary, path)
    return len(header) + frames
