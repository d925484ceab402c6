"""Broadcast WAV and RIFF INFO chunks: reading a WAV's ``bext``, ``iXML`` and LIST/INFO, and
writing them into a stem.

python-soundfile has no API for either chunk and no maintained Python writer exists, so this
module reads and writes them itself. ``bext`` follows EBU Tech 3285 (packed little-endian,
CodingHistory from byte 602); its ``TimeReference`` counts samples since midnight *at the
file's own rate*, so it is rescaled whenever the rate changes (ffmpeg copies it verbatim and
places a file minutes off). iXML repeats the timestamp, and readers prefer it ("if there is a
conflict between the Broadcast Wave data and the iXML metadata, the iXML metadata will be used",
Avid), so its timestamp fields are rewritten to match, or the chunk is dropped.

RIFF INFO (a ``LIST`` chunk of type ``INFO``: ``INAM`` title, ``IART`` artist, ...) is the WAV
tag that Windows and most DAWs' browsers read; mutagen has no support for it, so ``read_info``
and ``info_chunk`` are here. Its texts are written as UTF-8 (as ffmpeg writes them and MediaInfo
and ffmpeg read them) and read as UTF-8, else as Windows-1252, the code page older writers used.

``insert_chunks`` copies a finished WAV with the chunks placed after ``fmt `` and before
``data``, the order libsndfile and ffmpeg use (readers have trouble with ``bext`` after the
audio).
"""

from __future__ import annotations

import re
import struct
import unicodedata
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

#: Chunks read at most this large (real bext and iXML chunks are a few KiB).
MAX_METADATA_BYTES = 64 * 1024
_BEXT_LAYOUT = struct.Struct("<256s32s32s10s8sQH64s5h180s")
_RIFF_LIMIT = 0xFFFFFFFF
_INFO = b"INFO"
_COPY_BLOCK = 1024 * 1024
_IXML_TIMESTAMP_FIELDS = (
    ("TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI", "TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO"),
    ("BWF_TIME_REFERENCE_HIGH", "BWF_TIME_REFERENCE_LOW"),
)


@dataclass(frozen=True)
class Chunk:
    """One chunk of a RIFF file: its id, where its data starts, and its size."""

    chunk_id: bytes
    offset: int
    size: int


@dataclass(frozen=True)
class Bext:
    """The fields of a ``bext`` chunk that mvsepd reads or writes."""

    description: str = ""
    originator: str = ""
    originator_reference: str = ""
    origination_date: str = ""
    origination_time: str = ""
    time_reference: int = 0
    version: int = 1
    coding_history: str = ""

    @classmethod
    def parse(cls, data: bytes) -> Bext | None:
        """Read a chunk's bytes; None when it is too short to be a bext chunk."""
        if len(data) < _BEXT_LAYOUT.size:
            return None
        fields = _BEXT_LAYOUT.unpack_from(data)
        return cls(
            description=_text(fields[0]),
            originator=_text(fields[1]),
            originator_reference=_text(fields[2]),
            origination_date=_text(fields[3]),
            origination_time=_text(fields[4]),
            time_reference=int(fields[5]),
            version=int(fields[6]),
            coding_history=_text(data[_BEXT_LAYOUT.size :]),
        )

    def pack(self) -> bytes:
        """The chunk's bytes (version 1: a UMID of zeros, no loudness values)."""
        history = self.coding_history
        if history and not history.endswith("\r\n"):
            history += "\r\n"
        return _BEXT_LAYOUT.pack(
            _ascii(self.description, 256),
            _ascii(self.originator, 32),
            _ascii(self.originator_reference, 32),
            _ascii(self.origination_date, 10),
            _ascii(self.origination_time, 8),
            self.time_reference,
            1,
            b"\0" * 64,
            0,
            0,
            0,
            0,
            0,
            b"\0" * 180,
        ) + _ascii(history)

    def rescaled(self, from_rate: int, to_rate: int) -> Bext:
        """The same timestamp at another sample rate (TimeReference counts samples)."""
        if from_rate == to_rate:
            return self
        return replace(self, time_reference=round(self.time_reference * to_rate / from_rate))


def wav_chunks(path: Path) -> list[Chunk] | None:
    """The chunks of a RIFF/WAVE file, or None when it is not one (RIFX, RF64, other)."""
    with path.open("rb") as handle:
        header = handle.read(12)
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            return None
        size = path.stat().st_size
        chunks: list[Chunk] = []
        offset = 12
        while offset + 8 <= size:
            handle.seek(offset)
            chunk_header = handle.read(8)
            (chunk_size,) = struct.unpack("<I", chunk_header[4:8])
            chunks.append(Chunk(chunk_header[:4], offset + 8, chunk_size))
            offset += 8 + chunk_size + (chunk_size & 1)
        return chunks


def read_metadata(path: Path) -> tuple[bytes | None, bytes | None]:
    """The ``bext`` and ``iXML`` chunks of a WAV (None when absent, oversized or not a WAV)."""
    try:
        chunks = wav_chunks(path)
    except OSError:
        return None, None
    if chunks is None:
        return None, None
    found: dict[bytes, bytes] = {}
    with path.open("rb") as handle:
        for chunk in chunks:
            if chunk.chunk_id in (b"bext", b"iXML") and chunk.size <= MAX_METADATA_BYTES:
                handle.seek(chunk.offset)
                found.setdefault(chunk.chunk_id, handle.read(chunk.size))
    return found.get(b"bext"), found.get(b"iXML")


def read_info(path: Path) -> list[tuple[bytes, str]]:
    """The items of a WAV's RIFF INFO list, in file order: (``b"INAM"``, text), ... (none when
    the file has no INFO list, it is oversized, or the file is not a RIFF/WAVE file)."""
    try:
        chunks = wav_chunks(path)
        if chunks is None:
            return []
        items: list[tuple[bytes, str]] = []
        with path.open("rb") as handle:
            for chunk in chunks:
                if chunk.chunk_id != b"LIST" or not 4 <= chunk.size <= MAX_METADATA_BYTES:
                    continue
                handle.seek(chunk.offset)
                data = handle.read(chunk.size)
                if data[:4] == _INFO:
                    items.extend(_info_items(data[4:]))
        return items
    except OSError:
        return []


def info_chunk(items: list[tuple[bytes, str]]) -> bytes | None:
    """The data of a ``LIST`` chunk of type INFO holding ``items`` (None when there are none):
    each text UTF-8 and NUL-terminated, each item padded to an even size."""
    body = b""
    for item_id, text in items:
        data = text.encode("utf-8").replace(b"\0", b"") + b"\0"
        body += item_id + struct.pack("<I", len(data)) + data + b"\0" * (len(data) & 1)
    return _INFO + body if body else None


def _info_items(data: bytes) -> list[tuple[bytes, str]]:
    items = []
    offset = 0
    while offset + 8 <= len(data):
        item_id = data[offset : offset + 4]
        (size,) = struct.unpack("<I", data[offset + 4 : offset + 8])
        raw = data[offset + 8 : offset + 8 + size].split(b"\0", 1)[0]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", "replace")
        if text.strip():
            items.append((item_id, text.strip()))
        offset += 8 + size + (size & 1)
    return items


def insert_chunks(source: Path, target: Path, extra: list[tuple[bytes, bytes]]) -> bool:
    """Copy the WAV ``source`` to ``target`` with ``extra`` chunks before ``data``; the
    source's ``bext`` and ``iXML`` chunks are dropped, and its INFO list and ``id3 `` chunk
    when ``extra`` has one.

    Returns False (and writes nothing) when the result would not fit a RIFF file's 4 GiB or
    ``source`` is not a plain RIFF/WAVE file.
    """
    chunks = wav_chunks(source)
    if chunks is None:
        return False
    added = sum(8 + len(data) + (len(data) & 1) for _, data in extra)
    total = source.stat().st_size + added
    if total - 8 > _RIFF_LIMIT:
        return False
    replaced = {b"bext", b"iXML"} | {
        chunk_id for chunk_id, data in extra if chunk_id == b"id3 " or data[:4] == _INFO
    }
    with source.open("rb") as reader, target.open("wb") as writer:
        writer.write(b"RIFF" + struct.pack("<I", total - 8) + b"WAVE")
        inserted = False
        for chunk in chunks:
            if chunk.chunk_id in replaced and _replaceable(reader, chunk):
                continue  # replaced by the ones given
            if chunk.chunk_id == b"data" and not inserted:
                for chunk_id, data in extra:
                    writer.write(chunk_id + struct.pack("<I", len(data)) + data)
                    if len(data) & 1:
                        writer.write(b"\0")
                inserted = True
            reader.seek(chunk.offset - 8)
            _copy(reader, writer, 8 + chunk.size + (chunk.size & 1))
    if target.stat().st_size != total:
        # A chunk dropped above was in the source: patch the RIFF size to the real length.
        with target.open("r+b") as writer:
            writer.seek(4)
            writer.write(struct.pack("<I", target.stat().st_size - 8))
    return True


def _replaceable(reader: BinaryIO, chunk: Chunk) -> bool:
    """A ``LIST`` chunk is replaced only when it is an INFO list (not, say, ``adtl`` cues)."""
    if chunk.chunk_id != b"LIST":
        return True
    reader.seek(chunk.offset)
    return reader.read(4) == _INFO


def ixml_with_timestamp(ixml: bytes, *, time_reference: int, rate: int) -> bytes | None:
    """The iXML document with its timestamps set to ``time_reference`` at ``rate``, and a new
    FILE_UID (a stem is another file); None when it cannot be rewritten safely.

    Only plain numeric element contents are rewritten (no XML parser runs on the untrusted
    text); a document whose timestamp fields take another form is dropped.
    """
    try:
        text = ixml.decode("utf-8")
    except UnicodeDecodeError:
        return None
    high, low = divmod(time_reference, 1 << 32)
    for high_name, low_name in _IXML_TIMESTAMP_FIELDS:
        for name, value in ((high_name, high), (low_name, low)):
            text, count = _replace_number(text, name, value)
            if count == 0 and f"<{name}" in text:
                return None
    text, count = _replace_number(text, "TIMESTAMP_SAMPLE_RATE", rate)
    if count == 0 and "<TIMESTAMP_SAMPLE_RATE" in text:
        return None
    text, _ = _replace_number(text, "FILE_SAMPLE_RATE", rate)
    text = re.sub(
        r"(<FILE_UID>)[^<]*(</FILE_UID>)",
        lambda match: match.group(1) + uuid.uuid4().hex.upper() + match.group(2),
        text,
    )
    return text.encode("utf-8")


def _replace_number(text: str, name: str, value: int) -> tuple[str, int]:
    pattern = re.compile(rf"(<{name}>)\s*\d+\s*(</{name}>)")
    return pattern.subn(lambda match: f"{match.group(1)}{value}{match.group(2)}", text)


def _copy(reader: BinaryIO, writer: BinaryIO, length: int) -> None:
    remaining = length
    while remaining > 0:
        block = reader.read(min(_COPY_BLOCK, remaining))
        if not block:
            break
        writer.write(block)
        remaining -= len(block)


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("latin-1").strip()


def _ascii(text: str, size: int | None = None) -> bytes:
    """``text`` as ASCII (EBU 3285: accents folded, the rest dropped), cut to ``size`` bytes."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore")
    return folded if size is None else folded[:size]
