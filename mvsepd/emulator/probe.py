"""Reading what an input is: duration and format, getID3-style ``tags``, decoding, and inventing
audio for jobs that have no input (generators, URLs the emulator cannot fetch).

The done answer's ``tags`` is getID3's analysis of the input: ``{"audio": {...}, "tags": {...}}``
with ``dataformat``, ``channels``, ``sample_rate``, ``bitrate``, ``channelmode``,
``bitrate_mode``, ``lossless``, ``encoder_options``, ``compression_ratio`` and ``streams``, and
tag values as arrays [REC key set; values computed here, INF].
"""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

_DATAFORMATS = {"WAV": "wav", "WAVEX": "wav", "FLAC": "flac", "MP3": "mp3", "OGG": "vorbis"}
_TAG_KINDS = {"wav": "riff", "flac": "vorbiscomment", "mp3": "id3v2", "vorbis": "vorbiscomment"}
_DECODE_TO_WAV = ("-vn", "-c:a", "pcm_f32le", "-f", "wav")
_MP3_BITRATES = tuple(
    k * 1000 for k in (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
)
_BITS = {"PCM_16": 16, "PCM_24": 24, "PCM_32": 32, "FLOAT": 32, "DOUBLE": 64, "PCM_U8": 8}


@dataclasses.dataclass(frozen=True)
class AudioInfo:
    frames: int
    samplerate: int
    channels: int
    container: str
    subtype: str

    @property
    def duration(self) -> float:
        return self.frames / self.samplerate if self.samplerate else 0.0


def probe(path: Path) -> AudioInfo | None:
    """Header information, or None when libsndfile cannot read the file."""
    try:
        info = soundfile.info(str(path))
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError):
        return None
    if info.samplerate <= 0 or info.channels <= 0:
        return None
    return AudioInfo(
        frames=int(info.frames),
        samplerate=int(info.samplerate),
        channels=int(info.channels),
        container=str(info.format),
        subtype=str(info.subtype),
    )


def decode_with_ffmpeg(ffmpeg: str, source: Path, target: Path) -> bool:
    """Decode anything ffmpeg reads into a float wav; False if it cannot."""
    try:
        subprocess.run(
            [
                ffmpeg,
                "-nostdin",
                "-loglevel",
                "error",
                "-y",
                "-i",
                str(source),
                *_DECODE_TO_WAV,
                str(target),
            ],
            check=True,
            capture_output=True,
            timeout=3600,
        )
    except (OSError, subprocess.SubprocessError):
        target.unlink(missing_ok=True)
        return False
    return probe(target) is not None


def getid3_tags(path: Path, info: AudioInfo, original_name: str) -> dict[str, Any]:
    """A small getID3-like analysis of the input file."""
    dataformat = _DATAFORMATS.get(info.container, info.container.lower())
    size = path.stat().st_size
    lossless = dataformat in ("wav", "flac")
    bits = _BITS.get(info.subtype, 16)
    raw_bitrate = info.samplerate * info.channels * bits
    if dataformat == "wav" or not info.duration:
        bitrate = float(raw_bitrate)
    else:
        bitrate = round(size * 8 / info.duration, 3)
    if dataformat == "mp3":  # the nearest MPEG bitrate, as a frame header would say
        bitrate = float(min(_MP3_BITRATES, key=lambda rate: abs(rate - bitrate)))
    audio: dict[str, Any] = {
        "dataformat": dataformat,
        "channels": info.channels,
        "sample_rate": info.samplerate,
        "bitrate": int(bitrate) if float(bitrate).is_integer() else bitrate,
        "channelmode": _channel_mode(dataformat, info.channels),
        "bitrate_mode": "cbr" if dataformat in ("wav", "mp3") else "vbr",
        "lossless": lossless,
        "encoder_options": f"CBR{int(bitrate) // 1000}" if dataformat == "mp3" else "",
        "compression_ratio": bitrate / (info.samplerate * info.channels * 16)
        if info.samplerate
        else 1,
    }
    audio["streams"] = [dict(audio)]
    metadata: dict[str, list[str]] = {}
    try:
        with soundfile.SoundFile(str(path)) as handle:
            for key, value in handle.copy_metadata().items():
                if str(value):
                    metadata[key] = [str(value)]
    except (soundfile.LibsndfileError, RuntimeError):
        metadata = {}
    if "title" not in metadata:
        metadata["title"] = [Path(original_name).stem or "audio"]
    metadata["length"] = [str(round(info.duration * 1000))]
    return {"audio": audio, "tags": {_TAG_KINDS.get(dataformat, "riff"): metadata}}


def _channel_mode(dataformat: str, channels: int) -> str:
    if channels == 1:
        return "mono"
    if channels == 2:
        return "joint stereo" if dataformat == "mp3" else "stereo"
    return ""


def synthesize(path: Path, seconds: float, seed_text: str, samplerate: int = 44100) -> None:
    """Write ``seconds`` of a stable, seed-dependent stereo chord as a float wav."""
    digest = hashlib.sha256(seed_text.encode("utf-8")).digest()
    root = 110.0 * (2.0 ** (digest[0] / 64.0))
    frames = max(1, round(seconds * samplerate))
    block = 65536
    with soundfile.SoundFile(str(path), "w", samplerate, 2, "FLOAT", None, "WAV") as handle:
        for start in range(0, frames, block):
            t = np.arange(start, min(frames, start + block)) / samplerate
            left = 0.2 * np.sin(2 * np.pi * root * t) + 0.1 * np.sin(2 * np.pi * root * 3 * t)
            right = 0.2 * np.sin(2 * np.pi * root * 1.5 * t) + 0.05 * np.sin(2 * np.pi * 5000 * t)
            handle.write(np.stack([left, right], axis=1))
