"""Real time, real watchers: files still being written are never returned; each stable version
is returned exactly once."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from mvsepd.intake import Readiness, ReadinessVerdict, ReadyFile
from tests.intake.helpers import MakeIntake, ScriptedReadiness, collect, count, names, spec, write


def test_a_slow_export_is_returned_once_after_its_last_write(
    tmp_path: Path, make_intake: MakeIntake, readiness: ScriptedReadiness
) -> None:
    # Readiness always says READY here: only the stability window protects the upload.
    intake = make_intake([spec(tmp_path, stability_seconds=1.0)])
    intake.start()
    path = tmp_path / "long render.wav"
    chunk = b"\x01" * 64 * 1024
    chunks = 16
    finished_at: list[float] = []

    def slow_writer() -> None:
        with path.open("wb") as handle:
            for _ in range(chunks):
                handle.write(chunk)
                handle.flush()
                time.sleep(0.5)  # shorter than the window, like a DAW rendering in bursts
        finished_at.append(time.monotonic())

    writer = threading.Thread(target=slow_writer)
    writer.start()
    returned: list[tuple[float, ReadyFile]] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (returned and finished_at):
        returned += [(time.monotonic(), ready) for ready in intake.take_ready()]
        intake.wait(0.05)
    writer.join()
    end = time.monotonic() + 1.2
    while time.monotonic() < end:  # anything returned twice would show up here
        returned += [(time.monotonic(), ready) for ready in intake.take_ready()]
        intake.wait(0.05)

    assert len(returned) == 1, returned
    returned_at, ready = returned[0]
    assert returned_at >= finished_at[0]
    assert ready.stat.size == chunks * len(chunk) == path.stat().st_size
    assert ready.rejected_reason is None
    assert readiness.calls_for("long render.wav") == 1


def test_incomplete_then_ready_in_real_time(
    tmp_path: Path, make_intake: MakeIntake, readiness: ScriptedReadiness
) -> None:
    incomplete = ReadinessVerdict(Readiness.INCOMPLETE, "data chunk larger than the file")
    readiness.answer("mix.wav", incomplete, ReadinessVerdict(Readiness.READY))
    intake = make_intake([spec(tmp_path, stability_seconds=0.3)])
    intake.start()
    write(tmp_path / "mix.wav")
    results = collect(intake, until=count(1), timeout=10, settle=0.5)
    assert names(results) == ["mix.wav"]
    assert results[0].rejected_reason is None
    assert readiness.calls_for("mix.wav") == 2


def test_invalid_files_carry_a_reason_and_stuck_ones_are_reported(
    tmp_path: Path, make_intake: MakeIntake, readiness: ScriptedReadiness
) -> None:
    readiness.answer("text.wav", ReadinessVerdict(Readiness.INVALID, "not a WAV file"))
    readiness.answer("stuck.wav", ReadinessVerdict(Readiness.INCOMPLETE, "header says 0 bytes"))
    intake = make_intake([spec(tmp_path, stability_seconds=0.2, incomplete_after_seconds=1.0)])
    intake.start()
    write(tmp_path / "text.wav")
    write(tmp_path / "stuck.wav")
    write(tmp_path / "good.wav")

    def reported() -> list[tuple[str, str]]:
        return [(item.relative_path, item.reason) for item in intake.arrivals() if item.incomplete]

    results = collect(intake, until=lambda _: bool(reported()), timeout=10, settle=0.5)
    by_name = {result.relative_path: result.rejected_reason for result in results}
    assert by_name == {"good.wav": None, "text.wav": "not a WAV file"}
    assert reported() == [("stuck.wav", "header says 0 bytes")]


def test_fifty_files_dropped_at_once_are_each_returned_once(
    tmp_path: Path, make_intake: MakeIntake
) -> None:
    intake = make_intake([spec(tmp_path)])
    intake.start()
    expected = [f"take {number:02d}.wav" for number in range(50)]
    for name in expected:
        write(tmp_path / name, name.encode() * 100)
    results = collect(intake, until=count(50), timeout=15, settle=0.5)
    assert names(results) == expected


def test_repeated_events_do_not_repeat_results(
    tmp_path: Path, make_intake: MakeIntake, readiness: ScriptedReadiness
) -> None:
    intake = make_intake([spec(tmp_path)])
    intake.start()
    path = write(tmp_path / "song.wav", b"x" * 1000)
    # Rewrite the same bytes in place several times while it is being checked.
    for _ in range(5):
        with path.open("r+b") as handle:
            handle.write(b"x")
    (first,) = collect(intake, until=count(1), timeout=10)
    # Events that change nothing intake compares: attribute changes, open/close for writing.
    status = path.stat()
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))
    path.chmod(0o600)
    path.open("ab").close()
    later = collect(intake, until=lambda _: False, timeout=0.8)
    assert later == []
    assert first.stat.size == 1000
    assert readiness.calls_for("song.wav") == 1


def test_a_re_export_is_returned_again(tmp_path: Path, make_intake: MakeIntake) -> None:
    intake = make_intake([spec(tmp_path)])
    intake.start()
    path = write(tmp_path / "bounce.wav", b"first version")
    (first,) = collect(intake, until=count(1), timeout=10)
    path.write_bytes(b"second, longer version")
    (second,) = collect(intake, until=count(1), timeout=10)
    assert (first.stat.size, second.stat.size) == (13, 22)
    path.write_bytes(b"second, longer versioN")  # same size, new bytes: a new version too
    (third,) = collect(intake, until=count(1), timeout=10, settle=0.6)
    assert third.stat.size == 22
    assert third.stat != second.stat


def test_a_file_deleted_while_checked_is_dropped(
    tmp_path: Path, make_intake: MakeIntake, readiness: ScriptedReadiness
) -> None:
    intake = make_intake([spec(tmp_path, stability_seconds=0.5)])
    intake.start()
    path = write(tmp_path / "oops.wav")
    assert collect(intake, until=lambda _: bool(intake.pending()), timeout=5) == []
    path.unlink()
    assert collect(intake, until=lambda _: False, timeout=0.8) == []
    assert intake.pending() == []
    assert readiness.calls == []


def test_a_file_that_vanishes_during_the_check_is_dropped(
    tmp_path: Path, make_intake: MakeIntake, readiness: ScriptedReadiness
) -> None:
    def vanish(path: Path) -> None:
        path.unlink()

    readiness.hook = vanish
    readiness.answer("moved.wav", ReadinessVerdict(Readiness.GONE))
    intake = make_intake([spec(tmp_path)])
    intake.start()
    write(tmp_path / "moved.wav")
    assert collect(intake, until=lambda _: bool(readiness.calls), timeout=5, settle=0.5) == []
    assert intake.pending() == []


def test_an_export_that_starts_empty_is_returned_when_written(
    tmp_path: Path, make_intake: MakeIntake, readiness: ScriptedReadiness
) -> None:
    intake = make_intake([spec(tmp_path)])
    intake.start()
    path = write(tmp_path / "export.wav", b"")
    time.sleep(0.8)  # longer than the window: still empty, so still waiting
    assert intake.take_ready() == []
    path.write_bytes(b"now with audio")
    (ready,) = collect(intake, until=count(1), timeout=10, settle=0.5)
    assert ready.stat.size == 14
    assert readiness.calls_for("export.wav") == 1


def test_files_arriving_during_start_are_returned_once(
    tmp_path: Path, make_intake: MakeIntake
) -> None:
    # Some land before the observer starts, some during the scan, some after: no gap, no twin.
    for number in range(200):
        write(tmp_path / "old" / f"filler {number:03d}.txt")
    intake = make_intake([spec(tmp_path)])
    expected = [f"arrival {number:02d}.wav" for number in range(40)]

    def arrive() -> None:
        for name in expected:
            write(tmp_path / name)
            time.sleep(0.002)

    writer = threading.Thread(target=arrive)
    writer.start()
    intake.start()
    writer.join()
    results = collect(intake, until=count(len(expected)), timeout=15, settle=0.5)
    assert names(results) == expected


def test_a_download_renamed_into_place_is_returned_under_its_final_name(
    tmp_path: Path, make_intake: MakeIntake, readiness: ScriptedReadiness
) -> None:
    intake = make_intake([spec(tmp_path)])
    intake.start()
    partial = tmp_path / "song.wav.part"
    with partial.open("wb") as handle:
        for _ in range(5):
            handle.write(b"\x02" * 4096)
            handle.flush()
            time.sleep(0.1)
    partial.rename(tmp_path / "song.wav")
    elsewhere = tmp_path.parent / f"{tmp_path.name} elsewhere"
    elsewhere.mkdir()
    write(elsewhere / "album" / "track.wav")
    (elsewhere / "album").rename(tmp_path / "album")  # a folder moved in: not recursive here
    results = collect(intake, until=count(1), timeout=10, settle=0.5)
    assert names(results) == ["song.wav"]
    assert results[0].stat.size == 5 * 4096
    assert [path.name for path in readiness.calls] == ["song.wav"]


def test_a_file_moved_away_while_checked_is_dropped(
    tmp_path: Path, make_intake: MakeIntake, readiness: ScriptedReadiness
) -> None:
    intake = make_intake([spec(tmp_path, stability_seconds=0.5)])
    intake.start()
    path = write(tmp_path / "wrong folder.wav")
    assert collect(intake, until=lambda _: bool(intake.pending()), timeout=5) == []
    path.rename(tmp_path.parent / f"{tmp_path.name} moved.wav")
    assert collect(intake, until=lambda _: False, timeout=0.8) == []
    assert intake.pending() == []
    assert readiness.calls == []
