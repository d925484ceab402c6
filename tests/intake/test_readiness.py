"""Readiness decisions on an injected clock: the window, INCOMPLETE and its report, INVALID,
is_known.

Files are created before ``start`` so only the start-up scan offers them; the clock then moves
by hand and nothing depends on how fast this machine is.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import pytest

from mvsepd.intake import FileStat, Readiness, ReadinessVerdict
from tests.intake.helpers import MakeIntake, ManualClock, ScriptedReadiness, spec, write

INCOMPLETE = ReadinessVerdict(Readiness.INCOMPLETE, "the WAV header still says 0 bytes")


def test_nothing_is_checked_before_the_window_and_ready_comes_once(
    tmp_path: Path, make_intake: MakeIntake, readiness: ScriptedReadiness
) -> None:
    path = write(tmp_path / "song.wav")
    clock = ManualClock()
    intake = make_intake([spec(tmp_path, stability_seconds=5)], clock=clock)
    intake.start()
    assert intake.pending() == [(path, clock.now)]
    clock.advance(4.9)
    assert intake.take_ready() == []
    assert readiness.calls == []
    clock.advance(0.1)
    (ready,) = intake.take_ready()
    assert ready.path == path
    assert ready.folder == tmp_path
    assert ready.relative_path == "song.wav"
    assert ready.rejected_reason is None
    assert ready.stat.size == path.stat().st_size
    assert intake.pending() == []
    clock.advance(60)
    assert intake.take_ready() == []
    assert readiness.calls_for("song.wav") == 1


def test_incomplete_is_held_then_returned(
    tmp_path: Path, make_intake: MakeIntake, readiness: ScriptedReadiness
) -> None:
    write(tmp_path / "render.wav")
    readiness.answer(
        "render.wav", INCOMPLETE, INCOMPLETE, INCOMPLETE, ReadinessVerdict(Readiness.READY)
    )
    clock = ManualClock()
    intake = make_intake([spec(tmp_path, stability_seconds=2)], clock=clock)
    intake.start()
    for _ in range(3):
        clock.advance(2)
        assert intake.take_ready() == []
        assert [path for path, _ in intake.pending()] == [tmp_path / "render.wav"]
    clock.advance(2)
    (ready,) = intake.take_ready()
    assert ready.rejected_reason is None
    assert readiness.calls_for("render.wav") == 4


def test_invalid_is_returned_at_once_with_the_reason(
    tmp_path: Path, make_intake: MakeIntake, readiness: ScriptedReadiness
) -> None:
    write(tmp_path / "notes.wav", b"this is a text file")
    readiness.answer("notes.wav", ReadinessVerdict(Readiness.INVALID, "this is not a WAV file"))
    clock = ManualClock()
    intake = make_intake([spec(tmp_path, stability_seconds=1)], clock=clock)
    intake.start()
    clock.advance(1)
    (rejected,) = intake.take_ready()
    assert rejected.rejected_reason == "this is not a WAV file"
    clock.advance(100)
    assert intake.take_ready() == []
    assert readiness.calls_for("notes.wav") == 1


def test_a_file_that_never_completes_is_reported_and_still_taken_once_complete(
    tmp_path: Path, make_intake: MakeIntake, readiness: ScriptedReadiness
) -> None:
    path = write(tmp_path / "stuck.wav")
    readiness.answer("stuck.wav", INCOMPLETE)
    clock = ManualClock()
    # Polled (once an hour of the test's clock), so that only the test's rescans see a change:
    # a watch's event for the last write came late under load and re-armed the window.
    folder = spec(
        tmp_path,
        stability_seconds=5,
        incomplete_after_seconds=60,
        mode="poll",
        poll_interval=3600,
    )
    intake = make_intake([folder], clock=clock)
    intake.start()
    for _ in range(11):
        clock.advance(5)
        assert intake.take_ready() == []
    # 55 s unchanged: still arriving, named, with how long it has waited.
    (arriving,) = intake.arrivals()
    assert (arriving.relative_path, arriving.incomplete, arriving.reason) == (
        "stuck.wav",
        False,
        "",
    )
    assert arriving.waiting_seconds == pytest.approx(55)
    clock.advance(5)
    assert intake.take_ready() == []  # never given up: reported
    (reported,) = intake.arrivals()
    assert reported.incomplete
    assert reported.reason == "the WAV header still says 0 bytes"
    assert reported.waiting_seconds >= 60
    # Reported, it is looked at again now and then, not at every window, and the engine need
    # not look often for it (an idle daemon stays idle).
    assert not intake.arriving()
    assert 5 < intake.seconds_until_due() <= 60
    calls = readiness.calls_for("stuck.wav")
    for _ in range(120):
        clock.advance(5)
        assert intake.take_ready() == []
    assert readiness.calls_for("stuck.wav") - calls <= 600 / 60 + 1
    assert [item.incomplete for item in intake.arrivals()] == [True]
    # The export is finished after all: taken as usual, and the report goes.
    readiness.answer("stuck.wav", ReadinessVerdict(Readiness.READY))
    path.write_bytes(b"RIFF-and-now-the-rest-of-it")
    intake.rescan()
    (grown,) = intake.arrivals()
    assert (grown.incomplete, grown.reason) == (True, "still growing")
    clock.advance(5)
    (ready,) = intake.take_ready()
    assert (ready.relative_path, ready.rejected_reason) == ("stuck.wav", None)
    assert intake.arrivals() == []


def test_a_file_unchanged_for_long_is_reported_at_its_first_check(
    tmp_path: Path, make_intake: MakeIntake, readiness: ScriptedReadiness
) -> None:
    # What a restart finds: a file cut short an hour ago is reported at once (its modification
    # time tells how long it has been as it is), not a whole window after the start.
    path = write(tmp_path / "cut.wav")
    hour_ago = time.time() - 3600
    os.utime(path, (hour_ago, hour_ago))
    readiness.answer("cut.wav", INCOMPLETE)
    clock = ManualClock()
    intake = make_intake(
        [spec(tmp_path, stability_seconds=1, incomplete_after_seconds=600)], clock=clock
    )
    intake.start()
    (arriving,) = intake.arrivals()
    assert not arriving.incomplete
    assert arriving.waiting_seconds == 0  # arriving counts from when intake saw it
    clock.advance(1)
    assert intake.take_ready() == []
    (reported,) = intake.arrivals()
    assert reported.incomplete and reported.reason == "the WAV header still says 0 bytes"
    assert 3600 <= reported.waiting_seconds < 3700


def test_an_empty_file_waits_without_being_read_then_is_reported(
    tmp_path: Path, make_intake: MakeIntake, readiness: ScriptedReadiness
) -> None:
    write(tmp_path / "empty.wav", b"")
    clock = ManualClock()
    folder = spec(tmp_path, stability_seconds=1, incomplete_after_seconds=10)
    intake = make_intake([folder], clock=clock)
    intake.start()
    for _ in range(9):
        clock.advance(1)
        assert intake.take_ready() == []
    assert [item.incomplete for item in intake.arrivals()] == [False]
    clock.advance(2)
    assert intake.take_ready() == []
    (reported,) = intake.arrivals()
    assert (reported.incomplete, reported.reason) == (True, "the file is empty")
    assert readiness.calls == []


def test_a_failing_readiness_check_holds_the_file_and_is_logged(
    tmp_path: Path,
    make_intake: MakeIntake,
    readiness: ScriptedReadiness,
    caplog: pytest.LogCaptureFixture,
) -> None:
    write(tmp_path / "song.wav")
    calls = 0

    def broken_then_fine(path: Path) -> ReadinessVerdict:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("decoder exploded")
        return readiness(path)

    clock = ManualClock()
    intake = make_intake(
        [spec(tmp_path, stability_seconds=1)], clock=clock, readiness=broken_then_fine
    )
    intake.start()
    with caplog.at_level(logging.WARNING, logger="mvsepd.intake"):
        clock.advance(1)
        assert intake.take_ready() == []
    assert "readiness check failed" in caplog.text
    clock.advance(1)
    (ready,) = intake.take_ready()
    assert ready.rejected_reason is None


def test_gone_drops_the_file(
    tmp_path: Path, make_intake: MakeIntake, readiness: ScriptedReadiness
) -> None:
    write(tmp_path / "brief.wav")
    readiness.answer("brief.wav", ReadinessVerdict(Readiness.GONE))
    clock = ManualClock()
    intake = make_intake([spec(tmp_path, stability_seconds=1)], clock=clock)
    intake.start()
    clock.advance(1)
    assert intake.take_ready() == []
    assert intake.pending() == []


def test_known_files_are_skipped_without_reading_them(
    tmp_path: Path, make_intake: MakeIntake, readiness: ScriptedReadiness
) -> None:
    for number in range(30):
        write(tmp_path / f"done {number}.wav", bytes([number]) * (number + 1))
    write(tmp_path / "new.wav")
    asked: list[tuple[Path, str, FileStat]] = []

    def is_known(folder: Path, relative_path: str, stat: FileStat) -> bool:
        asked.append((folder, relative_path, stat))
        return relative_path.startswith("done ")

    clock = ManualClock()
    intake = make_intake([spec(tmp_path, stability_seconds=1)], clock=clock, is_known=is_known)
    intake.start()
    assert [path.name for path, _ in intake.pending()] == ["new.wav"]
    clock.advance(1)
    assert [ready.relative_path for ready in intake.take_ready()] == ["new.wav"]
    assert [path.name for path in readiness.calls] == ["new.wav"]
    folder, _, stat = next(item for item in asked if item[1] == "done 7.wav")
    assert folder == tmp_path
    on_disk = os.stat(tmp_path / "done 7.wav")
    assert stat == FileStat(on_disk.st_size, on_disk.st_mtime_ns, on_disk.st_ino)
    # A rescan of already-known files arms nothing either.
    assert intake.rescan() == 0


def test_a_change_at_check_time_restarts_the_window(
    tmp_path: Path, make_intake: MakeIntake, readiness: ScriptedReadiness
) -> None:
    path = write(tmp_path / "growing.wav", b"a" * 10)
    clock = ManualClock()
    # Polled once an hour: no watcher event can re-arm the file, only the check's own stat.
    quiet = spec(tmp_path, stability_seconds=3, mode="poll", poll_interval=3600)
    intake = make_intake([quiet], clock=clock)
    intake.start()
    with path.open("ab") as handle:
        handle.write(b"b" * 10)
    clock.advance(3)
    assert intake.take_ready() == []
    assert readiness.calls == []
    clock.advance(3)
    (ready,) = intake.take_ready()
    assert ready.stat.size == 20
