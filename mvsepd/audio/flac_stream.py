"""A source's samples as FLAC bytes made as they are sent (``FlacStream``): an upload that
starts at once and writes nothing to disk.

libsndfile writes a FLAC through a seekable file; at the end it goes back to complete the
STREAMINFO (the MD5 of the samples, the smallest and largest frame, the frame count). A stream
cannot go back, so the sink it writes into hands every byte on once and drops what is written
back over bytes already handed on. The frame count, known from the source, is put into the
STREAMINFO before it goes; the MD5 and frame sizes stay zero, which the FLAC format reads as
"unknown" (a decoder then checks no MD5).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import soundfile

from mvsepd.audio.stream import quantize
from mvsepd.errors import AudioError

_BLOCK_FRAMES = 65_536


class FlacStream:
    """A source's samples as FLAC bytes, encoded block by block as ``chunks`` is consumed
    (see the module docstring); ``subtype`` the FLAC's sample format, ``dtype`` how the source
    is read (integers exactly; float rounded as conform rounds it)."""

    #: Bytes gathered before a chunk is handed on (the socket takes 1 MiB blocks).
    CHUNK_BYTES = 256 * 1024

    def __init__(
        self,
        source: Path,
        subtype: str,
        dtype: str,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.source = source
        self._subtype = subtype
        self._dtype = dtype
        self._progress = progress
        #: Bytes handed on so far.
        self.sent = 0
        #: True once the whole FLAC was handed on.
        self.finished = False

    def chunks(self) -> Iterator[bytes]:
        """The FLAC, a chunk at a time; raises AudioError when the source does not read to
        its end (a body cut short must never look whole: the caller's request fails)."""
        self.sent = 0
        self.finished = False
        sink = _Sink()
        try:
            with soundfile.SoundFile(str(self.source)) as reader:
                total = reader.frames
                sink.total_frames = total
                done = 0
                with soundfile.SoundFile(
                    sink,
                    "w",
                    samplerate=reader.samplerate,
                    channels=reader.channels,
                    format="FLAC",
                    subtype=self._subtype,
                ) as writer:
                    for block in reader.blocks(_BLOCK_FRAMES, dtype=self._dtype, always_2d=True):
                        data = (
                            block
                            if self._dtype != "float64"
                            else quantize(block, self._subtype).data
                        )
                        writer.write(data)
                        done += len(block)
                        if self._progress is not None:
                            self._progress(done, total)
                        if sink.pending_bytes >= self.CHUNK_BYTES:
                            yield self._hand_on(sink)
                if done != total:
                    raise AudioError(f"{self.source.name} ended after {done} of its {total} frames")
        except (soundfile.LibsndfileError, RuntimeError) as error:
            raise AudioError(f"could not encode {self.source.name} as FLAC: {error}") from None
        last = self._hand_on(sink)
        if last:
            yield last
        self.finished = True

    def _hand_on(self, sink: _Sink) -> bytes:
        data = sink.take()
        self.sent += len(data)
        return data


class _Sink:
    """The file libsndfile writes a streamed FLAC into (see ``FlacStream``)."""

    #: Where the frame count sits in a FLAC stream: after "fLaC", the STREAMINFO block's
    #: header (4 bytes) and its first 10 bytes, its bytes 13-17 hold 4 bits of the bit depth
    #: and the 36-bit count.
    _TOTAL_AT = 4 + 4 + 13

    def __init__(self) -> None:
        self._pending = bytearray()
        self._handed_on = 0
        self._position = 0
        self._length = 0
        self.total_frames = 0

    @property
    def pending_bytes(self) -> int:
        return len(self._pending)

    def write(self, data: bytes) -> int:
        start = self._position
        end = start + len(data)
        self._position = end
        self._length = max(self._length, end)
        if end <= self._handed_on:
            return len(data)  # a rewrite of what went out already: it stays as it went
        skip = max(0, self._handed_on - start)
        offset = start + skip - self._handed_on
        chunk = bytes(data[skip:])
        if offset > len(self._pending):
            self._pending.extend(bytes(offset - len(self._pending)))
        self._pending[offset : offset + len(chunk)] = chunk
        return len(data)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            self._position = offset
        elif whence == os.SEEK_CUR:
            self._position += offset
        else:
            self._position = self._length + offset
        return self._position

    def tell(self) -> int:
        return self._position

    def read(self, size: int = -1) -> bytes:
        return b""  # never read back: libsndfile only writes a FLAC

    def take(self) -> bytes:
        """The bytes not handed on yet (the frame count filled in first, when it is 0)."""
        if self._handed_on == 0 and len(self._pending) >= self._TOTAL_AT + 5:
            self._fill_total()
        data = bytes(self._pending)
        self._handed_on += len(data)
        self._pending.clear()
        return data

    def _fill_total(self) -> None:
        at = self._TOTAL_AT
        field = int.from_bytes(self._pending[at : at + 5], "big")
        if field & 0xFFFFFFFFF == 0 and 0 < self.total_frames < 1 << 36:
            field |= self.total_frames
            self._pending[at : at + 5] = field.to_bytes(5, "big")
