"""One stem on its way to the source's format, block by block: rate, channels, start, length,
sample values.

``Aligned`` wraps a ``Reader``: it resamples with soxr's very-high-quality preset (streamed;
bit-identical to soxr's one-shot resampling, delay-compensated), maps the channels (a mono
target takes the mean of MVSEP's two), drops a measured lag at the start (or pads a negative
one), and yields exactly the source's frame count: MVSEP's ceil(N·44100/rate) followed by
soxr's rounded length can leave a round trip a frame off, and lossy codecs pad their ends.

``quantize`` turns float blocks into what a sample format stores, rounding to the nearest step
without dither (dither would break the null against the source) and clipping integer formats
at full scale, counting what it clipped. It returns the values as a reader will see them, so
the null figure is the placed files' own.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import soxr

from mvsepd.audio.decode import Audio, Reader

_READ_FRAMES = 1 << 16
_ALAC_BITS = {"ALAC_16": 16, "ALAC_20": 20, "ALAC_24": 24, "ALAC_32": 32}
_PCM_BITS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}


def map_channels(block: Audio, channels: int) -> Audio:
    """``block`` with ``channels`` channels: the mean for mono, copies of a mono block, or the
    first ``channels`` of more."""
    have = block.shape[1]
    if have == channels:
        return block
    if channels == 1:
        return np.asarray(block.mean(axis=1, keepdims=True), dtype=np.float64)
    if have == 1:
        return np.repeat(block, channels, axis=1)
    if have > channels:
        return block[:, :channels]
    return np.concatenate([block, np.zeros((block.shape[0], channels - have))], axis=1)


class Aligned:
    """A reader shifted by ``lag`` frames of its own rate (positive: it is late, so they are
    dropped), brought to ``rate`` and ``channels``, and cut or padded to exactly ``frames``."""

    def __init__(self, reader: Reader, *, rate: int, channels: int, lag: int, frames: int) -> None:
        self._reader = reader
        self.channels = channels
        self._stream = (
            soxr.ResampleStream(reader.rate, rate, reader.channels, "float64", "VHQ")
            if reader.rate != rate
            else None
        )
        self._to_skip = max(0, lag)
        self._lead = max(0, -lag)
        self._pending: list[Audio] = [np.zeros((0, channels))]
        self._pending_frames = 0
        self._left = frames
        self._exhausted = False
        #: Frames decoded from the file itself (at its own rate), for the manifest.
        self.decoded = 0

    def read(self, frames: int) -> Audio:
        """The next ``frames`` frames (fewer only when the wanted length is reached)."""
        frames = min(frames, self._left)
        while self._pending_frames < frames and not self._exhausted:
            self._pull()
        if self._pending_frames < frames:
            missing = frames - self._pending_frames
            self._pending.append(np.zeros((missing, self.channels)))
            self._pending_frames += missing
        joined = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        block, rest = joined[:frames], joined[frames:]
        self._pending, self._pending_frames = [rest], rest.shape[0]
        self._left -= frames
        return block

    def _pull(self) -> None:
        raw = self._reader.read(_READ_FRAMES)
        last = raw.shape[0] < _READ_FRAMES
        self.decoded += raw.shape[0]
        if self._to_skip:
            skipped = min(self._to_skip, raw.shape[0])
            raw = raw[skipped:]
            self._to_skip -= skipped
        if self._lead:
            raw = np.concatenate([np.zeros((self._lead, raw.shape[1])), raw])
            self._lead = 0
        if self._stream is not None:
            raw = np.asarray(self._stream.resample_chunk(raw, last=last), dtype=np.float64)
        if last:
            self._exhausted = True
        if raw.shape[0]:
            self._pending.append(map_channels(raw, self.channels))
            self._pending_frames += raw.shape[0]

    def finish(self) -> None:
        """Decode what is left of the file (to count its frames and reach its decoder's end,
        where a cut file shows)."""
        while not self._exhausted:
            self._pull()
            self._pending, self._pending_frames = [np.zeros((0, self.channels))], 0


@dataclass(frozen=True)
class Quantized:
    """A block as written: ``data`` for soundfile, and ``steps / scale`` the values a reader
    gets back (``values``, computed only when asked)."""

    data: npt.NDArray[np.generic]
    steps: Audio
    scale: float
    clipped: int

    @property
    def values(self) -> Audio:
        return self.steps if self.scale == 1.0 else self.steps * (1.0 / self.scale)


def quantize(block: Audio, subtype: str) -> Quantized:
    """Round ``block`` to ``subtype``'s steps (see the module docstring)."""
    bits = _PCM_BITS.get(subtype) or _ALAC_BITS.get(subtype)
    if bits is None:
        if subtype == "DOUBLE":
            return Quantized(block, block, 1.0, 0)
        as_float = block.astype(np.float32)
        return Quantized(as_float, as_float.astype(np.float64), 1.0, 0)
    scale = float(1 << (bits - 1))
    steps = block * scale
    np.rint(steps, out=steps)
    clipped = 0
    if steps.size and (steps.max() > scale - 1 or steps.min() < -scale):
        clipped = int(np.count_nonzero((steps > scale - 1) | (steps < -scale)))
        np.clip(steps, -scale, scale - 1, out=steps)
    # Written as 32-bit integers: libsndfile keeps the top ``bits`` bits, so the stored value
    # is exactly ``steps`` (its own float conversion truncates 16-bit WAV samples instead of
    # rounding them).
    data = steps.astype(np.int32)
    if bits < 32:
        data <<= 32 - bits
    return Quantized(data, steps, scale, clipped)


class Prefetch:
    """Reads an ``Aligned`` stream ahead in a thread of its own, a few blocks at most.

    soxr and libsndfile release the GIL, so each stem's decoding and resampling runs beside
    the writing of the others (and of its own earlier blocks): on two cores a conversion takes
    about half the time. A failure in the thread is raised by the next ``read``.
    """

    _DEPTH = 2

    def __init__(self, stream: Aligned, block: int, blocks: int) -> None:
        self.stream = stream
        self._queue: queue.Queue[Audio | BaseException] = queue.Queue(self._DEPTH)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(block, blocks), name="mvsepd-conform", daemon=True
        )
        self._thread.start()

    def _run(self, block: int, blocks: int) -> None:
        try:
            for _ in range(blocks):
                if not self._put(self.stream.read(block)):
                    return
        except BaseException as error:  # noqa: BLE001 (handed to the reader, who raises it)
            self._put(error)

    def _put(self, item: Audio | BaseException) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read(self) -> Audio:
        """The next block (raises what the thread ran into)."""
        item = self._queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        """Stop the thread and wait for it."""
        self._stop.set()
        self._thread.join()
