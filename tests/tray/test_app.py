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
from mvsepd.tray import DaemonOwner, TrayFiles
from mvsepd.tray.app import TrayApp
from mvsepd.tray.badge import IconState, number_state, render
from mvsepd.tray.view import MenuEntry
from tests.statusapi.conftest import MakeHarness
from tests.statusapi.harness import Harness, wait_until


class FakeIcon:
    """Records what the tray shows; ``click`` acts like a user choosing a menu entry."""

    supports_menu = True
    supports_notifications = True
    shows_tooltip = True

    def __init__(
        self, image: Image.Image, title: str, on_click: Callable[[MenuEntry], None]
    ) -> None:
        self.images = [image]
        self.titles = [title]
        self.menus: list[tuple[MenuEntry, ...]] = []
        self.notices: list[tuple[str, str]] = []
        #: What a click on each notice does (None: nothing of mvsepd's).
        self.clicks: list[Callable[[], None] | None] = []
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

    def notify(self, title: str, message: str, on_click: Callable[[], None] | None = None) -> None:
        self.notices.append((title, message))
        self.clicks.append(on_click)

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
        self.browsed: list[str] = []

    def texts(self) -> list[str]:
        return [entry.text for entry in self.icon.menus[-1]]


@pytest.fixture
def make_tray(user_paths: AppPaths) -> Iterator[Callable[..., Tray]]:
    trays: list[Tray] = []

    def make(owner: DaemonOwner | None = None, **options: Any) -> Tray:
        opened: list[Path] = []
        browsed: list[str] = []
        app = TrayApp(
            FakeIcon,
            lambda: ControlClient.discover(user_paths),
            files=TrayFiles(log_file=user_paths.log_file, config_file=user_paths.config_file),
            owner=owner,
            opener=opened.append,
            browser=browsed.append,
            retry_seconds=0.2,
            **options,
        )
        tray = Tray(app)
        tray.opened = opened
        tray.browsed = browsed
        trays.append(tray)
        tray.thread.start()
        return tray

    yield make
    for tray in trays:
        tray.app.quit()
        tray.thread.join(timeout=5)


def test_the_badge_counts_the_files_to_come_not_the_first_ones_place(
    harness: Harness, make_tray: Callable[..., Tray]
) -> None:
    ahead = harness.jobs_of_someone_else(2)
    harness.drop("My Mix.wav")
    tray = make_tray()

    waiting = "1 waiting (next: 3rd of 3) · 0 done today"
    wait_until(lambda: tray.icon.titles[-1] == waiting, 10, "the job 3rd in MVSEP's queue")
    assert tray.icon.shows(number_state(1))
    assert tray.texts()[3] == "My Mix.wav: waiting, 3rd of 3"

    for name in ("Verse.wav", "Chorus.wav", "Bridge.wav"):
        harness.drop(name)
    wait_until(lambda: tray.icon.shows(number_state(4)), 10, "the badge 4")
    harness.cancel_someone_elses(ahead[0])
    wait_until(lambda: tray.texts()[3] == "My Mix.wav: waiting, 2nd of 5", 5, "2nd of 5")
    assert tray.icon.shows(number_state(4))


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
    tray.icon.click("Open stems folder")
    wait_until(lambda: tray.icon.notices, 5, "no stems yet, said")
    assert tray.icon.notices.pop()[1].startswith("No stems yet")
    harness.drop("Finished.wav")

    wait_until(lambda: tray.icon.notices, 20, "a notification")

    title, message = tray.icon.notices[0]
    assert title == "Stems ready" and message.startswith("Finished.wav: stems ready")
    wait_until(lambda: "Finished.wav: stems ready" in tray.texts(), 5, "the recent result")
    assert tray.texts()[1] == "Open stems folder (Finished.wav)"
    tray.icon.click("Open stems folder")
    tray.icon.click("Finished.wav: stems ready")
    wait_until(lambda: len(tray.opened) == 2, 5, "the folder opened twice")
    assert tray.opened[0] == tray.opened[1]
    assert tray.opened[0].is_dir() and tray.opened[0].parent.name == "Exports stems"
    assert "1 done today" in tray.icon.titles[-1]


def test_the_first_item_opens_the_page_signed_in(
    harness: Harness, make_tray: Callable[..., Tray]
) -> None:
    import requests

    tray = make_tray()
    wait_until(lambda: tray.icon.menus, 10, "the first menu")
    first = tray.icon.menus[-1][0]
    assert (first.text, first.default) == ("Open mvsepd", True)
    tray.icon.click("Open mvsepd")
    wait_until(lambda: tray.browsed, 5, "the page opened")
    url = tray.browsed[0]
    assert url.startswith(f"{harness.url}/sign-in?code=")
    session = requests.Session()
    page = session.get(url, timeout=10)
    assert page.ok and page.url == harness.url + "/" and "Folders" in page.text
    assert session.get(url, timeout=10).status_code == 401, "the address works once"
    assert tray.opened == []


def test_a_takes_notice_and_its_menu_item_open_its_page_signed_in(
    make_harness: MakeHarness, make_tray: Callable[..., Tray]
) -> None:
    import requests

    harness = make_harness(queue_seconds=0.2, processing_seconds=0.2)
    tray = make_tray()
    wait_until(lambda: tray.icon.menus, 10, "the first menu")
    harness.drop("Finished.wav")
    wait_until(lambda: tray.icon.notices, 20, "a notification")
    assert len(tray.icon.notices) == 1 and tray.icon.notices[0][0] == "Stems ready"
    take = harness.status()["takes"][0]["id"]
    on_click = tray.icon.clicks[0]
    assert on_click is not None, "a take's notice opens its page when clicked"
    on_click()
    wait_until(lambda: tray.browsed, 5, "the take's page opened")
    answer = requests.get(tray.browsed[0], allow_redirects=False, timeout=10)
    assert answer.status_code == 303 and answer.headers["Location"] == f"/takes/{take}"
    wait_until(lambda: "Listen: Finished.wav" in tray.texts(), 5, "the take in the menu")
    tray.icon.click("Listen: Finished.wav")
    wait_until(lambda: len(tray.browsed) == 2, 5, "the take's page opened from the menu")
    session = requests.Session()
    page = session.get(tray.browsed[1], timeout=10)
    assert page.ok and page.url == f"{harness.url}/takes/{take}" and "Finished.wav" in page.text


def test_dismiss_from_the_menu_is_the_daemons_and_outlives_a_restart(
    harness: Harness, make_tray: Callable[..., Tray]
) -> None:
    tray = make_tray()
    wait_until(lambda: tray.icon.shows(IconState("idle", "idle")), 10, "the idle icon")
    harness.drop_bytes("Notes.wav", b"these are lyrics, not audio\n" * 40)
    wait_until(lambda: tray.icon.shows(IconState("error", "error")), 10, "the red icon")
    assert tray.icon.titles[-1].endswith("· 1 failed")

    tray.icon.click("Dismiss failures")

    wait_until(lambda: tray.icon.shows(IconState("idle", "idle")), 5, "red cleared")
    assert "Dismiss failures" not in tray.texts()
    failed = [job for job in harness.jobs() if job["phase"] == "failed"]
    assert [job["dismissed"] for job in failed] == [True]
    harness.stop_daemon()
    wait_until(lambda: tray.icon.shows(IconState("offline", "offline")), 10, "the daemon gone")
    harness.start_daemon()
    wait_until(lambda: tray.icon.shows(IconState("idle", "idle")), 10, "idle after a restart")
    assert harness.jobs()[0]["dismissed"] is True

    harness.drop_bytes("More notes.wav", b"more lyrics, still not audio\n" * 40)
    wait_until(lambda: tray.icon.shows(IconState("error", "error")), 10, "red for a new failure")


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
    assert tray.texts()[3].startswith("mvsepd is not running")

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
