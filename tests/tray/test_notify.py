"""Desktop notifications on Linux: each notice is a notification of its own, sent over the
session D-Bus to the freedesktop notification service by ``notify-send`` or, without it, by
Gio (PyGObject found the way the tray finds it). A stand-in service records what arrives."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.tray.desktop import DBUS_DAEMON, BusService, gtk_usable

pytestmark = pytest.mark.skipif(
    not (DBUS_DAEMON and gtk_usable()),
    reason="!!! THE NOTIFICATION TEST DID NOT RUN: it needs dbus-daemon and the system's "
    "PyGObject for this Python (Debian packages dbus python3-gi gir1.2-gtk-3.0; scripts/test "
    "installs them) !!!",
)

SEND = (
    "import sys\n"
    "from mvsepd.tray.systemgi import make_gi_importable\n"
    "from mvsepd.tray.notify import DesktopNotifier\n"
    "make_gi_importable()\n"
    "notifier = DesktopNotifier(which=lambda name: None) if sys.argv[1] == 'gio' "
    "else DesktopNotifier()\n"
    "print(notifier.means)\n"
    "notifier.notify('Stems ready', '-Take 1.wav: stems ready in Take 1')\n"
    "notifier.notify('Separation failed', 'Notes.wav: not an audio file')\n"
)


@pytest.mark.parametrize("means", ["notify-send", "gio"])
def test_each_notice_is_a_notification_of_its_own(
    means: str, session_bus: str, notification_service: BusService
) -> None:
    if means == "notify-send" and shutil.which("notify-send") is None:
        pytest.fail("notify-send is not installed: scripts/test installs libnotify-bin")
    sent = _run(SEND, session_bus, means)
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.strip() == ("notify-send" if means == "notify-send" else "D-Bus (Gio)")
    received = [
        (notice["app"], notice["replaces"], notice["summary"], notice["body"])
        for notice in notification_service.wait_for(2)
    ]
    assert received == [
        ("mvsepd", 0, "Stems ready", "-Take 1.wav: stems ready in Take 1"),
        ("mvsepd", 0, "Separation failed", "Notes.wav: not an audio file"),
    ]


CLICKED = (
    "import sys, threading\n"
    "from mvsepd.tray.notify import DesktopNotifier\n"
    "clicked = threading.Event()\n"
    "notifier = DesktopNotifier()\n"
    "notifier.notify('Stems ready', 'Verse.wav: stems ready in Verse', clicked.set)\n"
    "print('clicked' if clicked.wait(20) else 'not clicked', flush=True)\n"
)


def test_a_click_on_a_takes_notification_is_heard(
    session_bus: str, notification_service: BusService
) -> None:
    if shutil.which("notify-send") is None:
        pytest.fail("notify-send is not installed: scripts/test installs libnotify-bin")
    sent = _run(CLICKED, session_bus)
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.strip() == "clicked", "the service's click reaches on_click"
    (notice,) = notification_service.wait_for(1)
    assert notice["summary"] == "Stems ready" and notice["actions"] == ["default", "Open"]


def _run(script: str, session_bus: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    """``script`` in a Python of its own, on the test's session bus."""
    return subprocess.run(
        [sys.executable, "-c", script, *arguments],
        env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": session_bus},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
