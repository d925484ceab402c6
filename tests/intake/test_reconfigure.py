"""Intake changed while it runs: folders added, let go and watched again with new settings, and
the configuration file followed through every way an editor saves it.

Real watchdog observers on temporary folders.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from tests.intake.helpers import MakeIntake, collect, count, names, spec, write

pytestmark = pytest.mark.filterwarnings("ignore:Callback with id:RuntimeWarning")


def test_a_folder_added_is_watched_a_removed_one_let_go_and_an_unchanged_one_untouched(
    tmp_path: Path, make_intake: MakeIntake
) -> None:
    kept, removed, added = (tmp_path / name for name in ("kept", "removed", "added"))
    for folder in (kept, removed, added):
        folder.mkdir()
    write(added / "there before it was added.wav")
    intake = make_intake([spec(kept), spec(removed)], rescan_seconds=3600)
    intake.start()
    watcher_before = intake.health()[0]

    changes = intake.reconfigure([spec(kept), spec(added)])

    assert (changes.added, changes.removed, changes.changed) == ((added,), (removed,), ())
    assert [health.path for health in intake.health()] == [kept, added]
    assert intake.health()[0] == watcher_before
    write(removed / "into the removed folder.wav")
    write(kept / "into the kept folder.wav")
    write(added / "into the added folder.wav")
    found = collect(intake, until=count(3), timeout=10, settle=1.0)
    # A folder added is scanned as at start: what is already there is found too.
    assert names(found) == [
        "into the added folder.wav",
        "into the kept folder.wav",
        "there before it was added.wav",
    ]
    assert {result.folder for result in found} == {kept, added}


def test_a_folder_whose_settings_changed_is_watched_again_with_them(
    tmp_path: Path, make_intake: MakeIntake
) -> None:
    intake = make_intake([spec(tmp_path)], rescan_seconds=3600)
    intake.start()
    changes = intake.reconfigure([spec(tmp_path, patterns=("*.flac",))])
    assert changes.changed == (tmp_path,) and not changes.added and not changes.removed
    write(tmp_path / "now ignored.wav")
    write(tmp_path / "now taken.flac")
    assert names(collect(intake, until=count(1), timeout=10, settle=1.0)) == ["now taken.flac"]


def test_the_same_folder_listed_twice_is_refused_and_nothing_changes(
    tmp_path: Path, make_intake: MakeIntake
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    intake = make_intake([spec(tmp_path)], rescan_seconds=3600)
    intake.start()
    with pytest.raises(Exception, match="listed twice"):
        intake.reconfigure([spec(other), spec(other)])
    assert [health.path for health in intake.health()] == [tmp_path]


class Calls:
    """Counts calls made from watchdog's threads."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            self.count += 1

    def after(self, change: object, *, timeout: float = 5.0) -> bool:
        """True when a call came within ``timeout`` seconds of ``change`` (a callable)."""
        # The calls of an earlier change (a save makes several events) are over first.
        before = -1
        while before != self.count:
            before = self.count
            time.sleep(0.3)
        assert callable(change)
        change()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.count > before:
                return True
            time.sleep(0.02)
        return False


def save_by_rename(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


@pytest.mark.parametrize("hot_folder_there_too", [False, True])
def test_the_configuration_file_is_followed_however_it_is_saved(
    tmp_path: Path, make_intake: MakeIntake, hot_folder_there_too: bool
) -> None:
    hot = tmp_path / "hot"
    hot.mkdir()
    config = tmp_path / "config.yaml"
    config.write_text("one\n", encoding="utf-8")
    # With the configuration in a hot folder, both watches share the directory's inotify watch.
    folders = [spec(tmp_path, patterns=("*.wav",))] if hot_folder_there_too else [spec(hot)]
    intake = make_intake(folders, rescan_seconds=3600)
    intake.start()
    threads_before = threading.active_count()
    calls = Calls()
    intake.watch_file(config, calls)
    # On Linux the file rides on the observer's inotify reader: no thread of its own.
    if Path("/proc/self/task").is_dir():
        assert threading.active_count() == threads_before

    assert calls.after(lambda: config.write_text("in place\n", encoding="utf-8"))
    assert calls.after(lambda: save_by_rename(config, "renamed over\n"))
    assert calls.after(lambda: config.unlink())
    assert calls.after(lambda: config.write_text("back\n", encoding="utf-8"))
    assert not calls.after(
        lambda: (tmp_path / "neighbour.yaml").write_text("x", encoding="utf-8"), timeout=1.0
    )
    # The folder's own watch still sees its files.
    target = tmp_path if hot_folder_there_too else hot
    write(target / "take.wav")
    assert names(collect(intake, until=count(1), timeout=10)) == ["take.wav"]


def test_the_configuration_file_is_followed_again_when_its_directory_comes_back(
    tmp_path: Path, make_intake: MakeIntake
) -> None:
    hot = tmp_path / "hot"
    hot.mkdir()
    directory = tmp_path / "settings"
    directory.mkdir()
    config = directory / "config.yaml"
    config.write_text("one\n", encoding="utf-8")
    intake = make_intake([spec(hot)], rescan_seconds=3600)
    intake.start()
    calls = Calls()
    intake.watch_file(config, calls)
    config.unlink()
    directory.rmdir()
    directory.mkdir()
    # Supervision (every 30 s; called here) notices that the watch's directory went and
    # watches it again.
    deadline = time.monotonic() + 5
    seen = False
    while not seen and time.monotonic() < deadline:
        intake.supervise()
        seen = calls.after(lambda: config.write_text("two\n", encoding="utf-8"), timeout=0.5)
    assert seen
