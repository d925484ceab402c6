"""The tray's behaviour against a real daemon and emulator, with a fake icon in place of pystray."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from mvsepd.client.control import ControlClient
from mvsepd.paths import AppPaths
from mvsepd.tray import DaemonOwner, TrayApp, TrayFiles
from mvsepd.tray.badge import IconState, number_state, render
from mvsepd.tray.view import MenuEntry
from tests.statusapi.conftest import MakeHarness
from tests.statusapi.harness import Harness, wait_until


class FakeIcon:
    """Records what the tray shows; ``click`` acts like a user choosing a menu entry."""

    supports_menu = True
    supports_notifications = True

    def __init__(
        self, image: Image.Image, title: str, on_click: Callable[[MenuEntry], None]
    ) -> None:
        self.images = [image]
        self.titles = [title]
        self.menus: list[tuple[MenuEntry, ...]] = []
        self.notices: list[tuple[str, str]] = []
        self.on_click = on_click
        self.running = threading.Event()
        self.stopped = threading.Event()

    def run(self, setup: Callable[[], None]) -> None:
        self.running.set()
        setup()
        self.stopped.wait()

    def stop(self) -> None:
        self.stopped.set()

    def set_image(self, image: Image.Image) -> None:
        self.images.append(image)

    def set_title(self, title: str) -> None:
        self.titles.append(title)

    def set_menu(self, entries: tuple[MenuEntry, ...]) -> None:
        self.menus.append(entries)

    def notify(self, title: str, message: str) -> None:
        self.notices.append((title, message))

    def shows(self, state: IconState) -> bool:
        return self.images[-1] is render(state)

    def click(self, text: str) -> None:
        entry = next(entry for entry in self.menus[-1] if entry.text.startswith(text))
        self.on_click(entry)


class Tray:
    """A ``TrayApp`` running in a thread (the fake icon needs no main thread)."""

    def __init__(self, app: TrayApp) -> None:
        self.app = app
        self.icon: FakeIcon = app.icon  # type: ignore[assignment]
        self.thread = threading.Thread(target=app.run, name="test-tray", daemon=True)
        self.opened: list[Path] = []

    def texts(self) -> list[str]:
        return [entry.text for entry in self.icon.menus[-1]]


@pytest.fixture
def make_tray(user_paths: AppPaths) -> Iterator[Callable[..., Tray]]:
    trays: list[Tray] = []

    def make(owner: DaemonOwner | None = None, **options: Any) -> Tray:
        opened: list[Path] = []
        app = TrayApp(
            FakeIcon,
            lambda: ControlClient.discover(user_paths),
            files=TrayFiles(log_file=user_paths.log_file, config_file=user_paths.config_file),
            owner=owner,
            opener=opened.append,
            retry_seconds=0.2,
            **options,
        )
        tray = Tray(app)
        tray.opened = opened
        trays.append(tray)
        tray.thread.start()
        return tray

    yield make
    for tray in trays:
        tray.app.quit()
        tray.thread.join(timeout=5)


def test_the_icon_shows_the_next_queue_position_and_follows_it(
    harness: Harness, make_tray: Callable[..., Tray]
) -> None:
    ahead = harness.jobs_of_someone_else(2)
    harness.drop("My Mix.wav")
    tray = make_tray()

    wait_until(lambda: tray.icon.shows(number_state(3)), 10, "the badge 3")
    assert tray.icon.titles[-1] == "1 waiting (next: 3rd of 3) · 0 done today"
    assert tray.texts()[0] == "My Mix.wav: waiting, 3rd of 3"

    harness.cancel_someone_elses(ahead[0])

    wait_until(lambda: tray.icon.shows(number_state(2)), 5, "the badge 2")
    assert tray.texts()[0] == "My Mix.wav: waiting, 2nd of 2"


def test_pause_and_resume_from_the_menu(harness: Harness, make_tray: Callable[..., Tray]) -> None:
    tray = make_tray()
    wait_until(lambda: tray.icon.shows(IconState("idle", "idle")), 10, "the idle icon")

    tray.icon.click("Pause")

    wait_until(lambda: tray.icon.shows(IconState("paused", "paused")), 5, "the paused icon")
    assert harness.status()["daemon"]["paused"] is True
    assert "Resume" in tray.texts() and tray.icon.titles[-1].endswith("· paused")

    tray.icon.click("Resume")

    wait_until(lambda: harness.status()["daemon"]["paused"] is False, 5, "resumed")
    wait_until(lambda: tray.icon.shows(IconState("idle", "idle")), 5, "the idle icon again")


def test_stems_ready_are_announced_and_open_from_the_menu(
    make_harness: MakeHarness, make_tray: Callable[..., Tray]
) -> None:
    harness = make_harness(queue_seconds=0.2, processing_seconds=0.2)
    tray = make_tray()
    wait_until(lambda: tray.icon.menus, 10, "the first menu")
    harness.drop("Finished.wav")

    wait_until(lambda: tray.icon.notices, 20, "a notification")

    title, message = tray.icon.notices[0]
    assert title == "Stems ready" and message.startswith("Finished.wav: stems ready")
    wait_until(lambda: "Finished.wav: stems ready" in tray.texts(), 5, "the recent result")
    tray.icon.click("Finished.wav: stems ready")
    wait_until(lambda: tray.opened, 5, "the folder opened")
    assert tray.opened[0].is_dir() and tray.opened[0].parent.name == "Exports stems"
    assert "1 done today" in tray.icon.titles[-1]


def test_the_tray_waits_for_the_daemon_and_follows_it_across_a_restart(
    make_harness: MakeHarness, make_tray: Callable[..., Tray]
) -> None:
    harness = make_harness(start=False)
    tray = make_tray()
    wait_until(lambda: "not running" in tray.icon.titles[-1], 5, "no daemon said")
    assert tray.icon.shows(IconState("offline", "offline"))

    harness.start_daemon()
    wait_until(lambda: tray.icon.shows(IconState("idle", "idle")), 10, "the daemon found")

    harness.stop_daemon()
    wait_until(lambda: tray.icon.shows(IconState("offline", "offline")), 10, "the daemon gone")
    assert tray.texts()[0].startswith("mvsepd is not running")

    harness.start_daemon()  # a new port and a new token
    wait_until(lambda: tray.icon.shows(IconState("idle", "idle")), 10, "the new daemon found")


def test_quit_daemon_is_offered_when_the_tray_runs_it(
    harness: Harness, make_tray: Callable[..., Tray]
) -> None:
    assert harness.daemon is not None
    stop = harness.daemon.stop_event
    tray = make_tray(owner=DaemonOwner(stopped=stop, quit=stop.set))
    wait_until(lambda: "Quit daemon" in tray.texts(), 10, "the Quit daemon entry")

    tray.icon.click("Quit daemon")

    wait_until(stop.is_set, 5, "the daemon asked to stop")
    tray.thread.join(timeout=5)
    assert not tray.thread.is_alive()


def test_missing_log_file_is_explained_instead_of_opened(
    harness: Harness, make_tray: Callable[..., Tray]
) -> None:
    tray = make_tray()
    wait_until(lambda: tray.icon.menus, 10, "the first menu")
    tray.icon.click("Open log")
    wait_until(lambda: tray.icon.notices, 5, "the explanation")
    assert "--log-file" in tray.icon.notices[0][1]
    assert tray.opened == []
