"""Which names intake takes: patterns, the always-ignored names and folders, path mapping."""

from __future__ import annotations

import os

import pytest

from mvsepd.intake import WatchSpec
from mvsepd.intake.filters import NameFilter, is_within, relative_parts

AUDIO = NameFilter(("*.wav", "*.flac"))
EVERYTHING = NameFilter(("*",))


@pytest.mark.parametrize("name", ["song.wav", "Song.WAV", "mix final (2).Flac", "ünï 🎵.wav"])
def test_patterns_match_names_case_insensitively(name: str) -> None:
    assert AUDIO.accepts_file(name)


@pytest.mark.parametrize("name", ["song.mp3", "song.wav.txt", "wav", "song.wavx"])
def test_names_outside_the_patterns_are_not_taken(name: str) -> None:
    assert not AUDIO.accepts_file(name)


@pytest.mark.parametrize(
    "name",
    [
        ".hidden.wav",
        ".DS_Store",
        "._song.wav",
        ".#song.wav",
        "~$song.wav",
        "song.wav.part",
        "song.wav.partial",
        "song.wav.tmp",
        "song.wav.TEMP",
        "song.wav.crdownload",
        "song.wav.download",
        "song.wav~",
        "song.wav.swp",
        ".syncthing.song.wav.tmp",
        "~syncthing~song.wav.tmp",
        "Thumbs.db",
        "desktop.ini",
        "song.asd",
        "song.wav.asd",
        "song.wav.reapeaks",
        "song.pkf",
        "song.peak",
        "song.wav.pk",
        "song.ovw",
        ".mvsepd-upload.wav",
    ],
)
def test_temporary_hidden_and_side_files_are_never_taken(name: str) -> None:
    assert not EVERYTHING.accepts_file(name)


@pytest.mark.parametrize(
    "name",
    [
        ".stfolder",
        ".stversions",
        "@eaDir",
        "__MACOSX",
        ".Trashes",
        ".Spotlight-V100",
        ".fseventsd",
        "$RECYCLE.BIN",
        ".mvsepd",
        ".mvsepd-staging",
        ".git",
    ],
)
def test_system_and_staging_folders_are_never_entered(name: str) -> None:
    assert not EVERYTHING.accepts_directory(name)


def test_user_ignores_apply_to_files_and_folders() -> None:
    names = NameFilter(("*.wav",), ignore=("*draft*", "Old Bounces"))
    assert names.accepts_file("final.wav")
    assert not names.accepts_file("My Draft 3.wav")
    assert not names.accepts_directory("old bounces")
    assert names.accepts_directory("Bounces")


def test_watchdog7_style_patterns_mean_the_name() -> None:
    names = NameFilter(("**/*.wav",))
    assert names.accepts_file("song.wav")


def test_empty_patterns_take_nothing() -> None:
    assert not NameFilter(()).accepts_file("song.wav")


def test_relative_parts() -> None:
    root = os.path.join(os.sep, "music", "hot")
    assert relative_parts(root, root) == ()
    assert relative_parts(root, os.path.join(root, "a", "b.wav")) == ("a", "b.wav")
    assert relative_parts(root, os.path.join(root, "..hidden.wav")) == ("..hidden.wav",)
    assert relative_parts(root, os.path.join(os.sep, "music", "hot stems", "x.wav")) is None
    assert relative_parts(root, os.path.join(os.sep, "music")) is None


def test_is_within_does_not_confuse_sibling_prefixes() -> None:
    root = os.path.join(os.sep, "music", "hot")
    assert is_within(root, os.path.join(root, "x.wav"))
    assert not is_within(root, root + " stems")


def test_watch_spec_defaults_and_config() -> None:
    from mvsepd.config.model import FolderConfig

    polled = WatchSpec.from_folder_config(
        FolderConfig.model_validate({"path": "~/share", "preset": "p", "watch": "poll"})
    )
    assert polled.mode == "poll"
    assert polled.poll_interval == 30.0
    assert polled.stability_seconds == 30.0
    assert not str(polled.path).startswith("~")
    native = WatchSpec.from_folder_config(
        FolderConfig.model_validate({"path": "/music/hot", "preset": "p"})
    )
    assert (native.mode, native.stability_seconds, native.recursive) == ("native", 5.0, False)
    assert "*.wav" in native.patterns
    assert WatchSpec(native.path, ("*.wav",), mode="poll").poll_interval == 30.0
