"""Desktop notifications on Linux, through the freedesktop notification service on D-Bus.

pystray's xorg backend has none, and its GTK and AppIndicator backends keep a single
notification that each new one replaces (and close it when the tray quits): two takes
finishing together would leave one word. Here every notice is a notification of its own (one
per take), sent by ``notify-send`` (libnotify) when it is installed, else by Gio's D-Bus
client when PyGObject can be imported; neither is a dependency of mvsepd. A notice that cannot
be sent raises ``MvsepdError`` (the tray logs it and goes on).
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

from mvsepd.errors import MvsepdError

APP_NAME = "mvsepd"
_SERVICE = "org.freedesktop.Notifications"
_PATH = "/org/freedesktop/Notifications"
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
        self._gio = None if self._notify_send else gio()

    @property
    def means(self) -> str:
        """How notices are sent, in words ("" when they cannot be)."""
        if self._notify_send:
            return "notify-send"
        return "D-Bus (Gio)" if self._gio else ""

    def notify(self, title: str, message: str) -> None:
        """Show one notification; MvsepdError when it cannot be."""
        if self._notify_send:
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
