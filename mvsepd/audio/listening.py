"""What a browser needs to show and play placed stems: their peaks, and their audio in short
segments.

``Peaks``: the minimum and maximum of every channel over a few thousand equal spans of the
file, read once in blocks (memory stays flat for any length), with how many samples reach full
scale (clip indication). ``segment``: frames ``[start, start + count)`` as a 16-bit WAV at the
file's own rate, so a page decodes only what it is about to play (a 10-minute 24-bit stem is
~170 MB; six of them decoded whole would not fit a tab) and every stem's segment k starts at the
same sample. Both come from ``Listening``, which caches peaks in the state folder keyed by the
file's SHA-256 and, for a file libsndfile cannot seek in (m4a through ffmpeg), keeps one
decoded 16-bit copy there to cut segments from. Nothing is ever written beside the stems.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from mvsepd.audio import decode
from mvsepd.domain.hashing import file_sha256
from mvsepd.errors import AudioError

#: Spans per channel of a waveform: a few thousand, enough for a wide screen.
PEAK_POINTS = 2000
#: Frames summarised together while reading, before the spans are known (an m4a's length is
#: known only at its end).
_FINE_FRAMES = 256
_BLOCK_FRAMES = 1 << 16
#: A sample at or beyond this magnitude counts as clipped (16-bit full scale and above).
CLIP_LEVEL = 32767 / 32768
#: Decoded copies of files that cannot be cut directly (m4a), most recent first, kept.
KEPT_COPIES = 24
_PEAKS_VERSION = 1


@dataclass(frozen=True)
class Peaks:
    """A file's waveform: per channel, the lowest and highest sample of each span."""

    sample_rate: int
    channels: int
    frames: int
    minimum: tuple[tuple[float, ...], ...]
    maximum: tuple[tuple[float, ...], ...]
    #: Samples at full scale or beyond, over all channels.
    clipped_samples: int
    #: The highest magnitude in the file (1.0 = full scale; above it only in a float file).
    peak: float

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "frames": self.frames,
            "seconds": round(self.seconds, 3),
            "points": len(self.minimum[0]) if self.minimum else 0,
            "minimum": [list(values) for values in self.minimum],
            "maximum": [list(values) for values in self.maximum],
            "clipped_samples": self.clipped_samples,
            "peak": self.peak,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Peaks:
        return cls(
            sample_rate=int(data["sample_rate"]),
            channels=int(data["channels"]),
            frames=int(data["frames"]),
            minimum=tuple(tuple(float(v) for v in values) for values in data["minimum"]),
            maximum=tuple(tuple(float(v) for v in values) for values in data["maximum"]),
            clipped_samples=int(data["clipped_samples"]),
            peak=float(data["peak"]),
        )


def compute_peaks(path: Path, points: int = PEAK_POINTS) -> Peaks:
    """Read ``path`` once and summarise it in ``points`` spans per channel; AudioError when it
    does not decode."""
    lows: list[np.ndarray] = []
    highs: list[np.ndarray] = []
    clipped = 0
    peak = 0.0
    frames = 0
    carry = np.zeros((0, 1))
    with decode.open_reader(path) as reader:
        channels, rate = reader.channels, reader.rate
        carry = np.zeros((0, channels))
        while True:
            block = reader.read(_BLOCK_FRAMES)
            if block.shape[0] == 0:
                break
            frames += block.shape[0]
            magnitude = np.abs(block)
            clipped += int(np.count_nonzero(magnitude >= CLIP_LEVEL))
            peak = max(peak, float(magnitude.max()))
            block = np.concatenate([carry, block]) if carry.shape[0] else block
            whole = block.shape[0] - block.shape[0] % _FINE_FRAMES
            carry = block[whole:]
            if whole:
                shaped = block[:whole].reshape(-1, _FINE_FRAMES, channels)
                lows.append(shaped.min(axis=1))
                highs.append(shaped.max(axis=1))
    if carry.shape[0]:
        lows.append(carry.min(axis=0, keepdims=True))
        highs.append(carry.max(axis=0, keepdims=True))
    if not lows:
        empty = tuple(() for _ in range(channels))
        return Peaks(rate, channels, 0, empty, empty, 0, 0.0)
    low, high = np.concatenate(lows), np.concatenate(highs)
    spans = min(points, low.shape[0])
    edges = np.linspace(0, low.shape[0], spans + 1).astype(int)
    minimum = np.minimum.reduceat(low, edges[:-1], axis=0)
    maximum = np.maximum.reduceat(high, edges[:-1], axis=0)
    return Peaks(
        sample_rate=rate,
        channels=channels,
        frames=frames,
        minimum=tuple(tuple(np.round(minimum[:, c], 4).tolist()) for c in range(channels)),
        maximum=tuple(tuple(np.round(maximum[:, c], 4).tolist()) for c in range(channels)),
        clipped_samples=clipped,
        peak=round(peak, 6),
    )


@dataclass(frozen=True)
class Segment:
    """Frames of a file as a WAV, and where they sit in it."""

    data: bytes
    start: int
    frames: int
    sample_rate: int
    channels: int
    #: Frames in the whole file.
    total_frames: int


def segment(path: Path, start: int, count: int) -> Segment:
    """Frames ``[start, start + count)`` of ``path`` (fewer at its end; none past it) as a
    16-bit PCM WAV at the file's own rate and channels. ``path`` must be a file libsndfile can
    seek in (``Listening.segment`` takes any file). AudioError when it cannot be read."""
    if start < 0 or count <= 0:
        raise AudioError(f"{path.name}: no frames from {start} for {count}")
    try:
        with soundfile.SoundFile(str(path)) as handle:
            total = int(handle.frames)
            rate, channels = int(handle.samplerate), int(handle.channels)
            block = np.zeros((0, channels), dtype=np.float32)
            if start < total:
                handle.seek(start)
                block = handle.read(min(count, total - start), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as error:
        raise AudioError(f"{path.name}: {error}") from None
    # Rounded and clipped here: libsndfile's own float-to-16-bit conversion wraps around.
    samples = np.clip(np.round(block * 32767.0), -32768, 32767).astype(np.int16)
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    return Segment(buffer.getvalue(), start, samples.shape[0], rate, channels, total)


class Listening:
    """Peaks and segments of placed files, cached under ``directory`` (see the module
    docstring). Safe to share between threads: each file's work is done once at a time."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._lock = threading.Lock()
        self._file_locks: dict[str, threading.Lock] = {}
        #: (path, size, mtime) -> SHA-256: a file is hashed once while it stays as it is.
        self._hashes: dict[tuple[str, int, int], str] = {}

    def peaks(self, path: Path, points: int = PEAK_POINTS) -> Peaks:
        """``path``'s peaks, from the cache when its bytes were summarised before."""
        key = self.content_key(path)
        cached = self._directory / f"{key}.peaks-{points}.json"
        with self._file_lock(key):
            try:
                data = json.loads(cached.read_text(encoding="utf-8"))
                if data.get("version") == _PEAKS_VERSION:
                    return Peaks.from_json(data)
            except (OSError, ValueError, KeyError, TypeError):
                pass  # not there yet, or unreadable: summarised again
            result = compute_peaks(path, points)
            self._write(cached, json.dumps({"version": _PEAKS_VERSION, **result.as_json()}))
            return result

    def segment(self, path: Path, start: int, count: int) -> Segment:
        """``segment`` of any file mvsepd reads: cut directly where libsndfile seeks, else
        from a decoded copy made once and kept in the cache."""
        try:
            soundfile.info(str(path))
        except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError):
            return segment(self._decoded_copy(path), start, count)
        return segment(path, start, count)

    def content_key(self, path: Path) -> str:
        """The SHA-256 of ``path``'s bytes (hashed again only when its size or time change);
        AudioError when it cannot be read."""
        try:
            stat = path.stat()
        except OSError as error:
            raise AudioError(f"{path.name}: {error.strerror or error}") from None
        identity = (str(path), stat.st_size, stat.st_mtime_ns)
        with self._lock:
            known = self._hashes.get(identity)
        if known is not None:
            return known
        try:
            digest = file_sha256(path)
        except OSError as error:
            raise AudioError(f"{path.name}: {error.strerror or error}") from None
        with self._lock:
            self._hashes[identity] = digest
        return digest

    def _decoded_copy(self, path: Path) -> Path:
        key = self.content_key(path)
        copy = self._directory / f"{key}.wav"
        with self._file_lock(key):
            if copy.exists():
                os.utime(copy)  # most recently used: kept longest
                return copy
            self._directory.mkdir(parents=True, exist_ok=True)
            temporary = copy.with_name(f".{copy.name}.{threading.get_ident()}.part")
            try:
                with (
                    decode.open_reader(path) as reader,
                    soundfile.SoundFile(
                        str(temporary), "w", reader.rate, reader.channels, "PCM_16", format="WAV"
                    ) as writer,
                ):
                    while (block := reader.read(_BLOCK_FRAMES)).shape[0]:
                        writer.write(np.clip(block, -1.0, 32767 / 32768))
                os.replace(temporary, copy)
            finally:
                temporary.unlink(missing_ok=True)
            self._prune()
            return copy

    def _prune(self) -> None:
        copies: list[tuple[float, Path]] = []
        for copy in self._directory.glob("*.wav"):
            with contextlib.suppress(OSError):  # gone meanwhile
                copies.append((copy.stat().st_mtime, copy))
        for _, stale in sorted(copies, reverse=True)[KEPT_COPIES:]:
            stale.unlink(missing_ok=True)

    def _file_lock(self, key: str) -> threading.Lock:
        with self._lock:
            return self._file_locks.setdefault(key, threading.Lock())

    def _write(self, path: Path, text: str) -> None:
        self._directory.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{threading.get_ident()}.part")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
