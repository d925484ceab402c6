"""A source's tags (title, artist, album, ISRC, BPM, key, ...): read from its container into one
neutral model when the source is probed, and written onto each conformed stem in the stem's own
container, its title made ``<title> - <stem>``.

mutagen reads ID3v2 (mp3, a WAV's ``id3 `` chunk, AIFF), Vorbis comments (FLAC, Ogg) and MP4
atoms (m4a); it has no RIFF INFO, which ``riff`` reads and writes. Stems get:

- WAV: RIFF INFO (what Windows Explorer shows, and what ffmpeg takes when a WAV has both; it
  has no album artist, ISRC, BPM or key) and the whole set as ID3v2.3 in an ``id3 `` chunk
  (MediaInfo, foobar2000, Mp3tag), both before ``data``, in the one copy of the stem that also
  writes its Broadcast WAV chunks;
- FLAC: Vorbis comments; AIFF: an ID3v2.3 chunk. Version 2.3 rather than mutagen's default 2.4:
  older Windows and some players read 2.3 only.

What the stem is not (cover art, ReplayGain, the encoder, lyrics) is not copied. A source's
tags are untrusted text: values are cut to ``MAX_VALUE_CHARS``, at most ``MAX_VALUES`` per key,
and a source whose tags mutagen cannot parse gets stems without tags (never a failed job).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import mutagen
import mutagen.aiff
import mutagen.flac
import mutagen.id3
import mutagen.mp4
import mutagen.ogg

from mvsepd.audio import riff
from mvsepd.errors import AudioError

#: A longer value (liner notes pasted into a comment) is cut to this many characters.
MAX_VALUE_CHARS = 2000
#: Values kept per key (ID3 and Vorbis allow several artists, genres, ...).
MAX_VALUES = 8


@dataclass(frozen=True)
class _Field:
    """One neutral key and its names in each container (the first Vorbis and INFO name is the
    one written; the others are read too)."""

    key: str
    id3: str
    vorbis: tuple[str, ...]
    mp4: str
    info: tuple[bytes, ...] = ()


_FIELDS = (
    _Field("title", "TIT2", ("title",), "\xa9nam", (b"INAM",)),
    _Field("artist", "TPE1", ("artist",), "\xa9ART", (b"IART",)),
    _Field("album", "TALB", ("album",), "\xa9alb", (b"IPRD",)),
    _Field("album_artist", "TPE2", ("albumartist", "album artist"), "aART"),
    _Field("date", "TDRC", ("date", "year"), "\xa9day", (b"ICRD",)),
    _Field("genre", "TCON", ("genre",), "\xa9gen", (b"IGNR",)),
    _Field("track", "TRCK", ("tracknumber",), "trkn", (b"ITRK", b"IPRT")),
    _Field("disc", "TPOS", ("discnumber",), "disk"),
    _Field("isrc", "TSRC", ("isrc",), "----:com.apple.iTunes:ISRC"),
    _Field("bpm", "TBPM", ("bpm",), "tmpo"),
    _Field("key", "TKEY", ("initialkey", "key"), "----:com.apple.iTunes:initialkey"),
    _Field("comment", "COMM", ("comment", "description"), "\xa9cmt", (b"ICMT",)),
    _Field("composer", "TCOM", ("composer",), "\xa9wrt"),
    _Field("lyricist", "TEXT", ("lyricist",), "----:com.apple.iTunes:LYRICIST"),
    _Field("copyright", "TCOP", ("copyright",), "cprt", (b"ICOP",)),
    _Field(
        "publisher", "TPUB", ("organization", "label", "publisher"), "----:com.apple.iTunes:LABEL"
    ),
)
#: Vorbis keys of the totals that ID3 and MP4 keep in the number ("3/12").
_VORBIS_TOTALS = {"track": ("tracktotal", "totaltracks"), "disc": ("disctotal", "totaldiscs")}
#: What stems of each container carry, in words for the manifest.
WRITTEN_AS = {
    "WAV": "RIFF INFO and ID3v2.3",
    "WAVEX": "RIFF INFO and ID3v2.3",
    "FLAC": "Vorbis comments",
    "AIFF": "ID3v2.3",
}


@dataclass(frozen=True)
class Tags:
    """Tags in neutral keys (``title``, ``artist``, ``album``, ``album_artist``, ``date``,
    ``genre``, ``track`` and ``disc`` as "3" or "3/12", ``isrc``, ``bpm``, ``key``, ``comment``,
    ``composer``, ``lyricist``, ``copyright``, ``publisher``): (key, value) pairs in that order,
    a key repeated for several values. ``unreadable`` says why a source's tags were not read."""

    pairs: tuple[tuple[str, str], ...] = ()
    unreadable: str | None = field(default=None)

    @classmethod
    def cleaned(cls, pairs: Iterable[tuple[str, str]]) -> Tags:
        """Tags of untrusted ``pairs``, in neutral order: text stripped, empty and repeated
        values dropped, values cut to ``MAX_VALUE_CHARS``, at most ``MAX_VALUES`` per key."""
        by_key: dict[str, list[str]] = {}
        for key, value in pairs:
            text = value.replace("\0", " ").strip()[:MAX_VALUE_CHARS]
            values = by_key.setdefault(key, [])
            if text and text not in values and len(values) < MAX_VALUES:
                values.append(text)
        return cls(tuple((item.key, text) for item in _FIELDS for text in by_key.get(item.key, [])))

    def __bool__(self) -> bool:
        return bool(self.pairs)

    def present(self) -> list[str]:
        """The keys present, each once."""
        return list(dict.fromkeys(key for key, _ in self.pairs))

    def values(self, key: str) -> list[str]:
        """The values of ``key`` (none when absent)."""
        return [value for each, value in self.pairs if each == key]

    def titled(self, title: str) -> Tags:
        """The same tags with ``title`` as the only title."""
        rest = tuple(pair for pair in self.pairs if pair[0] != "title")
        return replace(self, pairs=Tags.cleaned((("title", title), *rest)).pairs)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready mapping."""
        document: dict[str, Any] = {"pairs": [list(pair) for pair in self.pairs]}
        if self.unreadable is not None:
            document["unreadable"] = self.unreadable
        return document

    @classmethod
    def from_json(cls, data: Any) -> Tags:
        """Undo ``to_json``; raise ValueError when ``data`` is not such a mapping."""
        if not isinstance(data, dict) or not isinstance(data.get("pairs"), list):
            raise ValueError("tags are not a mapping with pairs")
        pairs = []
        for pair in data["pairs"]:
            if not isinstance(pair, list) or len(pair) != 2:
                raise ValueError(f"a tag is not a key and a value: {pair!r}")
            pairs.append((str(pair[0]), str(pair[1])))
        unreadable = data.get("unreadable")
        return cls(tuple(pairs), None if unreadable is None else str(unreadable))


# --- reading --------------------------------------------------------------------------------


def read(path: Path) -> Tags:
    """The tags of the audio file at ``path`` (empty when it has none; ``unreadable`` set when
    its tags cannot be parsed)."""
    try:
        found = _read(path)
    except Exception as error:  # noqa: BLE001 - any parser failure on untrusted tags (mutagen's
        # own, or a bug of it) must cost the stems their tags, never the job
        reason = str(error) or type(error).__name__
        return Tags(unreadable=f"{type(error).__name__}: {reason}"[:200])
    return Tags.cleaned(found)


def _read(path: Path) -> list[tuple[str, str]]:
    parsed = mutagen.File(str(path))
    tags = parsed.tags if parsed is not None else None
    pairs: list[tuple[str, str]] = []
    if isinstance(tags, mutagen.id3.ID3):
        pairs = _from_id3(tags)
    elif tags is not None and isinstance(parsed, (mutagen.flac.FLAC, mutagen.ogg.OggFileType)):
        pairs = _from_vorbis(tags)
    elif tags is not None and isinstance(parsed, mutagen.mp4.MP4):
        pairs = _from_mp4(tags)
    # A WAV's INFO list fills what its ID3 chunk (richer, and Unicode) does not have.
    have = {key for key, _ in pairs}
    by_info = {info: item.key for item in _FIELDS for info in item.info}
    for info_id, text in riff.read_info(path):
        key = by_info.get(info_id)
        if key is not None and key not in have:
            pairs.append((key, text))
    return pairs


def _from_id3(tags: mutagen.id3.ID3) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for item in _FIELDS:
        for frame in tags.getall(item.id3):
            if item.id3 == "COMM" and frame.desc:
                continue  # described comments are other programs' data (iTunNORM, ...)
            texts = frame.genres if item.id3 == "TCON" else frame.text
            pairs.extend((item.key, str(text)) for text in texts)
    return pairs


def _from_vorbis(tags: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    comments: dict[str, list[str]] = {}
    for name, value in tags:
        comments.setdefault(name.lower(), []).append(value)
    pairs = []
    for item in _FIELDS:
        values = next((comments[name] for name in item.vorbis if name in comments), [])
        totals = _VORBIS_TOTALS.get(item.key, ())
        total = next((comments[name][0] for name in totals if name in comments), None)
        for value in values:
            if total and "/" not in value:
                value = f"{value}/{total}"
            pairs.append((item.key, value))
    return pairs


def _from_mp4(tags: Any) -> list[tuple[str, str]]:
    pairs = []
    for item in _FIELDS:
        for value in tags.get(item.mp4, []):
            if isinstance(value, tuple):  # trkn, disk: (number, total)
                number, total = value
                text = f"{number}/{total}" if total else str(number)
            elif isinstance(value, bytes):  # freeform atoms
                text = value.decode("utf-8", "replace")
            else:
                text = str(value)
            pairs.append((item.key, text))
    return pairs


# --- writing --------------------------------------------------------------------------------


def for_stems(
    source: Tags | None,
    labels: Sequence[str],
    *,
    copy: bool,
    container: str,
    source_name: str,
) -> tuple[list[Tags], dict[str, Any]]:
    """What each stem (by label) gets, and the manifest's account of it.

    The title becomes ``<title> - <label>``. A source with tags but no title gives
    ``<file name without extension> - <label>``: the stems of one song in a library grouped by
    artist and album must still say which stem each is. A source without tags gives stems
    without tags.
    """
    nothing = [Tags() for _ in labels]
    why = None
    if not copy:
        why = "tags: none"
    elif source is None:
        why = "the source was read before this version of mvsepd copied tags"
    elif source.unreadable is not None:
        why = f"the source's tags could not be read ({source.unreadable})"
    elif not source:
        why = "the source carries no tags"
    elif container not in WRITTEN_AS:
        why = f"{container} stems carry no tags"
    if why is not None or source is None:
        return nothing, {"copied": [], "why": why}
    titles = source.values("title")
    base = titles[0] if titles else Path(source_name).stem
    stems = [source.titled(f"{base} - {label}") for label in labels]
    account = {
        "copied": ["title", *(key for key in source.present() if key != "title")],
        "title": "the source's title - stem" if titles else "the file name - stem",
        "as": WRITTEN_AS[container],
    }
    return stems, account


def riff_chunks(tags: Tags) -> list[tuple[bytes, bytes]]:
    """The chunks that carry ``tags`` in a WAV: the INFO list and the ``id3 `` chunk."""
    if not tags:
        return []
    chunks = []
    items = [
        (item.info[0], _info_text(item.key, tags.values(item.key)))
        for item in _FIELDS
        if item.info and tags.values(item.key)
    ]
    info = riff.info_chunk(items)
    if info is not None:
        chunks.append((b"LIST", info))
    buffer = io.BytesIO()
    _id3(tags).save(buffer, v1=0, v2_version=3, padding=lambda _: 0)
    chunks.append((b"id3 ", buffer.getvalue()))
    return chunks


def write(path: Path, container: str, tags: Tags, label: str) -> None:
    """Write ``tags`` into the FLAC or AIFF stem at ``path`` (its ``.part`` file, in staging).

    OSError (a full disk) passes as it is; other failures raise AudioError naming the stem,
    whose file can then not be trusted.
    """
    if not tags:
        return
    try:
        if container == "FLAC":
            flac = mutagen.flac.FLAC(str(path))
            if flac.tags is None:
                flac.add_tags()
            for name, values in _vorbis(tags).items():
                flac[name] = values
            flac.save()
        elif container == "AIFF":
            aiff = mutagen.aiff.AIFF(str(path))
            if aiff.tags is None:
                aiff.add_tags()
            for frame in _id3(tags).values():
                aiff[frame.HashKey] = frame
            aiff.save(v2_version=3)
    except mutagen.MutagenError as error:
        if isinstance(error.__context__, OSError):
            raise error.__context__ from None
        raise AudioError(
            f"the tags of the stem {label!r} could not be written ({error}); "
            "set `tags: none` to place stems without them"
        ) from None


def _id3(tags: Tags) -> mutagen.id3.ID3:
    """``tags`` as ID3 frames, made ready for version 2.3 (date in TYER/TDAT)."""
    frames = mutagen.id3.ID3()
    for item in _FIELDS:
        values = tags.values(item.key)
        if item.key == "bpm":  # TBPM is an integer
            values = [_integer(value) for value in values if _integer(value)]
        if not values:
            continue
        if item.id3 == "COMM":
            frames.add(mutagen.id3.COMM(encoding=3, lang="eng", desc="", text=values))
        else:
            frames.add(mutagen.id3.Frames[item.id3](encoding=3, text=values))
    frames.update_to_v23()
    return frames


def _vorbis(tags: Tags) -> dict[str, list[str]]:
    comments: dict[str, list[str]] = {}
    for item in _FIELDS:
        values = tags.values(item.key)
        if not values:
            continue
        name = item.vorbis[0].upper()
        totals = _VORBIS_TOTALS.get(item.key)
        if totals is not None and "/" in values[0]:
            number, total = values[0].split("/", 1)
            comments[name] = [number.strip()]
            if total.strip():
                comments[totals[0].upper()] = [total.strip()]
        else:
            comments[name] = values
    return comments


def _info_text(key: str, values: list[str]) -> str:
    """One INFO text: several values joined by "; " (INFO has one text per item); the track a
    plain number (Windows reads ITRK so; the total has no place there)."""
    if key == "track":
        return values[0].split("/", 1)[0].strip()
    return "; ".join(values)


def _integer(value: str) -> str:
    try:
        return str(round(float(value)))
    except ValueError:
        return ""
