"""What a source file is (rate, channels, exact length, sample format, container, timestamp
chunks, tags) and which format its stems are written in.

``describe`` reads a source once, when its job is probed, so that its stems can be conformed
even if the original is moved or changed before they arrive; ``SourceAudio`` round-trips
through JSON for the job store. Lossy sources (mp3, Ogg, m4a) are decoded to the end to count
their frames: a header's frame count is not to be trusted there (libsndfile #1001, #1086).

``choose_target`` maps a source and a folder's settings to the container and sample format of
its stems: the source's own where libsndfile can write it (WAV→WAV, AIFF→AIFF, FLAC→FLAC,
PCM 16/24/32 or float as they were), WAV 24-bit for lossy or other sources, and the nearest
format that can be written otherwise, with the reason in words.
"""

from __future__ import annotations

import base64
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import soundfile

from mvsepd.audio import decode, riff, tagging
from mvsepd.errors import AudioError

#: Containers stems may be written in, and the extension each gets by default.
WRITABLE_CONTAINERS = {
    "WAV": "wav",
    "WAVEX": "wav",
    "RF64": "wav",
    "W64": "w64",
    "AIFF": "aif",
    "FLAC": "flac",
    "CAF": "caf",
}
#: Sample formats written as they come (integer PCM, float, Apple Lossless).
EXACT_SUBTYPES = frozenset(
    {"PCM_S8", "PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"}
    | {"ALAC_16", "ALAC_20", "ALAC_24", "ALAC_32"}
)
#: Containers whose decoders may disagree with their header about the length.
LOSSY_CONTAINERS = frozenset({"MP3", "OGG", "MP4", "AAC"})
_CHOSEN_SUBTYPES = {"pcm16": "PCM_16", "pcm24": "PCM_24", "float": "FLOAT"}
_CHOSEN_CONTAINERS = {"wav": "WAV", "flac": "FLAC", "aiff": "AIFF"}
_SUBTYPE_WORDS = {
    "PCM_S8": "8-bit PCM",
    "PCM_U8": "8-bit PCM",
    "PCM_16": "16-bit PCM",
    "PCM_24": "24-bit PCM",
    "PCM_32": "32-bit PCM",
    "FLOAT": "32-bit float",
    "DOUBLE": "64-bit float",
}


class Conform(str, enum.Enum):
    """A folder's ``conform`` setting."""

    SOURCE = "source"
    OFF = "off"


@dataclass(frozen=True)
class StemFormat:
    """How a folder wants its stems: the ``conform``, ``container``, ``sample_format``,
    ``channels``, ``residual`` and ``tags`` settings ("source" means: as the source is)."""

    conform: Conform = Conform.SOURCE
    container: str = "source"
    sample_format: str = "source"
    channels: str = "source"
    residual: bool = False
    tags: str = "copy"


@dataclass(frozen=True)
class SourceAudio:
    """A source file's audio as its stems must match it."""

    rate: int
    channels: int
    frames: int
    container: str
    subtype: str | None
    extension: str
    bext: bytes | None = None
    ixml: bytes | None = None
    #: None: not read (a job probed by an older mvsepd).
    tags: tagging.Tags | None = None

    @property
    def duration_seconds(self) -> float:
        """Length in seconds."""
        return self.frames / self.rate

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready mapping (chunks as base64)."""
        return {
            "rate": self.rate,
            "channels": self.channels,
            "frames": self.frames,
            "container": self.container,
            "subtype": self.subtype,
            "extension": self.extension,
            "bext": _b64(self.bext),
            "ixml": _b64(self.ixml),
            "tags": self.tags.to_json() if self.tags is not None else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SourceAudio:
        """Undo ``to_json``; raise AudioError when the mapping is not one."""
        try:
            return cls(
                rate=int(data["rate"]),
                channels=int(data["channels"]),
                frames=int(data["frames"]),
                container=str(data["container"]),
                subtype=None if data.get("subtype") is None else str(data["subtype"]),
                extension=str(data.get("extension") or ""),
                bext=_unb64(data.get("bext")),
                ixml=_unb64(data.get("ixml")),
                tags=None if data.get("tags") is None else tagging.Tags.from_json(data["tags"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise AudioError(f"unreadable source description ({error})") from None


@dataclass(frozen=True)
class TargetFormat:
    """What the stems of one source are written as, and why where it differs from the source."""

    container: str
    subtype: str
    extension: str
    mono: bool
    notes: tuple[str, ...] = field(default=())

    @property
    def integer_bits(self) -> int | None:
        """Bits of an integer PCM format; None for float."""
        return {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}.get(
            self.subtype
        )

    @property
    def carries_bext(self) -> bool:
        """True for the containers whose stems get the source's ``bext``/iXML (RIFF WAV)."""
        return self.container in ("WAV", "WAVEX")

    def describe(self) -> str:
        """In words: "WAV, 24-bit PCM"."""
        return f"{self.container}, {_SUBTYPE_WORDS.get(self.subtype, self.subtype)}"


def describe(path: Path) -> SourceAudio:
    """Read what ``path`` is; raise AudioError when it cannot be decoded."""
    extension = path.suffix.lower().lstrip(".")
    try:
        info = soundfile.info(str(path))
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError):
        info = None
    if info is None:
        rate, channels, frames = decode.count_frames(path)
        return SourceAudio(rate, channels, frames, "MP4", None, extension, tags=tagging.read(path))
    container, subtype = str(info.format), str(info.subtype)
    frames = int(info.frames)
    if container in LOSSY_CONTAINERS:
        frames = decode.count_frames(path)[2]
    bext, ixml = riff.read_metadata(path) if container in ("WAV", "WAVEX") else (None, None)
    return SourceAudio(
        int(info.samplerate),
        int(info.channels),
        frames,
        container,
        subtype,
        extension,
        bext,
        ixml,
        tagging.read(path),
    )


def choose_target(source: SourceAudio, wanted: StemFormat) -> TargetFormat:
    """The stems' format for ``source`` under a folder's settings (see the module docstring)."""
    notes: list[str] = []
    if wanted.container != "source":
        container = _CHOSEN_CONTAINERS[wanted.container]
    elif source.container in WRITABLE_CONTAINERS:
        container = source.container
    else:
        container = "WAV"
        notes.append(f"the source is {_container_words(source)}: stems are written as WAV")
    if wanted.sample_format != "source":
        subtype = _CHOSEN_SUBTYPES[wanted.sample_format]
    elif source.subtype in EXACT_SUBTYPES:
        subtype = str(source.subtype)
    elif source.container in LOSSY_CONTAINERS or source.subtype is None:
        subtype = "PCM_24"
        if container != "WAV" or not notes:
            notes.append("the source is lossy: stems are written as 24-bit PCM")
    else:
        subtype = "PCM_24" if "24" in str(source.subtype) else "PCM_16"
        notes.append(
            f"{source.subtype} cannot be written without loss: stems are written as "
            f"{_SUBTYPE_WORDS[subtype]}"
        )
    subtype = _writable_subtype(container, subtype, notes)
    if container == source.container and source.extension in (
        "wav",
        "wave",
        "aif",
        "aiff",
        "aifc",
        "flac",
        "w64",
        "caf",
    ):
        extension = "wav" if source.extension == "wave" else source.extension
    else:
        extension = WRITABLE_CONTAINERS[container]
    mono = source.channels == 1 and wanted.channels == "source"
    return TargetFormat(container, subtype, extension, mono, tuple(notes))


def _writable_subtype(container: str, subtype: str, notes: list[str]) -> str:
    if soundfile.check_format(container, subtype):
        return subtype
    for candidate in ("PCM_24", "PCM_S8", "PCM_16"):
        if soundfile.check_format(container, candidate) and (
            candidate != "PCM_S8" or subtype in ("PCM_U8", "PCM_S8")
        ):
            notes.append(
                f"{container} cannot hold {_SUBTYPE_WORDS.get(subtype, subtype)}: stems are "
                f"written as {_SUBTYPE_WORDS[candidate]}"
            )
            return candidate
    raise AudioError(f"no sample format of {container} can hold {subtype}")


def _container_words(source: SourceAudio) -> str:
    names = {"MP3": "an mp3", "OGG": "Ogg", "MP4": "m4a/AAC", "AAC": "AAC"}
    return names.get(source.container, source.container)


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _unb64(text: object) -> bytes | None:
    if text is None:
        return None
    return base64.b64decode(str(text))
