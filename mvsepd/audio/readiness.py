"""Is a file complete, what is it, how long does it play.

``check`` answers "may this file be uploaded
yet?" without trusting the writer: WAV and AIFF writers put placeholder sizes in their headers
until they finish, so the RIFF/FORM and data chunk sizes must agree with the file's size; FLAC
and Ogg files must decode at their end. Formats libsndfile cannot read (m4a, aac) are checked
by their signature only.
"""

from __future__ import annotations

import enum
import math
import struct
from dataclasses import dataclass
from pathlib import Path

import soundfile

#: Sizes a writer leaves in a header before it knows the real one.
_PLACEHOLDER_SIZES = frozenset({0, 0xFFFFFFFF, 0x7FFFFFFF})
_MIN_SAMPLE_RATE = 1000
_MAX_SAMPLE_RATE = 768_000
_TAIL_FRAMES = 4096


class Completeness(str, enum.Enum):
    """What ``check`` found."""

    COMPLETE = "complete"
    INCOMPLETE = "incomplete"  # still being written, as far as can be told
    INVALID = "invalid"  # will never be usable audio
    GONE = "gone"


@dataclass(frozen=True)
class AudioInfo:
    """What soundfile reports of a file (duration None when the format cannot be read)."""

    duration_seconds: float | None
    sample_rate: int | None
    channels: int | None
    frames: int | None
    format: str | None


@dataclass(frozen=True)
class AudioCheck:
    """The verdict of ``check`` with its reason in words, and the info when complete."""

    completeness: Completeness
    reason: str = ""
    info: AudioInfo | None = None


def check(path: Path) -> AudioCheck:
    """Given a file in a hot folder, return whether it is complete, still growing, or unusable."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(64)
    except FileNotFoundError:
        return AudioCheck(Completeness.GONE, "the file was removed")
    except PermissionError:
        return AudioCheck(Completeness.INCOMPLETE, "the file cannot be opened yet (locked)")
    except OSError as error:
        return AudioCheck(Completeness.INCOMPLETE, f"cannot be read yet: {error.strerror}")
    if size == 0:
        return AudioCheck(Completeness.INCOMPLETE, "the file is empty")
    suffix = path.suffix.casefold()
    if head.startswith((b"RIFF", b"RIFX")) and head[8:12] == b"WAVE":
        verdict = _check_chunks(path, size, little_endian=head.startswith(b"RIFF"), kind="WAV")
    elif head.startswith(b"FORM") and head[8:12] in (b"AIFF", b"AIFC"):
        verdict = _check_chunks(path, size, little_endian=False, kind="AIFF")
    elif suffix in (".m4a", ".aac", ".mp4"):
        return _check_signature_only(head, suffix)
    else:
        verdict = None
    if verdict is not None:
        return verdict
    return _check_with_soundfile(path, head)


def probe(path: Path) -> AudioInfo:
    """Return what soundfile can tell of ``path``; fields are None when it cannot read it."""
    try:
        info = soundfile.info(str(path))
    except (soundfile.LibsndfileError, RuntimeError, OSError):
        return AudioInfo(None, None, None, None, None)
    frames = int(info.frames)
    duration = frames / info.samplerate if info.samplerate else None
    return AudioInfo(duration, int(info.samplerate), int(info.channels), frames, str(info.format))


def _describe_start(head: bytes) -> str:
    printable = head[:16].decode("latin-1")
    shown = "".join(ch if ch.isprintable() else "." for ch in printable)
    return f"it starts with {shown!r}"


def _check_chunks(path: Path, size: int, *, little_endian: bool, kind: str) -> AudioCheck | None:
    """Check that a RIFF (WAV) or FORM (AIFF) file's sizes agree with its length on disk."""
    order = "<" if little_endian else ">"
    data_chunk = b"data" if kind == "WAV" else b"SSND"
    with path.open("rb") as handle:
        header = handle.read(12)
        (container_size,) = struct.unpack(f"{order}I", header[4:8])
        if container_size in _PLACEHOLDER_SIZES:
            return AudioCheck(Completeness.INCOMPLETE, f"the {kind} header has no length yet")
        if container_size + 8 > size:
            return AudioCheck(
                Completeness.INCOMPLETE,
                f"the {kind} header says {container_size + 8} bytes, the file has {size}",
            )
        offset = 12
        while offset + 8 <= min(size, container_size + 8):
            handle.seek(offset)
            chunk_header = handle.read(8)
            chunk_id = chunk_header[:4]
            (chunk_size,) = struct.unpack(f"{order}I", chunk_header[4:8])
            if chunk_id in (b"fmt ", b"COMM"):
                # Writers put the format in the header at once (only lengths are patched
                # later), and libsndfile refuses an absurd one before its values can be
                # judged: read channels and sample rate here, or such a file would wait
                # as "incomplete" forever instead of being refused with its reason.
                problem = _format_problem(handle.read(min(chunk_size, 18)), kind, order)
                if problem is not None:
                    return problem
            if chunk_id == data_chunk:
                if chunk_size in _PLACEHOLDER_SIZES:
                    return AudioCheck(
                        Completeness.INCOMPLETE, f"the {kind} audio data has no length yet"
                    )
                if offset + 8 + chunk_size > size:
                    return AudioCheck(
                        Completeness.INCOMPLETE,
                        f"the {kind} audio data runs past the end of the file",
                    )
                return None
            # Chunks are padded to an even length.
            offset += 8 + chunk_size + (chunk_size & 1)
    return AudioCheck(Completeness.INVALID, f"the {kind} file has no audio data chunk")


def _format_problem(chunk: bytes, kind: str, order: str) -> AudioCheck | None:
    """Judge the channels and sample rate of a WAV ``fmt `` or AIFF ``COMM`` chunk's body."""
    if kind == "WAV" and len(chunk) >= 8:
        _, channels, sample_rate = struct.unpack(f"{order}HHI", chunk[:8])
        rate = float(sample_rate)
    elif kind == "AIFF" and len(chunk) >= 18:
        (channels,) = struct.unpack(">h", chunk[:2])
        rate = _extended_float(chunk[8:18])
    else:
        return None
    if channels < 1:
        return AudioCheck(Completeness.INVALID, "the file has no audio channels")
    if not _MIN_SAMPLE_RATE <= rate <= _MAX_SAMPLE_RATE:
        shown = f"{rate:.0f}" if rate < 1e15 else f"{rate:.3g}"
        return AudioCheck(Completeness.INVALID, f"implausible sample rate {shown} Hz")
    return None


def _extended_float(data: bytes) -> float:
    """Decode AIFF's 80-bit IEEE 754 extended float (the sample rate of a COMM chunk)."""
    (sign_exponent,) = struct.unpack(">H", data[:2])
    (mantissa,) = struct.unpack(">Q", data[2:10])
    exponent = sign_exponent & 0x7FFF
    if exponent == 0 and mantissa == 0:
        return 0.0
    try:
        value = math.ldexp(mantissa, exponent - 16383 - 63)
    except OverflowError:
        value = math.inf
    return -value if sign_exponent & 0x8000 else value


def _check_signature_only(head: bytes, suffix: str) -> AudioCheck:
    if suffix in (".m4a", ".mp4") and head[4:8] == b"ftyp":
        return AudioCheck(Completeness.COMPLETE, info=AudioInfo(None, None, None, None, "MP4"))
    if suffix == ".aac" and (
        head.startswith(b"ADIF") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xF0 == 0xF0)
    ):
        return AudioCheck(Completeness.COMPLETE, info=AudioInfo(None, None, None, None, "AAC"))
    return AudioCheck(
        Completeness.INVALID, f"not a {suffix[1:]} audio file: {_describe_start(head)}"
    )


def _check_with_soundfile(path: Path, head: bytes) -> AudioCheck:
    try:
        with soundfile.SoundFile(str(path)) as audio:
            sample_rate = int(audio.samplerate)
            channels = int(audio.channels)
            frames = int(audio.frames)
            audio_format = str(audio.format)
            if channels < 1:
                return AudioCheck(Completeness.INVALID, "the file has no audio channels")
            if not _MIN_SAMPLE_RATE <= sample_rate <= _MAX_SAMPLE_RATE:
                return AudioCheck(Completeness.INVALID, f"implausible sample rate {sample_rate} Hz")
            if frames <= 0:
                return AudioCheck(Completeness.INCOMPLETE, "no audio frames yet")
            if audio.seekable() and audio_format in ("FLAC", "OGG"):
                # Encoders write the total length first; a file cut short fails to decode at
                # the end, so read its last frames.
                audio.seek(max(0, frames - _TAIL_FRAMES))
                tail = audio.read(_TAIL_FRAMES, dtype="int16")
                if len(tail) < min(_TAIL_FRAMES, frames):
                    return AudioCheck(
                        Completeness.INCOMPLETE,
                        f"the {audio_format} file ends early",
                    )
    except (soundfile.LibsndfileError, RuntimeError) as error:
        message = str(error)
        if "Format not recognised" in message or "unknown format" in message.lower():
            return AudioCheck(
                Completeness.INVALID,
                f"not an audio file mvsepd can read: {_describe_start(head)}",
            )
        return AudioCheck(Completeness.INCOMPLETE, f"cannot be decoded yet: {message}")
    except OSError as error:
        return AudioCheck(Completeness.INCOMPLETE, f"cannot be read yet: {error.strerror}")
    info = AudioInfo(frames / sample_rate, sample_rate, channels, frames, audio_format)
    return AudioCheck(Completeness.COMPLETE, info=info)
