"""Observers and folders over time: polling, folders that vanish and return, dead observers,
unreadable folders, the native-to-polling fall-back, and waking the engine."""

from __future__ import annotations

import errno
import logging
import shutil
import threading
import time
from pathlib import Path

import pytest

from mvsepd.intake import SUPERVISE_SECONDS
from mvsepd.intake.observers import EventForwarder, EventInbox, start_watcher
from tests.intake.helpers import (
    MakeIntake,
    ScriptedReadiness,
    collect,
    count,
    names,
    permission_bits_enforced,
    run_until,
    spec,
    write,
)

# watchdog's recursive inotify warns "Callback with id ... already exists" when a new directory
# tree (mkdir -p) races its own watch registration. The warning is benign, but this project turns
# warnings into errors, which would kill watchdog's reader thread mid-test.
pytestmark = pytest.mark.filterwarnings("ignore:Callback with id:RuntimeWarning")


def test_poll_mode_finds_new_files(tmp_path: Path, make_intake: MakeIntake) -> None:
    # The periodic rescan is an hour away: only the polling observer can find this file.
    intake = make_intake([spec(tmp_path, mode="poll", poll_interval=0.5)], rescan_seconds=3600)
    intake.start()
    (health,) = intake.health()
    assert (health.status, health.detail) == ("polling", "polling every 0.5 s")
    write(tmp_path / "from the share.wav")
    results = collect(intake, until=count(1), timeout=10)
    assert names(results) == ["from the share.wav"]


@pytest.mark.parametrize("mode", ["native", "poll"])
def test_a_folder_that_vanishes_is_missing_until_it_returns(
    tmp_path: Path, make_intake: MakeIntake, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    hot = tmp_path / "hot"
    hot.mkdir()
    intake = make_intake([spec(hot, mode=mode, poll_interval=0.3)], rescan_seconds=3600)
    intake.start()
    running = intake.health()[0].status
    with caplog.at_level(logging.INFO, logger="mvsepd.intake"):
        shutil.rmtree(hot)
        assert run_until(lambda: intake.health()[0].status == "missing", intake, timeout=10)
        for _ in range(3):
            intake.supervise()  # said once, not once per check
        write(hot / "after the comeback.wav")
        results = collect(intake, until=count(1), timeout=15)
    assert names(results) == ["after the comeback.wav"]
    assert intake.health()[0].status == running
    assert caplog.text.count("hot folder missing") == 1
    assert "hot folder is back" in caplog.text


def test_a_folder_missing_at_start_is_picked_up_when_it_appears(
    tmp_path: Path, make_intake: MakeIntake
) -> None:
    hot = tmp_path / "not yet"
    intake = make_intake([spec(hot)])
    intake.start()
    assert intake.health()[0].status == "missing"
    assert intake.take_ready() == []
    assert intake.rescan() == 0
    write(hot / "first.wav")
    intake.supervise()
    assert intake.health()[0].status == "watching"
    assert names(collect(intake, until=count(1), timeout=10)) == ["first.wav"]


def test_the_owner_is_told_before_a_folder_that_appears_is_scanned(
    tmp_path: Path, make_intake: MakeIntake
) -> None:
    hot = tmp_path / "not yet"
    told: list[tuple[Path, list[str]]] = []
    refuse = ["the job store is away"]

    def on_watch_start(folder: Path) -> None:
        # What the owner sees when told: the files already there, none of them a candidate.
        listed = [relative for _, relative, _ in intake.list_files(folder)]
        assert intake.pending() == []
        told.append((folder, listed))
        if refuse:
            raise RuntimeError(refuse.pop())

    intake = make_intake([spec(hot)], on_watch_start=on_watch_start)
    intake.start()
    assert told == []  # nothing to watch yet
    write(hot / "first.wav")
    intake.supervise()
    # Refused (it could not record the first watch): not watched, nothing taken, said why.
    (health,) = intake.health()
    assert health.status == "error"
    assert "cannot start watching it yet (the job store is away)" in health.detail
    assert intake.take_ready() == [] and intake.pending() == []
    intake.supervise()
    assert intake.health()[0].status == "watching"
    assert told == [(hot, ["first.wav"]), (hot, ["first.wav"])]
    assert names(collect(intake, until=count(1), timeout=10)) == ["first.wav"]


def test_a_folder_replaced_by_a_new_one_is_watched_again(
    tmp_path: Path, make_intake: MakeIntake
) -> None:
    hot = tmp_path / "hot"
    hot.mkdir()
    intake = make_intake([spec(hot)], rescan_seconds=3600)
    intake.start()
    hot.rename(tmp_path / "hot (old)")  # inotify would keep following the renamed directory
    hot.mkdir()
    time.sleep(0.1)
    intake.supervise()
    write(hot / "in the new folder.wav")
    results = collect(intake, until=count(1), timeout=10)
    assert names(results) == ["in the new folder.wav"]
    assert results[0].path == hot / "in the new folder.wav"


def test_a_dead_observer_is_restarted(
    tmp_path: Path, make_intake: MakeIntake, caplog: pytest.LogCaptureFixture
) -> None:
    intake = make_intake([spec(tmp_path)], rescan_seconds=3600)
    intake.start()
    intake.simulate_observer_crash(tmp_path)
    write(tmp_path / "while dead.wav")  # no observer saw this; the restart's rescan will
    with caplog.at_level(logging.WARNING, logger="mvsepd.intake"):
        intake.supervise()
    assert "observer stopped; restarting it" in caplog.text
    assert intake.health()[0].status == "watching"
    write(tmp_path / "after restart.wav")  # seen by the new observer
    results = collect(intake, until=count(2), timeout=10)
    assert names(results) == ["after restart.wav", "while dead.wav"]


def test_take_ready_supervises_on_its_own(tmp_path: Path, make_intake: MakeIntake) -> None:
    intake = make_intake([spec(tmp_path)], rescan_seconds=3600)
    intake.start()
    intake.simulate_observer_crash(tmp_path)
    write(tmp_path / "late.wav")
    results = collect(intake, until=count(1), timeout=SUPERVISE_SECONDS + 5)
    assert names(results) == ["late.wav"]


def test_an_unreadable_folder_is_reported_not_raised(
    tmp_path: Path, make_intake: MakeIntake
) -> None:
    hot = tmp_path / "locked"
    write(hot / "waiting.wav")
    hot.chmod(0o000)
    try:
        with permission_bits_enforced():
            intake = make_intake([spec(hot)])
            intake.start()
            (health,) = intake.health()
            assert health.status == "error"
            assert "Permission denied" in health.detail
            assert intake.take_ready() == []
            assert intake.rescan() == 0
            assert intake.list_files(hot) == []
            hot.chmod(0o755)
            intake.supervise()
            assert intake.health()[0].status == "watching"
            results = collect(intake, until=count(1), timeout=10)
    finally:
        hot.chmod(0o755)
    assert names(results) == ["waiting.wav"]


def test_unreadable_parts_are_reported_and_the_rest_is_taken(
    tmp_path: Path, make_intake: MakeIntake, readiness: ScriptedReadiness
) -> None:
    write(tmp_path / "private" / "hidden away.wav")
    unreadable_file = write(tmp_path / "no access.wav")
    write(tmp_path / "fine.wav")
    (tmp_path / "private").chmod(0o000)
    unreadable_file.chmod(0o000)

    def reported() -> list[tuple[str, str]]:
        return [(item.relative_path, item.reason) for item in intake.arrivals() if item.incomplete]

    try:
        with permission_bits_enforced():
            folder = spec(tmp_path, recursive=True, incomplete_after_seconds=1.0)
            intake = make_intake([folder])
            intake.start()
            (health,) = intake.health()
            results = collect(intake, until=lambda _: bool(reported()), timeout=10, settle=0.3)
    finally:
        (tmp_path / "private").chmod(0o755)
        unreadable_file.chmod(0o644)
    assert health.status == "watching"
    assert "1 item(s) inside cannot be read" in health.detail
    assert [(result.relative_path, result.rejected_reason) for result in results] == [
        ("fine.wav", None)
    ]
    ((name, reason),) = reported()
    assert name == "no access.wav" and "cannot be opened" in reason
    assert readiness.calls_for("no access.wav") == 0


def test_a_read_only_folder_works(tmp_path: Path, make_intake: MakeIntake) -> None:
    write(tmp_path / "archive" / "old.wav")
    (tmp_path / "archive").chmod(0o555)
    try:
        with permission_bits_enforced():
            intake = make_intake([spec(tmp_path / "archive")])
            intake.start()
            results = collect(intake, until=count(1), timeout=10)
            assert intake.health()[0].status == "watching"
    finally:
        (tmp_path / "archive").chmod(0o755)
    assert names(results) == ["old.wav"]


def test_wait_wakes_on_an_event_and_on_stop(tmp_path: Path, make_intake: MakeIntake) -> None:
    intake = make_intake([spec(tmp_path)])
    intake.start()
    intake.take_ready()
    assert intake.wait(0.2) is False
    timer = threading.Timer(0.3, lambda: write(tmp_path / "wake up.wav"))
    timer.start()
    started = time.monotonic()
    try:
        assert intake.wait(10) is True
    finally:
        timer.join()
    assert time.monotonic() - started < 5
    intake.take_ready()
    stopper = threading.Timer(0.2, intake.stop)
    stopper.start()
    try:
        assert intake.wait(10) is True
    finally:
        stopper.join()
    assert intake.health()[0].status == "stopped"


def test_native_watcher_limits_fall_back_to_polling(tmp_path: Path) -> None:
    def exhausted() -> object:
        raise OSError(errno.ENOSPC, "inotify watch limit reached")

    inbox = EventInbox()
    watcher = start_watcher(
        str(tmp_path),
        EventForwarder(inbox, 0),
        recursive=False,
        mode="native",
        poll_interval=0.2,
        native_factory=exhausted,  # type: ignore[arg-type]  # it never returns
    )
    try:
        assert watcher.mode == "poll"
        assert watcher.fallback_reason == "inotify watch limit reached"
        assert watcher.is_alive()
        write(tmp_path / "seen by polling.wav")
        assert inbox.wait(5)
        paths, _ = inbox.drain()
        assert (0, str(tmp_path / "seen by polling.wav")) in paths
    finally:
        watcher.stop()
        watcher.join(2)


def test_removing_the_folder_drops_its_candidates(
    tmp_path: Path, make_intake: MakeIntake, readiness: ScriptedReadiness
) -> None:
    hot = tmp_path / "hot"
    write(hot / "soon gone.wav")
    intake = make_intake([spec(hot, stability_seconds=0.5)])
    intake.start()
    shutil.rmtree(hot)
    assert collect(intake, until=lambda _: False, timeout=0.8) == []
    assert intake.pending() == []
    assert readiness.calls == []
