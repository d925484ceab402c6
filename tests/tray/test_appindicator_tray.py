"""The tray on pystray's AppIndicator backend, as KDE, XFCE or GNOME with the AppIndicator
extension get it: a StatusNotifierItem host on the session bus (a stand-in watcher), and
``mvsepd tray`` from this venv with the system's PyGObject and Ayatana AppIndicator.

The host shows the menu the item exports over DBusMenu; the test reads it there and clicks
entries the way the host does (``com.canonical.dbusmenu.Event``): the first line says how
things stand, "Open mvsepd" opens the page, "Open stems folder" the latest take's folder,
"Dismiss failures" clears the red in the daemon.
"""

from __future__ import annotations

import importlib
import warnings
from pathlib import Path
from typing import Any

import pytest

from mvsepd.tray.systemgi import make_gi_importable
from tests.statusapi.harness import MVSEP_TOKEN, Harness, wait_until
from tests.tray.desktop import (
    DBUS_DAEMON,
    XVFB,
    BusService,
    gtk_usable,
    opened,
    start_tray,
    stop,
)

pytestmark = pytest.mark.skipif(
    not (XVFB and DBUS_DAEMON and gtk_usable("AyatanaAppIndicator3")),
    reason="!!! THE APPINDICATOR TRAY TEST DID NOT RUN: it needs Xvfb, dbus-daemon and the "
    "system's PyGObject with GTK 3 and Ayatana AppIndicator for this Python (Debian packages "
    "xvfb dbus python3-gi gir1.2-gtk-3.0 gir1.2-ayatanaappindicator3-0.1; scripts/test "
    "installs them) !!!",
)


class Host:
    """What a StatusNotifierItem host does with an item: read it, and click its menu."""

    def __init__(self, address: str, bus_name: str, path: str) -> None:
        assert make_gi_importable().found
        gi: Any = importlib.import_module("gi")
        gi.require_version("Gio", "2.0")
        with warnings.catch_warnings():
            # PyGObject 3.42's importer predates exec_module: an ImportWarning on 3.11.
            warnings.simplefilter("ignore", ImportWarning)
            self.gio: Any = importlib.import_module("gi.repository.Gio")
            self.glib: Any = importlib.import_module("gi.repository.GLib")
        flags = self.gio.DBusConnectionFlags
        self.bus = self.gio.DBusConnection.new_for_address_sync(
            address, flags.AUTHENTICATION_CLIENT | flags.MESSAGE_BUS_CONNECTION, None, None
        )
        self.bus_name, self.path = bus_name, path

    def _call(self, path: str, interface: str, method: str, arguments: Any) -> Any:
        answer = self.bus.call_sync(
            self.bus_name, path, interface, method, arguments, None,
            self.gio.DBusCallFlags.NONE, 5000, None,
        )  # fmt: skip
        return answer.unpack() if answer is not None else None

    def item_property(self, name: str) -> Any:
        arguments = self.glib.Variant("(ss)", ("org.kde.StatusNotifierItem", name))
        return self._call(self.path, "org.freedesktop.DBus.Properties", "Get", arguments)[0]

    def menu(self) -> list[tuple[int, str, bool]]:
        """The menu's entries: (id, label, enabled); separators are left out."""
        arguments = self.glib.Variant("(iias)", (0, -1, []))
        layout = self._call(self.item_property("Menu"), "com.canonical.dbusmenu", "GetLayout",
                            arguments)  # fmt: skip
        entries = []
        for entry_id, properties, _children in layout[1][2]:
            if properties.get("type") != "separator":
                entries.append((entry_id, properties["label"], properties.get("enabled", True)))
        return entries

    def labels(self) -> list[str]:
        return [label for _id, label, _enabled in self.menu()]

    def click(self, label_start: str) -> None:
        entry_id = next(
            entry_id for entry_id, label, _ in self.menu() if label.startswith(label_start)
        )
        now = self.glib.Variant("i", 0)
        arguments = self.glib.Variant("(isvu)", (entry_id, "clicked", now, 0))
        self._call(self.item_property("Menu"), "com.canonical.dbusmenu", "Event", arguments)


def test_appindicator_menu_is_exported_and_its_entries_work(
    display: str,
    session_bus: str,
    status_notifier_host: BusService,
    finished_take: tuple[Harness, str],
    tmp_path: Path,
) -> None:
    harness, stems = finished_take
    tray = start_tray(display, session_bus, tmp_path)
    said, record = tray.said, tray.record
    try:
        registered = status_notifier_host.wait_for(1, timeout=20)[0]
        assert "mvsepd tray: AppIndicator icon" in said.read_text()
        host = Host(session_bus, registered["bus_name"], registered["path"])
        assert host.item_property("Id") == "mvsepd"
        wait_until(lambda: host.item_property("Title") == "1 done today", 10, "the title")

        wait_until(lambda: host.labels()[:1] == ["1 done today"], 10, "the status line")
        status, first, second = host.menu()[:3]
        assert status[2] is False, "the status line is not clickable"
        assert (first[1], first[2]) == ("Open mvsepd", True)
        assert (second[1], second[2]) == ("Open stems folder (Night Drive.wav)", True)
        host.click("Open stems folder")
        wait_until(lambda: opened(record), 10, "the stems folder opened")
        assert opened(record) == [stems]
        host.click("Open mvsepd")
        wait_until(lambda: len(opened(record)) == 2, 10, "the page opened")
        assert opened(record)[1].startswith(harness.url + "/sign-in?code=")

        harness.drop_bytes("lyrics.wav", b"these are lyrics, not audio\n" * 40)
        failed = "1 done today · 1 failed"
        wait_until(lambda: host.labels()[0] == failed, 10, "the failure in the status line")
        assert "Dismiss failures" in host.labels()
        host.click("Dismiss failures")
        wait_until(lambda: "Dismiss failures" not in host.labels(), 10, "the failure dismissed")
        assert [job["dismissed"] for job in harness.jobs() if job["phase"] == "failed"] == [True]
        assert host.labels()[0] == "1 done today"
    finally:
        code, _ = stop(tray.process)
        words = said.read_text()
        print(f"mvsepd tray ended with {code}; it said:\n{words}")  # shown with a failure
    assert "Traceback" not in words and MVSEP_TOKEN not in words
