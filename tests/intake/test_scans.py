"""What the scans and watchers consider: start-up and down-time files, names, sub-folders,
symlinks and awkward file names."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from mvsepd.errors import InputError
from mvsepd.intake import WatchSpec
from tests.intake.helpers import AUDIO_PATTERNS, MakeIntake, collect, count, names, spec, write

# watchdog's recursive inotify warns "Callback with id ... already exists" when a new directory
# tree (mkdir -p) races its own watch registration. The warning is benign, but this project turns
# warnings into errors, which would kill watchdog's reader thread mid-test.
pytestmark = pytest.mark.filterwarnings("ignore:Callback with id:RuntimeWarning")


def test_files_present_before_start_are_found(tmp_path: Path, make_intake: MakeIntake) -> None:
    write(tmp_path / "a.wav")
    write(tmp_path / "b.flac")
    write(tmp_path / "notes.txt")
    intake = make_intake([spec(tmp_path)])
    intake.start()
    assert sorted(path.name for path, _ in intake.pending()) == ["a.wav", "b.flac"]
    results = collect(intake, until=count(2), timeout=10, settle=0.5)
    assert names(results) == ["a.wav", "b.flac"]


def test_files_added_while_down_are_found_by_the_next_start(
    tmp_path: Path, make_intake: MakeIntake
) -> None:
    first = make_intake([spec(tmp_path)])
    first.start()
    write(tmp_path / "before.wav")
    assert names(collect(first, until=count(1), timeout=10)) == ["before.wav"]
    first.stop()
    first.stop()  # idempotent
    write(tmp_path / "while down.wav")
    returned = {"before.wav"}
    second = make_intake(
        [spec(tmp_path)], is_known=lambda folder, relative, stat: relative in returned
    )
    second.start()
    assert names(collect(second, until=count(1), timeout=10, settle=0.5)) == ["while down.wav"]


def test_ignored_names_and_folders_are_never_returned(
    tmp_path: Path, make_intake: MakeIntake
) -> None:
    ignored = [
        ".hidden.wav",
        "._song.wav",
        "~$song.wav",
        "song.wav.part",
        "song.wav.tmp",
        "song.wav.crdownload",
        "song.wav~",
        ".syncthing.song.wav.tmp",
        "~syncthing~song.wav.tmp",
        "song.asd",
        "song.wav.reapeaks",
        "song.pkf",
        "song.peak",
        "song.pk",
        "song.ovw",
        ".DS_Store",
        "Thumbs.db",
        "desktop.ini",
        ".mvsepd-upload.wav",
        "my draft.wav",
        ".stversions/old.wav",
        "@eaDir/song.wav",
        "__MACOSX/song.wav",
        "$RECYCLE.BIN/song.wav",
        ".mvsepd/staged.wav",
        ".stfolder/x.wav",
    ]
    folder_spec = WatchSpec(
        tmp_path, ("*",), ignore=("*draft*",), recursive=True, stability_seconds=0.3
    )
    for name in ignored[: len(ignored) // 2]:
        write(tmp_path / name)  # half before start (the scan) ...
    intake = make_intake([folder_spec])
    intake.start()
    for name in ignored[len(ignored) // 2 :]:
        write(tmp_path / name)  # ... half while watched (the events)
    write(tmp_path / "Song.WAV")
    results = collect(intake, until=count(1), timeout=10, settle=0.5)
    assert names(results) == ["Song.WAV"]
    assert [relative for _, relative, _ in intake.list_files(tmp_path)] == ["Song.WAV"]


@pytest.mark.parametrize("recursive", [False, True])
def test_sub_folders_count_only_when_recursive(
    tmp_path: Path, make_intake: MakeIntake, recursive: bool
) -> None:
    write(tmp_path / "top.wav")
    write(tmp_path / "old" / "inside.wav")
    intake = make_intake([spec(tmp_path, recursive=recursive)])
    intake.start()
    write(tmp_path / "new" / "deeper" / "later.wav")
    write(tmp_path / "old" / "added.wav")
    expected = ["top.wav"]
    if recursive:
        expected = ["new/deeper/later.wav", "old/added.wav", "old/inside.wav", "top.wav"]
    results = collect(intake, until=count(len(expected)), timeout=10, settle=0.5)
    assert names(results) == expected
    listed = sorted(relative for _, relative, _ in intake.list_files(tmp_path))
    assert listed == expected


def test_symlinks_are_taken_only_when_they_stay_inside(
    tmp_path: Path, make_intake: MakeIntake
) -> None:
    hot = tmp_path / "hot"
    outside = tmp_path / "elsewhere"
    write(outside / "private.wav")
    write(outside / "album" / "track.wav")
    write(hot / "real.wav")
    (hot / "leak.wav").symlink_to(outside / "private.wav")
    (hot / "alias.wav").symlink_to(hot / "real.wav")
    (hot / "album").symlink_to(outside / "album", target_is_directory=True)
    intake = make_intake([spec(hot, recursive=True)])
    intake.start()
    (hot / "later leak.wav").symlink_to(outside / "private.wav")
    results = collect(intake, until=count(2), timeout=10, settle=0.5)
    assert names(results) == ["alias.wav", "real.wav"]


@pytest.mark.parametrize("mode", ["native", "poll"])
def test_a_symlink_loop_does_not_hang(tmp_path: Path, make_intake: MakeIntake, mode: str) -> None:
    write(tmp_path / "sub" / "real.wav")
    (tmp_path / "sub" / "loop").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "self").symlink_to(".", target_is_directory=True)
    (tmp_path / "a.wav").symlink_to(tmp_path / "b.wav")
    (tmp_path / "b.wav").symlink_to(tmp_path / "a.wav")
    intake = make_intake([spec(tmp_path, recursive=True, mode=mode, poll_interval=0.3)])
    started = time.monotonic()
    intake.start()
    results = collect(intake, until=count(1), timeout=10, settle=0.5)
    assert names(results) == ["sub/real.wav"]
    assert intake.rescan() == 0
    assert time.monotonic() - started < 5
    assert intake.health()[0].status == ("watching" if mode == "native" else "polling")


def test_rescan_counts_new_candidates_only(tmp_path: Path, make_intake: MakeIntake) -> None:
    intake = make_intake([spec(tmp_path, stability_seconds=60)], rescan_seconds=3600)
    intake.start()
    assert intake.rescan() == 0
    write(tmp_path / "one.wav")
    write(tmp_path / "two.wav")
    assert intake.rescan(tmp_path) == 2
    assert intake.rescan() == 0
    assert sorted(path.name for path, _ in intake.pending()) == ["one.wav", "two.wav"]


def test_awkward_names_are_returned_exactly(tmp_path: Path, make_intake: MakeIntake) -> None:
    awkward = [
        "Ünïcødé – Track №1 🎵.wav",
        "  leading and trailing spaces  .wav",
        "line\nbreak.wav",
        "a" * 251 + ".wav",  # 255 bytes, the longest name most file systems allow
        "é" * 125 + ".wav",  # 254 bytes of UTF-8
        "[brackets] *star* ?mark.wav",
    ]
    undecodable = os.fsencode(tmp_path) + b"/bad \xff byte.wav"
    for name in awkward[:3]:
        write(tmp_path / name)
    with open(undecodable, "wb") as handle:
        handle.write(b"audio")
    intake = make_intake([spec(tmp_path)])
    intake.start()
    for name in awkward[3:]:
        write(tmp_path / name)
    expected = sorted([*awkward, os.fsdecode(b"bad \xff byte.wav")])
    results = collect(intake, until=count(len(expected)), timeout=10, settle=0.5)
    assert names(results) == expected
    for result in results:
        assert result.path == tmp_path / result.relative_path
        assert os.path.exists(os.fsencode(result.path))


def test_list_files_does_not_arm_anything(tmp_path: Path, make_intake: MakeIntake) -> None:
    write(tmp_path / "a.wav")
    write(tmp_path / "sub" / "b.wav")
    intake = make_intake([WatchSpec(tmp_path, AUDIO_PATTERNS, recursive=True)])
    listed = intake.list_files(tmp_path)
    assert [(path, relative) for path, relative, _ in listed] == [
        (tmp_path / "a.wav", "a.wav"),
        (tmp_path / "sub" / "b.wav", "sub/b.wav"),
    ]
    assert listed[0][2].size == (tmp_path / "a.wav").stat().st_size
    assert intake.pending() == []


def test_a_folder_tree_moved_into_a_recursive_folder_is_found(
    tmp_path: Path, make_intake: MakeIntake
) -> None:
    hot = tmp_path / "hot"
    hot.mkdir()
    intake = make_intake([spec(hot, recursive=True)], rescan_seconds=3600)
    intake.start()
    write(tmp_path / "album" / "disc 1" / "track 1.wav")
    write(tmp_path / "album" / "track 0.flac")
    (tmp_path / "album").rename(hot / "album")
    results = collect(intake, until=count(2), timeout=10, settle=0.5)
    assert names(results) == ["album/disc 1/track 1.wav", "album/track 0.flac"]


def test_folders_are_named_once_and_must_be_known(tmp_path: Path, make_intake: MakeIntake) -> None:
    with pytest.raises(InputError, match="listed twice"):
        make_intake([spec(tmp_path), spec(tmp_path / ".")])
    intake = make_intake([spec(tmp_path)])
    with pytest.raises(InputError, match="not a watched hot folder"):
        intake.rescan(tmp_path / "other")
    assert intake.rescan() == 0  # not started: nothing scanned
    assert intake.take_ready() == []
    assert [health.status for health in intake.health()] == ["stopped"]


def test_list_files_before_a_moment_leaves_out_what_was_written_or_moved_in_since(
    tmp_path: Path, make_intake: MakeIntake
) -> None:
    a_year_ago = time.time() - 365 * 86400
    write(tmp_path / "old.wav")
    moved = write(tmp_path.parent / f"{tmp_path.name} elsewhere" / "moved in.wav")
    for path in (tmp_path / "old.wav", moved):
        os.utime(path, (a_year_ago, a_year_ago))
    time.sleep(0.05)
    moment = time.time()
    time.sleep(0.05)
    write(tmp_path / "new export.wav")
    # Moved in after the moment, with last year's modification time: its status change time
    # (set by the move) says when it arrived.
    moved.rename(tmp_path / "moved in.wav")
    intake = make_intake([WatchSpec(tmp_path, AUDIO_PATTERNS)])
    everything = [relative for _, relative, _ in intake.list_files(tmp_path)]
    assert everything == ["moved in.wav", "new export.wav", "old.wav"]
    before = [relative for _, relative, _ in intake.list_files(tmp_path, changed_before=moment)]
    assert before == ["old.wav"]
