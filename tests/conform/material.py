"""Test material for conform tests, and the independent checks of what was placed.

The material is noise band-limited below 18 kHz with 10 ms fades at both ends: aperiodic, so
its cross-correlation has one sharp peak, and inside the pass band of every resampler MVSEP or
mvsepd uses, so the round trip 48 → 44.1 → 48 kHz can null. Sources are written with
soundfile (and ffmpeg for mp3 at rates libsndfile's encoder does not take), Broadcast WAV and
RIFF INFO chunks by hand, other tags with mutagen (ID3v2, Vorbis comments, with a cover). The
checks read placed files with soundfile, wavinfo, ffprobe and MediaInfo, never with mvsepd.
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mutagen.aiff
import mutagen.flac
import mutagen.id3
import numpy as np
import soundfile
from PIL import Image

BAND_LIMIT_HZ = 18_000.0
TIME_REFERENCE_SECONDS = 3600 + 12.5  # 01:00:12.500 into the session
#: The tags of a tagged source (a bought track's), in ID3 and Vorbis comments.
TAGS = {
    "title": "Nightcall",
    "artist": "Kavinsky",
    "album": "OutRun",
    "album_artist": "Kavinsky",
    "date": "2013-02-22",
    "genre": "Synthwave",
    "track": "4/13",
    "isrc": "FR6V81200032",
    "bpm": "91",
    "key": "Am",
    "comment": "Señorita, à la française",
    "composer": "Vincent Belorgey",
}
#: What a RIFF INFO list holds of them (INFO has no album artist, ISRC, BPM, key or composer).
INFO_TAGS = {key: TAGS[key] for key in ("title", "artist", "album", "date", "genre", "comment")}
_ID3_FRAMES = {
    "title": "TIT2", "artist": "TPE1", "album": "TALB", "album_artist": "TPE2", "date": "TDRC",
    "genre": "TCON", "track": "TRCK", "isrc": "TSRC", "bpm": "TBPM", "key": "TKEY",
    "composer": "TCOM",
}  # fmt: skip
_VORBIS = {
    "title": "TITLE", "artist": "ARTIST", "album": "ALBUM", "album_artist": "ALBUMARTIST",
    "date": "DATE", "genre": "GENRE", "isrc": "ISRC", "bpm": "BPM", "key": "INITIALKEY",
    "comment": "COMMENT", "composer": "COMPOSER",
}  # fmt: skip
_INFO_IDS = {
    "title": b"INAM", "artist": b"IART", "album": b"IPRD", "date": b"ICRD", "genre": b"IGNR",
    "comment": b"ICMT",
}  # fmt: skip


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
    #: Tagged as a producer's export or a bought track is (RIFF INFO in a WAV; ID3v2 with a
    #: cover in mp3 and AIFF; Vorbis comments with a cover in FLAC).
    tags: bool = False

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
        if source.bext or source.ixml or (source.tags and source.container == "WAV"):
            _add_chunks(staging, source)
    if source.tags and source.container != "WAV":
        _tag(staging, source.container)
    staging.replace(final)
    return final


def cover_png() -> bytes:
    """A small real PNG (a cover that readers show as an attached picture)."""
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 40, 90)).save(buffer, format="PNG")
    return buffer.getvalue()


def _tag(path: Path, container: str) -> None:
    """Tag a FLAC (Vorbis comments and a picture block), an mp3 or an AIFF (ID3v2.4 with a
    described comment such as iTunes writes, and a cover) as taggers do, with mutagen."""
    if container == "FLAC":
        flac = mutagen.flac.FLAC(str(path))
        for key, name in _VORBIS.items():
            flac[name] = [TAGS[key]]
        number, total = TAGS["track"].split("/")
        flac["TRACKNUMBER"], flac["TRACKTOTAL"] = [number], [total]
        picture = mutagen.flac.Picture()
        picture.type, picture.mime, picture.data = 3, "image/png", cover_png()
        flac.add_picture(picture)
        flac.save()
        return
    frames = mutagen.id3.ID3()
    for key, frame_id in _ID3_FRAMES.items():
        frames.add(mutagen.id3.Frames[frame_id](encoding=3, text=[TAGS[key]]))
    frames.add(mutagen.id3.COMM(encoding=3, lang="eng", desc="", text=[TAGS["comment"]]))
    frames.add(mutagen.id3.COMM(encoding=0, lang="eng", desc="iTunNORM", text=["00000A2B"]))
    frames.add(
        mutagen.id3.APIC(encoding=3, mime="image/png", type=3, desc="Cover", data=cover_png())
    )
    if container == "AIFF":
        aiff = mutagen.aiff.AIFF(str(path))
        aiff.add_tags()
        for frame in frames.values():
            aiff[frame.HashKey] = frame
        aiff.save()
    else:
        frames.save(str(path))


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
    if source.tags:
        # RIFF INFO as Windows-era tools write it: Windows-1252 text, NUL-terminated, even.
        info = b"INFO"
        for key, item_id in _INFO_IDS.items():
            text = INFO_TAGS[key].encode("cp1252") + b"\0"
            info += item_id + struct.pack("<I", len(text)) + text + b"\0" * (len(text) & 1)
        chunks += b"LIST" + struct.pack("<I", len(info)) + info
    position = data.index(b"data", 12)
    rebuilt = data[:position] + chunks + data[position:]
    rebuilt = rebuilt[:4] + struct.pack("<I", len(rebuilt) - 8) + rebuilt[8:]
    path.write_bytes(rebuilt)


# --- checks of placed stems ------------------------------------------------------------------


def read(path: Path) -> tuple[np.ndarray, int]:
    data, rate = soundfile.read(str(path), dtype="float64", always_2d=True)
    return data, int(rate)


def ffprobe(path: Path) -> dict[str, Any]:
    """ffprobe's view of a file: its format tags (keys as ffmpeg names them) and streams."""
    answer = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    document: dict[str, Any] = json.loads(answer.stdout)
    return document


def mediainfo_general(path: Path) -> dict[str, Any]:
    """MediaInfo's General track of a file (``extra`` holds what it has no field for)."""
    answer = subprocess.run(
        ["mediainfo", "--Output=JSON", str(path)], check=True, capture_output=True, text=True
    )
    tracks = json.loads(answer.stdout)["media"]["track"]
    general: dict[str, Any] = next(track for track in tracks if track["@type"] == "General")
    return general


def chunk_ids(path: Path) -> list[bytes]:
    """The ids of a RIFF/WAVE file's chunks, in file order."""
    data = path.read_bytes()
    ids, offset = [], 12
    while offset + 8 <= len(data):
        (size,) = struct.unpack("<I", data[offset + 4 : offset + 8])
        ids.append(data[offset : offset + 4])
        offset += 8 + size + (size & 1)
    return ids


def data_chunk(path: Path) -> bytes:
    """The bytes of a RIFF/WAVE file's ``data`` chunk (its samples as stored)."""
    data = path.read_bytes()
    offset = 12
    while offset + 8 <= len(data):
        (size,) = struct.unpack("<I", data[offset + 4 : offset + 8])
        if data[offset : offset + 4] == b"data":
            return data[offset + 8 : offset + 8 + size]
        offset += 8 + size + (size & 1)
    raise AssertionError(f"{path.name} has no data chunk")


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
