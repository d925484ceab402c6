"""``TrayApp``: the tray's behaviour, independent of pystray (which ``backend`` plugs in).

The first item of the menu (and the icon's left click) opens mvsepd's page in the default
browser, signed in (a one-time address the daemon gives); the second opens the latest take's
stems folder; the last few takes follow, each opening its page, as a click on a take's
"Stems ready" notification does where the desktop reports clicks. The icon's event loop owns
the main thread (``run``). A worker thread follows the daemon's status API (long-poll;
reconnects when the daemon restarts), turns each picture into a ``TrayView``, announces
finished takes and failed jobs, and shows the view, throttled and only what changed. Menu
clicks arrive on the icon's thread and are handed to short worker threads, so a slow daemon
never freezes the menu. ``run --tray`` passes a ``DaemonOwner``: the tray then offers "Quit
daemon" and closes when that daemon stops. Dismissing failures is the daemon's
(``ControlClient.dismiss``), so the tray, ``mvsepd dismiss`` and the page agree.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import structlog
from PIL import Image

from mvsepd.client.control import ControlClient, Update, follow
from mvsepd.client.desktop import open_in_file_manager
from mvsepd.errors import MvsepdError
from mvsepd.tray import DaemonOwner, TrayFiles
from mvsepd.tray.badge import render
from mvsepd.tray.throttle import Throttle
from mvsepd.tray.view import MenuEntry, Notice, Notifications, TrayView, build_view, latest_stems

log = structlog.get_logger("mvsepd.tray")


class TrayIcon(Protocol):
    """What the tray needs from an icon backend (pystray's, or a test's fake)."""

    supports_menu: bool
    supports_notifications: bool
    #: False where the backend shows no tooltip: its words then open the menu.
    shows_tooltip: bool

    def run(self, setup: Callable[[], None]) -> None:
        """Show the icon and run its event loop until ``stop`` (main thread); call ``setup``."""

    def stop(self) -> None:
        """End the event loop (from any thread)."""

    def set_image(self, image: Image.Image) -> None:
        """Show a new image."""

    def set_title(self, title: str) -> None:
        """Show a new tooltip."""

    def set_menu(self, entries: tuple[MenuEntry, ...]) -> None:
        """Show a new menu."""

    def notify(self, title: str, message: str, on_click: Callable[[], None] | None = None) -> None:
        """Show a desktop notification; ``on_click`` is called when the user clicks it, where
        the desktop tells (else the click does what the desktop does)."""


#: Builds the icon: (first image, first tooltip, what to do when a menu entry is clicked).
IconFactory = Callable[[Image.Image, str, Callable[[MenuEntry], None]], TrayIcon]


class TrayApp:
    """The tray icon of one daemon."""

    def __init__(
        self,
        factory: IconFactory,
        connect: Callable[[], ControlClient],
        *,
        files: TrayFiles,
        owner: DaemonOwner | None = None,
        opener: Callable[[Path], None] = open_in_file_manager,
        browser: Callable[[str], None] = open_in_file_manager,
        throttle: Throttle | None = None,
        wait_seconds: float = 25.0,
        retry_seconds: float = 1.0,
    ) -> None:
        self._connect = connect
        self._files = files
        self._owner = owner
        self._opener = opener
        self._browser = browser
        self._throttle = throttle or Throttle()
        self._wait_seconds = wait_seconds
        self._retry_seconds = retry_seconds
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._show_lock = threading.Lock()
        self._client: ControlClient | None = None
        self._last_update = Update(None, "connecting to the daemon ...")
        self._notifications = Notifications()
        first = build_view(None, problem=self._last_update.problem)
        self.icon = factory(render(first.icon), first.tooltip, self._clicked)
        # The menu depends on the backend (a status line where it shows no tooltip).
        self.shown: TrayView = self._view(self._last_update)
        self.icon.set_menu(self.shown.menu)
        self._worker = threading.Thread(target=self._follow, name="mvsepd-tray", daemon=True)

    # --- life -------------------------------------------------------------------------------

    def run(self) -> None:
        """Show the icon until Quit (call on the main thread: macOS requires it)."""
        if self._owner is not None:
            threading.Thread(
                target=self._quit_with_owner, name="mvsepd-tray-owner", daemon=True
            ).start()
        self.icon.run(self._worker.start)
        self._stop.set()

    def quit(self) -> None:
        """Close the tray (the daemon, if another process, goes on)."""
        self._stop.set()
        self.icon.stop()

    @property
    def stopped(self) -> threading.Event:
        """Set once the tray is closing."""
        return self._stop

    def _quit_with_owner(self) -> None:
        assert self._owner is not None
        self._owner.stopped.wait()
        self.quit()

    # --- following the daemon -----------------------------------------------------------------

    def _remember_client(self) -> ControlClient:
        client = self._connect()
        with self._lock:
            self._client = client
        return client

    def _follow(self) -> None:
        updates = follow(
            self._remember_client,
            self._stop,
            wait_seconds=self._wait_seconds,
            retry_seconds=self._retry_seconds,
        )
        for update in updates:
            if self._stop.is_set():
                break
            try:
                self.receive(update)
            except Exception:
                log.exception("tray_update_failed")

    def receive(self, update: Update) -> None:
        """Show a new picture (or that the daemon cannot be reached), and its notices."""
        notices: list[Notice] = []
        with self._lock:
            self._last_update = update
            if update.picture is not None:
                notices = self._notifications.update(update.picture)
            else:
                self._client = None
        for notice in notices:
            self._notify(notice)
        self._refresh()

    def _view(self, update: Update) -> TrayView:
        return build_view(
            update.picture,
            problem=update.problem,
            owns_daemon=self._owner is not None,
            status_line=not self.icon.shows_tooltip,
        )

    def _refresh(self) -> None:
        """Show the view of the latest update: what changed only, throttled."""
        with self._show_lock:
            delay = self._throttle.delay()
            if delay > 0 and self._stop.wait(delay):
                return
            with self._lock:
                # Computed after the wait: a newer picture that came meanwhile is the one shown.
                view = self._view(self._last_update)
                previous, self.shown = self.shown, view
            if view.icon != previous.icon:
                self.icon.set_image(render(view.icon))
            if view.tooltip != previous.tooltip:
                self.icon.set_title(view.tooltip)
            if view.menu != previous.menu:
                self.icon.set_menu(view.menu)
            self._throttle.shown()

    def _notify(self, notice: Notice) -> None:
        log.info("tray_notice", title=notice.title, message=notice.message)
        if self.icon.supports_notifications:
            # A notification service that went away is no reason to stop the tray.
            on_click = None
            if notice.take is not None:
                take = notice.take
                on_click = lambda: self.perform("open_take", str(take))  # noqa: E731
            try:
                self.icon.notify(notice.title, notice.message, on_click)
            except Exception as error:  # noqa: BLE001 (any backend failure; logged)
                log.warning("tray_notify_failed", error=str(error))

    # --- menu -------------------------------------------------------------------------------

    def _clicked(self, entry: MenuEntry) -> None:
        threading.Thread(
            target=self.perform,
            args=(entry.action, entry.argument),
            name="mvsepd-tray-action",
            daemon=True,
        ).start()

    def perform(self, action: str, argument: str = "") -> None:
        """Do what a menu entry says (in the calling thread)."""
        try:
            self._perform(action, argument)
        except MvsepdError as error:
            self._notify(Notice("mvsepd", str(error)))
        except OSError as error:
            self._notify(Notice("mvsepd", f"cannot open {argument}: {error.strerror or error}"))

    def _perform(self, action: str, argument: str) -> None:
        if action == "open_page":
            self.open_page()
        elif action == "open_take":
            self.open_page(f"/takes/{int(argument)}")
        elif action == "open_latest":
            self.open_latest()
        elif action == "open":
            self._opener(Path(argument))
        elif action in ("pause", "resume", "retry_failed", "dismiss_failed"):
            client = self._client or self._remember_client()
            if action == "pause":
                client.pause()
            elif action == "resume":
                client.resume()
            elif action == "dismiss_failed":
                client.dismiss()
            else:
                for job_id in self.shown.retry_ids:
                    client.retry(job_id)
        elif action == "open_log":
            self._open_file(
                self._files.log_file, "the daemon writes no log file; start it with --log-file"
            )
        elif action == "open_config":
            self._open_file(
                self._files.config_file,
                "there is no configuration file yet; create one with `mvsepd config init`",
            )
        elif action == "quit_daemon" and self._owner is not None:
            self._owner.quit()
            self.quit()
        elif action == "quit_tray":
            self.quit()

    def open_page(self, landing: str | None = None) -> None:
        """The menu's first item and the icon's left click: mvsepd's page in the default
        browser, already signed in (a one-time address from the daemon); at ``landing`` (a
        take's page, from the menu's takes or a "Stems ready" notification) when given."""
        client = self._client or self._remember_client()
        self._browser(client.page_sign_in(landing))

    def open_latest(self) -> None:
        """The menu's second item: the latest take's stems folder."""
        with self._lock:
            latest = latest_stems(self._last_update.picture)
        if latest is None:
            self._notify(
                Notice("mvsepd", "No stems yet: they appear here when the first take is done.")
            )
            return
        self._opener(Path(str(latest["output_dir"])))

    def _open_file(self, path: Path, missing: str) -> None:
        if path.exists():
            self._opener(path)
        else:
            self._notify(Notice("mvsepd", f"{missing} ({path})"))
