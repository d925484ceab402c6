"""What goes on the wire for an upload: the file itself, or the same samples as FLAC.

On a producer's link the uplink is the limit, and integer PCM compresses losslessly to about
half. Integer PCM (WAV, AIFF, W64, CAF, RF64; 8, 16 or 24 bit) is therefore sent as FLAC at the
same bit depth; 32-bit integer and float sources are sent as they are (FLAC holds at most 24
bits), unless the folder asks for float as 24-bit FLAC, which is refused for a file with
samples over full scale (FLAC would clip them). Lossy and already-compressed files are never
re-encoded.

The FLAC is made in one of two ways. Streamed (``streamed=True``): ``FlacStream`` encodes it
block by block as the request body is sent, so the upload starts at once and nothing is
written to disk; its length is known only at the end, and its STREAMINFO carries the frame
count (known from the source) but no MD5 and no frame sizes, which the FLAC format allows for
a stream ("0 means unknown"). Or into a temporary file beside the cache first, when the
length must be known before sending (a server that refuses bodies without one, a file whose
size decides whether the account takes it); the caller removes it. Either way memory stays
flat.
"""

from __future__ import annotations

import contextlib
import enum
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

from mvsepd.audio.flac_stream import FlacStream
from mvsepd.audio.stream import quantize
from mvsepd.errors import AudioError

_BLOCK_FRAMES = 65_536
#: Containers whose integer PCM is worth compressing; FLAC, Ogg, mp3 and m4a are not touched.
_PCM_CONTAINERS = frozenset({"WAV", "WAVEX", "AIFF", "W64", "CAF", "RF64"})
#: Source subtype → the FLAC subtype holding the same samples, and how to read them exactly.
_LOSSLESS = {
    "PCM_S8": ("PCM_S8", "int32"),
    "PCM_U8": ("PCM_S8", "int32"),
    "PCM_16": ("PCM_16", "int16"),
    "PCM_24": ("PCM_24", "int32"),
}
_FLOAT_SUBTYPES = frozenset({"FLOAT", "DOUBLE"})
_FLAC_MAX_CHANNELS = 8
_FLAC_MAX_RATE = 655_350
#: Suffix of an encoding in progress: swept at start-up, never uploaded.
PARTIAL_SUFFIX = ".flac.partial"


class UploadEncoding(str, enum.Enum):
    """How the bytes sent relate to the source."""

    ORIGINAL = "original"
    FLAC = "flac"


@dataclass(frozen=True)
class UploadPlan:
    """What to send for a source: which file, under which name, how many bytes.

    ``note`` says in words why the original is sent although FLAC was wanted (None when the
    choice was plain), ``temporary`` whether ``path`` is ours to remove after the upload.
    """

    path: Path
    name: str
    encoding: UploadEncoding
    #: Bytes sent; None while a streamed FLAC is not sent yet (``stream.sent`` says after).
    size: int | None
    source_size: int
    detail: str
    note: str | None = None
    temporary: bool = False
    #: The FLAC made as it is sent (None: ``path``'s bytes are sent).
    stream: FlacStream | None = None

    def as_record(self) -> dict[str, object]:
        """The plan as the job store and the manifest keep it."""
        sent = self.size
        if sent is None and self.stream is not None and self.stream.finished:
            sent = self.stream.sent
        return {
            "encoding": self.encoding.value,
            "name": self.name,
            "bytes": sent,
            "source_bytes": self.source_size,
            "detail": self.detail,
            "note": self.note,
            "streamed": self.stream is not None,
        }


def plan_upload(
    source: Path,
    *,
    encoding: str,
    float_as: str,
    work_dir: Path,
    stem: str,
    progress: Callable[[int, int], None] | None = None,
    streamed: bool = False,
) -> UploadPlan:
    """Given a source file and a folder's ``upload_encoding`` (flac or original) and
    ``upload_float_as`` (original or flac24), return what to send.

    ``streamed``: a FLAC is made as it is sent (``UploadPlan.stream``); else it is written to
    ``work_dir/<stem>.flac`` (through a ``.partial`` name, so a killed encoding never looks
    finished). ``progress`` gets ``(frames_done, frames_total)``. A file libsndfile cannot
    open is sent as it is: MVSEP judges it. OSError and AudioError (libsndfile could not read
    the source or write the FLAC) propagate: the caller decides whether to send the original
    instead.
    """
    source_size = source.stat().st_size
    original = UploadPlan(
        source, source.name, UploadEncoding.ORIGINAL, source_size, source_size, ""
    )
    if encoding != UploadEncoding.FLAC.value:
        return _as_is(original, "the folder sends originals (upload_encoding: original)")
    try:
        info = soundfile.info(str(source))
    except (RuntimeError, soundfile.LibsndfileError):
        return _as_is(original, "not a format libsndfile reads; sent as it is")
    if info.format not in _PCM_CONTAINERS:
        return _as_is(original, f"{info.format_info or info.format} is sent as it is")
    if info.channels > _FLAC_MAX_CHANNELS or info.samplerate > _FLAC_MAX_RATE:
        return _as_is(
            original,
            f"FLAC holds at most {_FLAC_MAX_CHANNELS} channels at {_FLAC_MAX_RATE} Hz",
            note=True,
        )
    flac_name = f"{source.stem}.flac"
    lossless = _LOSSLESS.get(info.subtype)
    if lossless is not None:
        target, dtype = lossless
        detail = f"FLAC {_bits(target)}-bit, lossless"
        if streamed:
            flac = FlacStream(source, target, dtype, progress)
            return _streamed(original, flac, flac_name, detail)
        written = _encode(source, work_dir / f"{stem}.flac", target, dtype, progress)
        return _smaller(original, written, flac_name, detail)
    if info.subtype in _FLOAT_SUBTYPES and float_as == "flac24":
        peak = _peak(source)
        if peak > 1.0:
            return _as_is(
                original,
                f"{source.name} has samples over full scale (peak {_dbfs(peak):+.1f} dBFS), "
                "which 24-bit FLAC would clip; the float original is sent",
                note=True,
            )
        detail = "FLAC 24-bit from float (no overs)"
        if streamed:
            return _streamed(
                original, FlacStream(source, "PCM_24", "float64", progress), flac_name, detail
            )
        written = _encode(source, work_dir / f"{stem}.flac", "PCM_24", "float64", progress)
        return _smaller(original, written, flac_name, detail)
    return _as_is(
        original,
        f"{info.subtype_info or info.subtype} is sent as it is (FLAC holds at most 24 bits; "
        "upload_float_as: flac24 sends float as 24-bit FLAC)",
    )


def _as_is(original: UploadPlan, detail: str, *, note: bool = False) -> UploadPlan:
    return UploadPlan(
        original.path,
        original.name,
        UploadEncoding.ORIGINAL,
        original.size,
        original.source_size,
        detail,
        note=detail if note else None,
    )


def _smaller(original: UploadPlan, written: Path, name: str, detail: str) -> UploadPlan:
    size = written.stat().st_size
    if size >= original.source_size:
        # White noise, say: FLAC cannot help, and the original costs no decoding at MVSEP.
        written.unlink(missing_ok=True)
        return _as_is(original, "FLAC would not be smaller; sent as it is")
    ratio = size / original.source_size
    return UploadPlan(
        written,
        name,
        UploadEncoding.FLAC,
        size,
        original.source_size,
        f"{detail}, {ratio:.0%} of the original",
        temporary=True,
    )


def _streamed(original: UploadPlan, flac: FlacStream, name: str, detail: str) -> UploadPlan:
    return UploadPlan(
        original.path,
        name,
        UploadEncoding.FLAC,
        None,
        original.source_size,
        detail,
        stream=flac,
    )


def _encode(
    source: Path,
    destination: Path,
    subtype: str,
    dtype: str,
    progress: Callable[[int, int], None] | None,
) -> Path:
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name.removesuffix(".flac") + PARTIAL_SUFFIX)
    try:
        with soundfile.SoundFile(str(source)) as reader:
            total = reader.frames
            done = 0
            with soundfile.SoundFile(
                str(partial),
                "w",
                samplerate=reader.samplerate,
                channels=reader.channels,
                format="FLAC",
                subtype=subtype,
            ) as writer:
                for block in reader.blocks(_BLOCK_FRAMES, dtype=dtype, always_2d=True):
                    # Integer reads are exact and written back exactly (libsndfile keeps the
                    # top bits); float is rounded explicitly, as conform does.
                    writer.write(quantize(block, subtype).data if dtype == "float64" else block)
                    done += len(block)
                    if progress is not None:
                        progress(done, total)
        os.replace(partial, destination)
    except BaseException as error:
        with contextlib.suppress(OSError):
            partial.unlink()
        if isinstance(error, soundfile.LibsndfileError | RuntimeError) and not isinstance(
            error, OSError
        ):
            # libsndfile's own words for a failed read or write (a full disk among them).
            raise AudioError(f"could not encode {source.name} as FLAC: {error}") from None
        raise
    return destination


def _peak(source: Path) -> float:
    peak = 0.0
    try:
        with soundfile.SoundFile(str(source)) as reader:
            for block in reader.blocks(_BLOCK_FRAMES, dtype="float64", always_2d=True):
                if block.size:
                    peak = max(peak, float(np.max(np.abs(block))))
    except (soundfile.LibsndfileError, RuntimeError) as error:
        raise AudioError(f"could not read {source.name} to the end: {error}") from None
    return peak


def _bits(subtype: str) -> int:
    return {"PCM_S8": 8, "PCM_16": 16, "PCM_24": 24}[subtype]


def _dbfs(peak: float) -> float:
    return 20 * math.log10(peak) if peak > 0 else -math.inf
