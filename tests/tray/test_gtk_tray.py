"""The tray on pystray's GTK backend, as a Linux desktop with PyGObject gets it: Xvfb, trayer
(an XEmbed tray host), a session D-Bus with a notification service, and ``mvsepd tray`` from
this venv, which finds the system's PyGObject itself (``mvsepd.tray.systemgi``).

A right click opens the menu (its screenshot is ``test-artifacts/tray-gtk-menu.png``); its
first item, chosen with the keyboard, and a left click on the icon both open the latest
take's stems folder (``xdg-open`` is a stand-in on PATH that writes down what it was given);
each take that finishes is announced once through the notification service.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.statusapi.harness import MVSEP_TOKEN, Harness, wait_until
from tests.tray.desktop import (
    ARTIFACTS,
    DBUS_DAEMON,
    TRAYER,
    XVFB,
    Box,
    BusService,
    click,
    embedded_icon,
    gtk_usable,
    on_screen,
    open_display,
    opened,
    press,
    save_artifact,
    start_tray,
    stop,
)

pytestmark = pytest.mark.skipif(
    not (XVFB and TRAYER and DBUS_DAEMON and gtk_usable()),
    reason="!!! THE GTK TRAY TEST DID NOT RUN: it needs Xvfb, trayer, dbus-daemon and the "
    "system's PyGObject with GTK 3 for this Python (Debian packages xvfb trayer dbus "
    "python3-gi gir1.2-gtk-3.0; scripts/test installs them with apt-get) !!!",
)


def _ours(wm_class: Any) -> bool:
    return bool(wm_class) and wm_class[0] == "mvsepd"


def _menu_window(display: Any) -> Any | None:
    """The tray's popup menu: a mapped override-redirect window of the tray on the root."""
    for window in display.screen().root.query_tree().children:
        try:
            attributes = window.get_attributes()
            shown = attributes.map_state == 2 and attributes.override_redirect
            if shown and _ours(window.get_wm_class()):
                return window
        except Exception:  # noqa: S112 (a window that went away while we looked)
            continue
    return None


def test_gtk_menu_opens_on_right_click_the_page_and_the_latest_stems(
    display: str,
    tray_host: subprocess.Popen[bytes],
    session_bus: str,
    notification_service: BusService,
    finished_take: tuple[Harness, str],
    tmp_path: Path,
) -> None:
    harness, stems = finished_take
    tray = start_tray(display, session_bus, tmp_path)
    said, record = tray.said, tray.record
    x_display = open_display(display)
    try:
        wait_until(lambda: "mvsepd tray: GTK icon" in said.read_text(), 20, "the start line")

        def laid_out() -> Box | None:
            # trayer gives an icon its place a moment after embedding it.
            icon = embedded_icon(x_display, _ours)
            where = on_screen(x_display, icon) if icon is not None else None
            return where if where and min(where[2] - where[0], where[3] - where[1]) >= 16 else None

        box: Box = wait_until(laid_out, 20, "the GTK icon embedded and laid out")

        click(x_display, box, 3)
        menu = wait_until(lambda: _menu_window(x_display), 10, "the menu after a right click")
        screenshot = save_artifact(display, (0, 0, 640, 480), "tray-gtk-menu")
        menu_box = on_screen(x_display, menu)
        assert menu_box[1] >= box[3] - 2, "the menu opens below the icon in the top panel"
        # The first line (how things stand) is not clickable: Down selects the first item
        # (the page), Down again the second (the latest stems).
        press(x_display, "Down")
        press(x_display, "Down")
        press(x_display, "Return")
        wait_until(lambda: opened(record), 10, "Open stems folder to open the folder")
        assert opened(record) == [stems]
        wait_until(lambda: _menu_window(x_display) is None, 5, "the menu closed")

        click(x_display, box, 1)
        wait_until(lambda: len(opened(record)) == 2, 10, "a left click to open the page")
        assert opened(record)[1].startswith(harness.url + "/sign-in?code=")

        harness.drop("Second Take.wav")
        notification_service.wait_for(1)
        harness.drop("Third Take.wav")
        notification_service.wait_for(2)
    finally:
        x_display.close()
        code, _ = stop(tray.process)
        words = said.read_text()
        print(f"mvsepd tray ended with {code}; it said:\n{words}")  # shown with a failure
    received = notification_service.received()
    assert [(n["app"], n["summary"], n["replaces"]) for n in received] == [
        ("mvsepd", "Stems ready", 0),
        ("mvsepd", "Stems ready", 0),
    ], "one notification of its own per take"
    assert received[0]["body"].startswith("Second Take.wav: stems ready in ")
    assert received[1]["body"].startswith("Third Take.wav: stems ready in ")
    assert screenshot == ARTIFACTS / "tray-gtk-menu.png" and screenshot.exists()
    assert "Traceback" not in words and MVSEP_TOKEN not in words
