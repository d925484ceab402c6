"""Stems keep their source's tags, through the daemon over real HTTP against the emulator: a
session WAV with RIFF INFO, iXML and bext, a bought FLAC with Vorbis comments and a cover, an mp3
with ID3v2 and a cover (its stems are WAV), an AIFF with an ID3 chunk, and an export without
tags; each stem read back by ffprobe and MediaInfo. A ``tags: none`` folder gets the same stems
without tags (the same samples), and a ``conform: off`` folder MVSEP's bytes untouched.

One daemon takes every source into three folders (the same files, so the same MVSEP stems).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import soundfile
import wavinfo

from mvsepd.emulator import EmulatorServer, EmulatorSettings
from mvsepd.models import JobState
from tests.conform.material import (
    INFO_TAGS,
    TAGS,
    Source,
    chunk_ids,
    data_chunk,
    ffprobe,
    mediainfo_general,
    write_source,
)
from tests.integration.support import FAST_DAEMON, Setup, running_daemon, wait_until

SESSION = Source("Session take", 48000, 2, "PCM_24", bext=True, ixml=True, tags=True)
BOUGHT = Source("Bought track", 44100, 2, "PCM_16", container="FLAC", tags=True)
PROMO = Source("Promo", 48000, 2, "", container="MP3", tags=True)
ALBUM_CUT = Source("Album cut", 48000, 2, "PCM_24", container="AIFF", tags=True)
BARE = Source("Bare export", 44100, 2, "PCM_16")
#: The folders, their stem settings and the sources dropped into each.
FOLDERS = {
    "Copy": ("", [SESSION, BOUGHT, PROMO, ALBUM_CUT, BARE]),
    "None": ("tags: none", [SESSION, BOUGHT, PROMO, ALBUM_CUT]),
    "Off": ("conform: off", [SESSION, PROMO]),
}
#: One seed per source: the same file in every folder, so one job and one set of MVSEP stems.
SEEDS = {source.name: seed for seed, source in enumerate(FOLDERS["Copy"][1], start=1)}
STEM_LABELS = ("Vocals", "Instrumental")  # preset 48 (MVSEP labels the second "Other")

pytestmark = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("mediainfo") is None,
    reason="mp3 sources need ffmpeg; the stems are read back by ffprobe and MediaInfo",
)


@pytest.fixture(scope="module")
def placed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Setup, Path]]:
    tmp_path = tmp_path_factory.mktemp("tags")
    settings = EmulatorSettings(queue_seconds=0.0, processing_seconds=0.1, rate_limit=False)
    with EmulatorServer(settings) as server:
        account = server.add_account(plan="premium", credits=100_000)
        base = tmp_path / "Exports"
        folders = ""
        for name, (extra, _) in FOLDERS.items():
            (base / name).mkdir(parents=True)
            folders += (
                f'  - path: "{base / name}"\n    preset: split\n    existing_files: process\n'
                f"    stability_seconds: 0.3\n    {extra}\n"
            )
        config = (
            f'account:\n  server: "{server.url}"\npresets:\n  split:\n    sep_type: 48\n'
            f"    output_format: flac24\nfolders:\n{folders}daemon:\n  {FAST_DAEMON}\n"
        )
        setup = Setup(tmp=tmp_path, server=server, token=account.token, hot=base / "Copy")
        with running_daemon(setup, config) as daemon:
            for name, (_, sources) in FOLDERS.items():
                for source in sources:
                    write_source(base / name, source, seed=SEEDS[source.name])
            expected = sum(len(sources) for _, sources in FOLDERS.values())

            def placed_everywhere() -> bool:
                return len(list(base.rglob("manifest.json"))) >= expected

            wait_until(placed_everywhere, 120, message=f"{expected} deliveries", interval=0.2)
            failed = [job for job in daemon.store.jobs() if job.state is not JobState.DONE]
            assert failed == [], [(job.source_name, job.reason) for job in failed]
        yield setup, base


def _stems(root: Path, folder: str, source: Source) -> dict[str, Path]:
    track = root / f"{folder} stems" / source.name
    return {label: next(track.glob(f"{source.name} - {label}.*")) for label in STEM_LABELS}


def _manifest(root: Path, folder: str, source: Source) -> dict[str, Any]:
    path = root / f"{folder} stems" / source.name / "manifest.json"
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def _format_tags(path: Path) -> dict[str, str]:
    """ffprobe's format tags with lower-case keys (ffmpeg keeps Vorbis comments upper-case)."""
    tags = ffprobe(path)["format"].get("tags", {})
    return {key.lower(): value for key, value in tags.items()}


def test_a_session_wavs_stems_keep_its_riff_info_bext_and_ixml(placed: Any) -> None:
    _, root = placed
    for label, stem in _stems(root, "Copy", SESSION).items():
        tags = _format_tags(stem)
        expected = INFO_TAGS | {"title": f"Nightcall - {label}"}
        assert {key: tags.get(key) for key in expected} == expected, stem.name
        info = wavinfo.WavInfoReader(str(stem))
        assert info.bext.time_reference == SESSION.time_reference, stem.name
        assert info.ixml is not None, stem.name
        ids = chunk_ids(stem)
        assert ids.index(b"bext") < ids.index(b"LIST") < ids.index(b"data"), ids
        assert soundfile.info(str(stem)).samplerate == SESSION.rate
    report = _manifest(root, "Copy", SESSION)["conform"]["tags"]
    assert report == {
        "copied": list(INFO_TAGS),
        "title": "the source's title - stem",
        "as": "RIFF INFO and ID3v2.3",
    }


def test_a_flac_sources_stems_carry_its_vorbis_comments_without_the_cover(placed: Any) -> None:
    _, root = placed
    source_path = root / "Copy" / BOUGHT.file_name
    assert [stream["codec_type"] for stream in ffprobe(source_path)["streams"]] == [
        "audio",
        "video",
    ]  # the source has a cover
    for label, stem in _stems(root, "Copy", BOUGHT).items():
        assert stem.suffix == ".flac"
        tags = _format_tags(stem)
        assert tags["title"] == f"Nightcall - {label}"
        assert (tags["artist"], tags["album"], tags["album_artist"]) == (
            "Kavinsky",
            "OutRun",
            "Kavinsky",
        )
        assert (tags["isrc"], tags["bpm"], tags["initialkey"]) == ("FR6V81200032", "91", "Am")
        assert (tags["track"], tags["tracktotal"], tags["date"]) == ("4", "13", "2013-02-22")
        assert [stream["codec_type"] for stream in ffprobe(stem)["streams"]] == ["audio"]
        assert "Cover" not in mediainfo_general(stem)


def test_an_mp3s_id3v2_tags_reach_its_wav_stems_without_the_cover(placed: Any) -> None:
    _, root = placed
    for label, stem in _stems(root, "Copy", PROMO).items():
        assert stem.suffix == ".wav"
        general = mediainfo_general(stem)
        assert general["Title"] == f"Nightcall - {label}"
        assert (general["Performer"], general["Album"]) == ("Kavinsky", "OutRun")
        assert (general["ISRC"], general["BPM"], general["extra"]["Initial_key"]) == (
            "FR6V81200032",
            "91",
            "Am",
        )
        assert (general["Track_Position"], general["Track_Position_Total"]) == ("4", "13")
        assert general["Comment"] == TAGS["comment"]  # the iTunNORM comment stayed behind
        assert "Cover" not in general
        tags = _format_tags(stem)
        assert (tags["title"], tags["artist"]) == (f"Nightcall - {label}", "Kavinsky")
        assert [stream["codec_type"] for stream in ffprobe(stem)["streams"]] == ["audio"]
    assert _manifest(root, "Copy", PROMO)["conform"]["tags"]["copied"] == list(TAGS)


def test_an_aiffs_stems_carry_its_id3_chunk(placed: Any) -> None:
    _, root = placed
    for label, stem in _stems(root, "Copy", ALBUM_CUT).items():
        assert soundfile.info(str(stem)).format == "AIFF"
        tags = _format_tags(stem)
        assert (tags["title"], tags["artist"]) == (f"Nightcall - {label}", "Kavinsky")
        assert (tags["tsrc"], tags["tbpm"], tags["tkey"]) == ("FR6V81200032", "91", "Am")
        general = mediainfo_general(stem)
        assert (general["Title"], general["Composer"]) == (
            f"Nightcall - {label}",
            "Vincent Belorgey",
        )
        assert "Cover" not in general


def test_a_source_without_tags_gives_stems_without_tags(placed: Any) -> None:
    _, root = placed
    for stem in _stems(root, "Copy", BARE).values():
        assert b"LIST" not in chunk_ids(stem) and b"id3 " not in chunk_ids(stem)
        assert _format_tags(stem) == {}
    report = _manifest(root, "Copy", BARE)["conform"]["tags"]
    assert report == {"copied": [], "why": "the source carries no tags"}


def test_tags_none_writes_none_and_the_samples_are_the_same(placed: Any) -> None:
    _, root = placed
    for source in (SESSION, BOUGHT, PROMO, ALBUM_CUT):
        report = _manifest(root, "None", source)["conform"]
        assert report["tags"] == {"copied": [], "why": "tags: none"}
        tagged = _stems(root, "Copy", source)
        for label, stem in _stems(root, "None", source).items():
            assert "title" not in _format_tags(stem), stem.name
            assert "Title" not in mediainfo_general(stem), stem.name
            copy_data, _ = soundfile.read(str(tagged[label]), dtype="int32")
            none_data, _ = soundfile.read(str(stem), dtype="int32")
            assert (copy_data == none_data).all(), stem.name
            if stem.suffix == ".wav":
                assert data_chunk(stem) == data_chunk(tagged[label])
                assert b"LIST" not in chunk_ids(stem) and b"id3 " not in chunk_ids(stem)
    # The timestamp is written whatever the tags setting.
    for stem in _stems(root, "None", SESSION).values():
        assert wavinfo.WavInfoReader(str(stem)).bext.time_reference == SESSION.time_reference


def test_conform_off_places_mvseps_bytes_without_tags(placed: Any) -> None:
    setup, root = placed
    served = {
        hashlib.sha256(target.path.read_bytes()).hexdigest()
        for job in setup.server.state.jobs()
        for target in job.files
    }
    for source in (SESSION, PROMO):
        manifest = _manifest(root, "Off", source)
        assert manifest["conform"]["mode"] == "off" and "tags" not in manifest["conform"]
        for item in manifest["outputs"]:
            path = Path(item["path"])
            assert hashlib.sha256(path.read_bytes()).hexdigest() in served
            assert "title" not in _format_tags(path)
