"""Desktop notifications on Linux, through the freedesktop notification service on D-Bus.

pystray's xorg backend has none, and its GTK and AppIndicator backends keep a single
notification that each new one replaces (and close it when the tray quits): two takes
finishing together would leave one word. Here every notice is a notification of its own (one
per take), sent by ``notify-send`` (libnotify) when it is installed, else by Gio's D-Bus
client when PyGObject can be imported; neither is a dependency of mvsepd. A notice that cannot
be sent raises ``MvsepdError`` (the tray logs it and goes on). A take's "Stems ready" is
clickable through notify-send (``--action``, ``--wait``): a click opens the take's page; sent
through Gio it is not (a click then does what the desktop does).
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import threading
from collections.abc import Callable
from typing import Any

from mvsepd.errors import MvsepdError

APP_NAME = "mvsepd"
_SERVICE = "org.freedesktop.Notifications"
_PATH = "/org/freedesktop/Notifications"
#: The key of a notification's "Open" action (the default action: a click on its body).
CLICK_ACTION = "default"
#: How long a click on a notification opens its take (the tray's menu lists the take after).
CLICK_WAIT_SECONDS = 120
#: How long a notification may take to be accepted (a session bus answers in milliseconds).
SEND_TIMEOUT_SECONDS = 10.0


def _gio() -> tuple[Any, Any] | None:
    """Gio and GLib, if PyGObject can be imported (it is made importable by ``systemgi``)."""
    try:
        gi: Any = importlib.import_module("gi")
        gi.require_version("Gio", "2.0")
        return importlib.import_module("gi.repository.Gio"), importlib.import_module(
            "gi.repository.GLib"
        )
    except (ImportError, ValueError):
        return None


class DesktopNotifier:
    """Sends each notice as its own freedesktop notification."""

    def __init__(
        self,
        *,
        which: Callable[[str], str | None] = shutil.which,
        gio: Callable[[], tuple[Any, Any] | None] = _gio,
    ) -> None:
        self._notify_send = which("notify-send")
        self._timeout = which("timeout")
        self._gio = None if self._notify_send else gio()
        self._lock = threading.Lock()
        #: notify-send processes waiting for a click on their notification.
        self._waiting: set[subprocess.Popen[str]] = set()

    @property
    def means(self) -> str:
        """How notices are sent, in words ("" when they cannot be)."""
        if self._notify_send:
            return "notify-send"
        return "D-Bus (Gio)" if self._gio else ""

    def notify(self, title: str, message: str, on_click: Callable[[], None] | None = None) -> None:
        """Show one notification; MvsepdError when it cannot be. With ``on_click`` (and
        notify-send), the notification offers "Open" and a click on it calls ``on_click``: a
        thread waits for the click while the notification is shown, and ends with it."""
        if self._notify_send and on_click is not None:
            self._clickable(title, message, on_click)
        elif self._notify_send:
            self._by_notify_send(title, message)
        elif self._gio:
            self._by_gio(title, message)
        else:
            raise MvsepdError("no notification service: install notify-send (libnotify)")

    def _by_notify_send(self, title: str, message: str) -> None:
        assert self._notify_send is not None
        try:
            finished = subprocess.run(
                [self._notify_send, f"--app-name={APP_NAME}", "--", title, message],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=SEND_TIMEOUT_SECONDS,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise MvsepdError(f"notify-send failed: {error}") from None
        if finished.returncode != 0:
            said = finished.stderr.strip() or f"exit status {finished.returncode}"
            raise MvsepdError(f"notify-send failed: {said}")

    def _clickable(self, title: str, message: str, on_click: Callable[[], None]) -> None:
        assert self._notify_send is not None
        # Bounded by coreutils' timeout where there is one: a tray that is killed leaves no
        # notify-send waiting for a click past CLICK_WAIT_SECONDS.
        bound = [self._timeout, "-s", "TERM", str(CLICK_WAIT_SECONDS)] if self._timeout else []
        command = [
            *bound,
            self._notify_send,
            f"--app-name={APP_NAME}",
            f"--action={CLICK_ACTION}=Open",
            "--wait",
            "--",
            title,
            message,
        ]
        try:
            waiting = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
        except OSError as error:
            raise MvsepdError(f"notify-send failed: {error}") from None
        with self._lock:
            self._waiting.add(waiting)
        threading.Thread(
            target=self._wait_for_click,
            args=(waiting, on_click),
            name="mvsepd-notification",
            daemon=True,
        ).start()

    def _wait_for_click(self, waiting: subprocess.Popen[str], on_click: Callable[[], None]) -> None:
        # notify-send prints the action's key when it is clicked, and ends when the
        # notification is closed (clicked, dismissed or expired).
        assert waiting.stdout is not None
        try:
            clicked = any(line.strip() == CLICK_ACTION for line in waiting.stdout)
            waiting.wait()
        finally:
            with self._lock:
                self._waiting.discard(waiting)
        if clicked:
            on_click()

    def close(self) -> None:
        """Stop waiting for clicks on the notifications still shown (the tray quits)."""
        with self._lock:
            waiting, self._waiting = self._waiting, set()
        for process in waiting:
            process.terminate()

    def _by_gio(self, title: str, message: str) -> None:
        assert self._gio is not None
        gio, glib = self._gio
        try:
            bus = gio.bus_get_sync(gio.BusType.SESSION, None)
            bus.call_sync(
                _SERVICE,
                _PATH,
                _SERVICE,
                "Notify",
                # app name, replaces id (0: a new one), icon, summary, body, actions, hints,
                # expiry (-1: the server's default)
                glib.Variant("(susssasa{sv}i)", (APP_NAME, 0, "", title, message, [], {}, -1)),
                glib.VariantType("(u)"),
                gio.DBusCallFlags.NONE,
                int(SEND_TIMEOUT_SECONDS * 1000),
                None,
            )
        except glib.Error as error:
            raise MvsepdError(f"the notification service refused: {error.message}") from None
