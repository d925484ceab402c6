"""Test material for conform tests, and the independent checks of what was placed.

The material is noise band-limited below 18 kHz with 10 ms fades at both ends: aperiodic, so
its cross-correlation has one sharp peak, and inside the pass band of every resampler MVSEP or
mvsepd uses, so the round trip 48 → 44.1 → 48 kHz can null. Sources are written with
soundfile (and ffmpeg for mp3 at rates libsndfile's encoder does not take), Broadcast WAV
chunks by hand. The checks read placed files with soundfile and wavinfo, never with mvsepd.
"""

from __future__ import annotations

import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

BAND_LIMIT_HZ = 18_000.0
TIME_REFERENCE_SECONDS = 3600 + 12.5  # 01:00:12.500 into the session


@dataclass(frozen=True)
class Source:
    """One source file to drop: its name and how it is written."""

    name: str
    rate: int
    channels: int
    subtype: str
    container: str = "WAV"
    bext: bool = False
    ixml: bool = False
    seconds: float = 1.2

    @property
    def extension(self) -> str:
        return {"WAV": "wav", "AIFF": "aif", "FLAC": "flac", "MP3": "mp3"}[self.container]

    @property
    def file_name(self) -> str:
        return f"{self.name}.{self.extension}"

    @property
    def time_reference(self) -> int:
        return round(TIME_REFERENCE_SECONDS * self.rate)


def band_limited(frames: int, rate: int, channels: int, *, seed: int) -> np.ndarray:
    """Noise with nothing above ``BAND_LIMIT_HZ``, faded in and out, peak 0.5."""
    generator = np.random.default_rng(seed)
    noise = generator.standard_normal((frames, channels))
    spectrum = np.fft.rfft(noise, axis=0)
    spectrum[np.fft.rfftfreq(frames, 1 / rate) >= BAND_LIMIT_HZ] = 0
    signal = np.fft.irfft(spectrum, n=frames, axis=0)
    fade = min(frames // 4, rate // 100)
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(fade) / fade)
    signal[:fade] *= ramp[:, None]
    signal[frames - fade :] *= ramp[::-1, None]
    return np.asarray(0.5 * signal / np.max(np.abs(signal)))


def write_source(folder: Path, source: Source, *, seed: int) -> Path:
    """Write ``source`` into ``folder`` atomically (as a DAW's renamed export); return it."""
    frames = int(source.seconds * source.rate) + seed  # lengths that are not round numbers
    data = band_limited(frames, source.rate, source.channels, seed=seed)
    final = folder / source.file_name
    staging = folder.parent / f".{source.file_name}.writing"
    if source.container == "MP3":
        wav = staging.with_suffix(".wav")
        soundfile.write(str(wav), data, source.rate, subtype="FLOAT")
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-i", str(wav), "-c:a", "libmp3lame", "-b:a",
             "320k", "-f", "mp3", str(staging)],
            check=True,
        )  # fmt: skip
        wav.unlink()
    else:
        soundfile.write(
            str(staging), data, source.rate, subtype=source.subtype, format=source.container
        )
        if source.bext or source.ixml:
            _add_chunks(staging, source)
    staging.replace(final)
    return final


def _add_chunks(path: Path, source: Source) -> None:
    """Put a bext (and iXML) chunk before ``data``, as Pro Tools and Nuendo exports have."""
    data = path.read_bytes()
    chunks = b""
    if source.bext:
        fields = struct.pack(
            "<256s32s32s10s8sQH64s5h180s",
            b"Bounce of the lead vocal",
            b"Nuendo",
            b"NUENDO0123456789",
            b"2026-11-30",
            b"21:04:33",
            source.time_reference,
            2,
            b"\0" * 64,
            -2300, 500, -100, -1500, -1800,
            b"\0" * 180,
        )  # fmt: skip
        history = f"A=PCM,F={source.rate},W=24,M=stereo,T=Nuendo\r\n".encode()
        body = fields + history
        chunks += b"bext" + struct.pack("<I", len(body)) + body + b"\0" * (len(body) & 1)
    if source.ixml:
        low, high = source.time_reference & 0xFFFFFFFF, source.time_reference >> 32
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?><BWFXML><IXML_VERSION>1.61</IXML_VERSION>'
            "<PROJECT>Session</PROJECT><FILE_UID>ABCDEF0123456789</FILE_UID>"
            f"<SPEED><FILE_SAMPLE_RATE>{source.rate}</FILE_SAMPLE_RATE>"
            f"<TIMESTAMP_SAMPLE_RATE>{source.rate}</TIMESTAMP_SAMPLE_RATE>"
            f"<TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI>{high}</TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI>"
            f"<TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO>{low}</TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO>"
            "</SPEED><BEXT>"
            f"<BWF_TIME_REFERENCE_LOW>{low}</BWF_TIME_REFERENCE_LOW>"
            f"<BWF_TIME_REFERENCE_HIGH>{high}</BWF_TIME_REFERENCE_HIGH></BEXT></BWFXML>"
        ).encode()
        chunks += b"iXML" + struct.pack("<I", len(xml)) + xml + b"\0" * (len(xml) & 1)
    position = data.index(b"data", 12)
    rebuilt = data[:position] + chunks + data[position:]
    rebuilt = rebuilt[:4] + struct.pack("<I", len(rebuilt) - 8) + rebuilt[8:]
    path.write_bytes(rebuilt)


# --- checks of placed stems ------------------------------------------------------------------


def read(path: Path) -> tuple[np.ndarray, int]:
    data, rate = soundfile.read(str(path), dtype="float64", always_2d=True)
    return data, int(rate)


def total_of(paths: list[Path]) -> np.ndarray:
    """The sum of the stems at ``paths`` (all of one shape)."""
    arrays = [read(path)[0] for path in paths]
    return np.asarray(np.sum(arrays, axis=0))


def lag_of(total: np.ndarray, source: np.ndarray, max_lag: int = 8192) -> int:
    """The lag (samples) at which Σ stems best matches the source (plain cross-correlation)."""
    left, right = total.mean(axis=1), source.mean(axis=1)
    size = 1 << int(np.ceil(np.log2(len(left) + len(right))))
    correlation = np.fft.irfft(np.fft.rfft(left, size) * np.conj(np.fft.rfft(right, size)), size)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    values = np.concatenate([correlation[: max_lag + 1], correlation[-max_lag:]])
    return int(lags[int(np.argmax(values))])


def null_db(total: np.ndarray, source: np.ndarray) -> float:
    """RMS of (source − Σ stems) relative to the source, in dB."""
    error = source - total
    energy = float(np.sum(error * error))
    if energy == 0.0:
        return float("-inf")  # a perfect null: lossless stems of an exact partition
    return float(10 * np.log10(energy / np.sum(source * source)))
