"""Output formats and the writers that produce them (soundfile, and ffmpeg for m4a).

``output_format`` numbers and labels are MVSEP's [DOC]: 0 mp3 (320 kbps), 1 wav 16 bit, 2 flac
16 bit, 3 m4a (lossy), 4 wav 32 bit, 5 flac 24 bit. mp3/wav/flac are written by libsndfile
(mp3 as constant 320 kbps); 32-bit wav is IEEE float [INF]; m4a (AAC 256 kbps [INF]) needs an
``ffmpeg`` program: stems are first written as float wav, then converted.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path
from types import TracebackType

import numpy as np
import soundfile

from mvsepd.emulator.dsp import Audio


@dataclasses.dataclass(frozen=True)
class OutputFormat:
    number: int
    label: str
    extension: str
    container: str | None
    subtype: str | None

    @property
    def lossless(self) -> bool:
        return self.number in (1, 2, 4, 5)

    @property
    def bits(self) -> int | None:
        return {"PCM_16": 16, "PCM_24": 24, "FLOAT": 32}.get(self.subtype or "")


FORMATS = {
    0: OutputFormat(0, "mp3 (320 kbps)", "mp3", "MP3", "MPEG_LAYER_III"),
    1: OutputFormat(1, "wav (uncompressed, 16 bit)", "wav", "WAV", "PCM_16"),
    2: OutputFormat(2, "flac (lossless, 16 bit)", "flac", "FLAC", "PCM_16"),
    3: OutputFormat(3, "m4a (lossy)", "m4a", None, None),
    4: OutputFormat(4, "wav (uncompressed, 32 bit)", "wav", "WAV", "FLOAT"),
    5: OutputFormat(5, "flac (lossless, 24 bit)", "flac", "FLAC", "PCM_24"),
}
M4A = 3
_FFMPEG_INPUT = ("-nostdin", "-loglevel", "error", "-y", "-i")
_M4A_OUTPUT = ("-c:a", "aac", "-b:a", "256k", "-f", "mp4")
MP3_SAMPLERATES = frozenset({8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000})


def find_ffmpeg(binary: str | None) -> str | None:
    """Absolute path of the ffmpeg program, or None when disabled or absent."""
    return shutil.which(binary) if binary else None


class StemWriter:
    """Writes one stem block by block; a context manager."""

    def __init__(self, path: Path, fmt: OutputFormat, samplerate: int, channels: int) -> None:
        self.path = path
        self._fmt = fmt
        self._integer = fmt.subtype in ("PCM_16", "PCM_24") or fmt.container == "MP3"
        if fmt.container == "MP3" and (samplerate not in MP3_SAMPLERATES or channels > 2):
            raise ValueError(f"mp3 cannot hold {channels} channels at {samplerate} Hz")
        if fmt.container is None:
            self._target: Path | None = path
            self._file = soundfile.SoundFile(
                str(path.with_suffix(".tmp.wav")), "w", samplerate, channels, "FLOAT", None, "WAV"
            )
        else:
            self._target = None
            extra: dict[str, object] = {}
            if fmt.container == "MP3":
                extra = {"compression_level": 0.0, "bitrate_mode": "CONSTANT"}
            self._file = soundfile.SoundFile(
                str(path), "w", samplerate, channels, fmt.subtype, None, fmt.container, **extra
            )

    def write(self, block: Audio) -> None:
        # Integer formats would wrap around past full scale; clip like a real renderer would.
        data = np.clip(block, -1.0, 1.0) if self._integer else block
        self._file.write(data)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> StemWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def finish(self, ffmpeg: str | None) -> None:
        """Complete the file (m4a: convert the float wav with ffmpeg)."""
        if self._target is None:
            return
        source = self._target.with_suffix(".tmp.wav")
        if ffmpeg is None:
            source.unlink(missing_ok=True)
            raise RuntimeError("m4a output needs ffmpeg")
        try:
            subprocess.run(
                [ffmpeg, *_FFMPEG_INPUT, str(source), *_M4A_OUTPUT, str(self._target)],
                check=True,
                capture_output=True,
                timeout=3600,
            )
        finally:
            source.unlink(missing_ok=True)
