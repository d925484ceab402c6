"""Tags: a source's read into neutral keys from every container, what each stem gets, and the
stems' tags read back by independent readers (ffprobe, MediaInfo); through ``conform`` too,
where tagging must leave the samples and the Broadcast WAV chunks as they were."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import mutagen.flac
import mutagen.id3
import mutagen.mp4
import mutagen.oggvorbis
import numpy as np
import pytest
import soundfile
import wavinfo

from mvsepd.audio import StemFile, StemFormat, conform, describe, riff
from mvsepd.audio.tagging import MAX_VALUE_CHARS, MAX_VALUES, Tags, for_stems, read, riff_chunks
from mvsepd.audio.tagging import write as write_tags
from tests.audio.test_conform import _as_mvsep, _stems
from tests.conform.material import (
    INFO_TAGS,
    TAGS,
    Source,
    chunk_ids,
    cover_png,
    data_chunk,
    ffprobe,
    mediainfo_general,
    write_source,
)

NEEDS_READERS = pytest.mark.skipif(
    shutil.which("ffprobe") is None or shutil.which("mediainfo") is None,
    reason="the independent readers (ffprobe from ffmpeg, MediaInfo) are not installed",
)
STEM = Tags(tuple(TAGS.items())).titled("Nightcall - Vocals")


def _source(tmp_path: Path, container: str, *, tags: bool = True) -> Path:
    subtype = {"WAV": "PCM_24", "AIFF": "PCM_24", "FLAC": "PCM_16", "MP3": ""}[container]
    folder = tmp_path / container
    folder.mkdir()
    return write_source(
        folder, Source("Nightcall", 48000, 2, subtype, container, tags=tags), seed=2
    )


# --- reading ----------------------------------------------------------------------------------


@pytest.mark.parametrize("container", ["MP3", "AIFF", "FLAC"])
def test_id3_and_vorbis_comments_read_into_neutral_keys_without_cover_or_program_data(
    tmp_path: Path, container: str
) -> None:
    tags = read(_source(tmp_path, container))
    assert tags.unreadable is None
    assert dict(tags.pairs) == TAGS  # one value each; the iTunNORM comment and the cover left out
    assert len(tags.pairs) == len(TAGS)


def test_riff_info_in_windows_1252_is_read(tmp_path: Path) -> None:
    tags = read(_source(tmp_path, "WAV"))
    assert dict(tags.pairs) == INFO_TAGS  # "Señorita, à la française" decoded


def test_the_id3_chunk_of_a_wav_wins_over_its_info_list_which_fills_the_rest(
    tmp_path: Path,
) -> None:
    path = _source(tmp_path, "WAV")  # INFO: title, artist, album, date, genre, comment
    frames = mutagen.id3.ID3()
    frames.add(mutagen.id3.TIT2(encoding=3, text=["Nightcall (Radio Edit)"]))
    frames.add(mutagen.id3.TBPM(encoding=3, text=["91"]))
    wave = mutagen.File(str(path))
    wave.add_tags()
    wave.tags.update(frames)
    wave.save()
    tags = read(path)
    assert tags.values("title") == ["Nightcall (Radio Edit)"]
    assert tags.values("bpm") == ["91"]
    assert tags.values("artist") == ["Kavinsky"]


def test_a_file_without_tags_has_none(tmp_path: Path) -> None:
    for container in ("WAV", "FLAC", "AIFF", "MP3"):
        tags = read(_source(tmp_path, container, tags=False))
        assert tags == Tags(), container


def test_tags_that_cannot_be_parsed_are_said_not_raised(tmp_path: Path) -> None:
    path = _source(tmp_path, "FLAC")
    data = bytearray(path.read_bytes())
    # The Vorbis comment block claims 2**31 - 1 comments after its vendor string.
    comments = mutagen.flac.FLAC(str(path)).tags
    assert isinstance(comments, mutagen.flac.VCFLACDict)
    vendor = comments.vendor.encode()
    count = data.index(vendor) + len(vendor)
    data[count : count + 4] = (0x7FFFFFFF).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    tags = read(path)
    assert not tags and tags.unreadable
    stems, account = for_stems(tags, ["Vocals"], copy=True, container="FLAC", source_name="x")
    assert stems == [Tags()]
    assert account["copied"] == [] and "could not be read" in account["why"]


def test_untrusted_values_are_cleaned_and_bounded() -> None:
    pairs = [("artist", f"Artist {index}") for index in range(MAX_VALUES + 3)]
    pairs += [("comment", "x" * (MAX_VALUE_CHARS + 50)), ("genre", "  "), ("title", " A\0B ")]
    pairs += [("artist", "Artist 0"), ("cover", "bytes of a picture")]
    tags = Tags.cleaned(pairs)
    assert tags.values("artist") == [f"Artist {index}" for index in range(MAX_VALUES)]
    assert tags.values("comment") == ["x" * MAX_VALUE_CHARS]
    assert tags.present() == ["title", "artist", "comment"]  # neutral order; no empty genre
    assert tags.values("title") == ["A B"]
    assert Tags.from_json(tags.to_json()) == tags
    with pytest.raises(ValueError, match="not a key and a value"):
        Tags.from_json({"pairs": [["title"]]})


# --- what each stem gets ----------------------------------------------------------------------


def test_each_stem_is_titled_title_dash_stem_and_the_rest_copied() -> None:
    source = Tags(tuple(TAGS.items()))
    stems, account = for_stems(
        source, ["Vocals", "Other"], copy=True, container="WAV", source_name="x.mp3"
    )
    assert [stem.values("title") for stem in stems] == [
        ["Nightcall - Vocals"],
        ["Nightcall - Other"],
    ]
    assert all(dict(stem.pairs) | {"title": "Nightcall"} == TAGS for stem in stems)
    assert account == {
        "copied": list(TAGS),
        "title": "the source's title - stem",
        "as": "RIFF INFO and ID3v2.3",
    }


def test_a_tagged_source_without_a_title_gives_its_file_name() -> None:
    source = Tags((("artist", "Kavinsky"),))
    stems, account = for_stems(
        source, ["Vocals"], copy=True, container="FLAC", source_name="Take 3.flac"
    )
    assert stems[0].pairs == (("title", "Take 3 - Vocals"), ("artist", "Kavinsky"))
    assert account["title"] == "the file name - stem"


@pytest.mark.parametrize(
    ("source", "copy", "container", "why"),
    [
        (Tags(), True, "WAV", "the source carries no tags"),
        (Tags((("artist", "A"),)), False, "WAV", "tags: none"),
        (Tags((("artist", "A"),)), True, "W64", "W64 stems carry no tags"),
        (None, True, "WAV", "the source was read before this version of mvsepd copied tags"),
    ],
)
def test_stems_get_no_tags_and_the_report_says_why(
    source: Tags | None, copy: bool, container: str, why: str
) -> None:
    stems, account = for_stems(
        source, ["Vocals", "Other"], copy=copy, container=container, source_name="a.wav"
    )
    assert stems == [Tags(), Tags()]
    assert account == {"copied": [], "why": why}
    assert all(riff_chunks(stem) == [] for stem in stems)


# --- written, read back by ffprobe and MediaInfo ---------------------------------------------


@NEEDS_READERS
def test_a_wav_stem_carries_riff_info_and_id3(tmp_path: Path) -> None:
    plain = tmp_path / "plain.wav"
    soundfile.write(str(plain), np.zeros((4800, 2)), 48000, subtype="PCM_24")
    tagged = tmp_path / "tagged.wav"
    assert riff.insert_chunks(plain, tagged, riff_chunks(STEM))
    ids = chunk_ids(tagged)
    assert ids.index(b"LIST") < ids.index(b"data") and ids.index(b"id3 ") < ids.index(b"data")
    # ffmpeg takes a WAV's INFO list (and its ID3 chunk only when it has no INFO).
    format_tags = ffprobe(tagged)["format"]["tags"]
    assert format_tags == {
        "title": "Nightcall - Vocals",
        "artist": "Kavinsky",
        "album": "OutRun",
        "date": "2013-02-22",
        "genre": "Synthwave",
        "track": "4",
        "comment": "Señorita, à la française",
    }
    # MediaInfo reads both: what INFO has no place for comes from the ID3 chunk.
    general = mediainfo_general(tagged)
    assert general["Title"] == "Nightcall - Vocals"
    assert (general["Track_Position"], general["Track_Position_Total"]) == ("4", "13")
    assert (general["ISRC"], general["BPM"]) == ("FR6V81200032", "91")
    assert general["extra"]["Initial_key"] == "Am"
    assert general["Composer"] == "Vincent Belorgey"
    assert general["Comment"] == "Señorita, à la française"
    assert np.array_equal(soundfile.read(str(tagged))[0], soundfile.read(str(plain))[0])


@NEEDS_READERS
def test_a_flac_stem_carries_vorbis_comments(tmp_path: Path) -> None:
    path = tmp_path / "stem.flac"
    soundfile.write(str(path), np.zeros((4800, 2)), 48000, subtype="PCM_24", format="FLAC")
    write_tags(path, "FLAC", STEM, "Vocals")
    format_tags = {key.upper(): value for key, value in ffprobe(path)["format"]["tags"].items()}
    assert format_tags["TITLE"] == "Nightcall - Vocals"
    assert (format_tags["TRACK"], format_tags["TRACKTOTAL"]) == ("4", "13")
    assert (format_tags["ISRC"], format_tags["BPM"]) == ("FR6V81200032", "91")
    assert (format_tags["INITIALKEY"], format_tags["ALBUM_ARTIST"]) == ("Am", "Kavinsky")
    assert format_tags["COMMENT"] == "Señorita, à la française"
    assert mediainfo_general(path)["Title"] == "Nightcall - Vocals"


@NEEDS_READERS
def test_an_aiff_stem_carries_an_id3_chunk(tmp_path: Path) -> None:
    path = tmp_path / "stem.aif"
    soundfile.write(str(path), np.zeros((4800, 2)), 48000, subtype="PCM_24", format="AIFF")
    write_tags(path, "AIFF", STEM, "Vocals")
    format_tags = ffprobe(path)["format"]["tags"]
    assert (format_tags["title"], format_tags["artist"]) == ("Nightcall - Vocals", "Kavinsky")
    assert (format_tags["TSRC"], format_tags["TBPM"], format_tags["TKEY"]) == (
        "FR6V81200032",
        "91",
        "Am",
    )
    assert format_tags["date"] == "2013-02-22"
    general = mediainfo_general(path)
    assert (general["Title"], general["ISRC"]) == ("Nightcall - Vocals", "FR6V81200032")
    assert soundfile.info(str(path)).frames == 4800


# --- through conform --------------------------------------------------------------------------


def _conform_twice(
    tmp_path: Path, source: Path
) -> tuple[list[StemFile], list[StemFile], dict[str, Any]]:
    """Conform the same MVSEP stems with ``tags: copy`` and ``tags: none``; return the stems of
    each and the first one's report."""
    heard = _as_mvsep(source)
    runs = []
    for choice in ("copy", "none"):
        folder = tmp_path / choice
        folder.mkdir()
        stems = _stems(folder, {"Vocals": heard * 0.6, "Other": heard * 0.4})
        report = conform(
            describe(source), source, stems, StemFormat(tags=choice),
            source_name=source.name, origin="preset vocals",
        )  # fmt: skip
        runs.append((stems, report.to_json()))
    (copied, document), (untagged, untagged_document) = runs
    assert untagged_document["tags"] == {"copied": [], "why": "tags: none"}
    return copied, untagged, document


@NEEDS_READERS
def test_conformed_wav_stems_keep_bext_ixml_and_samples_and_gain_tags(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    source = write_source(
        folder, Source("Nightcall", 48000, 2, "PCM_24", bext=True, ixml=True, tags=True), seed=4
    )
    copied, untagged, report = _conform_twice(tmp_path, source)
    assert report["tags"]["copied"] == list(INFO_TAGS)
    for tagged, plain in zip(copied, untagged, strict=True):
        assert tagged.output is not None and plain.output is not None
        assert data_chunk(tagged.output) == data_chunk(plain.output)  # samples untouched
        assert b"LIST" in chunk_ids(tagged.output) and b"LIST" not in chunk_ids(plain.output)
        info = wavinfo.WavInfoReader(str(tagged.output))
        assert info.bext.time_reference == Source("", 48000, 2, "").time_reference
        assert info.ixml is not None
        assert ffprobe(tagged.output)["format"]["tags"]["title"] == f"Nightcall - {tagged.label}"
        data, rate = soundfile.read(str(tagged.output))
        assert rate == 48000 and len(data) == describe(source).frames


@NEEDS_READERS
@pytest.mark.parametrize("container", ["FLAC", "AIFF"])
def test_conformed_flac_and_aiff_stems_gain_tags_and_keep_their_samples(
    tmp_path: Path, container: str
) -> None:
    source = _source(tmp_path, container)
    copied, untagged, report = _conform_twice(tmp_path, source)
    assert report["tags"]["copied"] == list(TAGS)
    for tagged, plain in zip(copied, untagged, strict=True):
        assert tagged.output is not None and plain.output is not None
        tags = {
            key.lower(): value for key, value in ffprobe(tagged.output)["format"]["tags"].items()
        }
        assert tags["title"] == f"Nightcall - {tagged.label}"
        assert "title" not in {
            key.lower() for key in ffprobe(plain.output)["format"].get("tags", {})
        }
        assert np.array_equal(
            soundfile.read(str(tagged.output))[0], soundfile.read(str(plain.output))[0]
        )


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="m4a files are made with ffmpeg")
def test_ogg_vorbis_comments_and_m4a_atoms_are_read(tmp_path: Path) -> None:
    ogg = tmp_path / "song.ogg"
    soundfile.write(str(ogg), np.zeros((4800, 2)), 48000, format="OGG", subtype="VORBIS")
    vorbis = mutagen.oggvorbis.OggVorbis(str(ogg))
    vorbis.update({"TITLE": "Nightcall", "ARTIST": "Kavinsky", "INITIALKEY": "Am"})
    vorbis["TRACKNUMBER"], vorbis["TOTALTRACKS"] = "4", "13"
    vorbis.save()
    assert read(ogg).pairs == (
        ("title", "Nightcall"),
        ("artist", "Kavinsky"),
        ("track", "4/13"),
        ("key", "Am"),
    )
    m4a = tmp_path / "song.m4a"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo", "-t", "0.2",
         "-c:a", "aac", str(m4a)],
        check=True,
    )  # fmt: skip
    atoms = mutagen.mp4.MP4(str(m4a))
    atoms["\xa9nam"], atoms["\xa9ART"], atoms["trkn"], atoms["tmpo"] = (
        ["Nightcall"],
        ["Kavinsky"],
        [(4, 13)],
        [91],
    )
    atoms["----:com.apple.iTunes:ISRC"] = [mutagen.mp4.MP4FreeForm(b"FR6V81200032")]
    atoms["covr"] = [mutagen.mp4.MP4Cover(cover_png(), mutagen.mp4.MP4Cover.FORMAT_PNG)]
    atoms.save()
    assert read(m4a).pairs == (
        ("title", "Nightcall"),
        ("artist", "Kavinsky"),
        ("track", "4/13"),
        ("isrc", "FR6V81200032"),
        ("bpm", "91"),
    )
