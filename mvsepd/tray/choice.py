"""Which pystray backend the tray runs on, and the one line that says what it lacks.

pystray picks its backend once, when imported, as the first that imports (AppIndicator, GTK,
then xorg on Linux), blind to what the desktop shows. So on Linux, unless ``PYSTRAY_BACKEND``
names one, the tray chooses before pystray is imported and sets ``PYSTRAY_BACKEND``:

- with PyGObject (the interpreter's own or the system's, see ``systemgi``), GTK 3 and a
  session D-Bus: **AppIndicator** when a StatusNotifierItem host is on the bus
  (``org.kde.StatusNotifierWatcher``: KDE, GNOME with the AppIndicator extension, XFCE, ...)
  and an AppIndicator typelib is installed; else **GTK** when an XEmbed tray host owns
  ``_NET_SYSTEM_TRAY_S<n>`` (trayer, stalonetray, older panels);
- without them: **xorg** (python-xlib only) when an XEmbed host is there: an icon and a left
  click, no menu.

A panel that starts with the session may come a moment after the tray: hosts are looked for
during ``HOST_WAIT_SECONDS`` before giving up with a sentence (``TrayUnavailableError``).
The probes are a seam (``Probes``); the real ones ask D-Bus through Gio and X11 through Xlib.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mvsepd.errors import MvsepdError
from mvsepd.tray import systemgi

#: How long to wait for a system tray host that starts together with the session.
HOST_WAIT_SECONDS = 5.0
#: What gives the tray a menu on Linux, per distribution.
MENU_PACKAGES = (
    "Debian/Ubuntu: sudo apt install python3-gi gir1.2-gtk-3.0 "
    "gir1.2-ayatanaappindicator3-0.1; Fedora: sudo dnf install python3-gobject gtk3 "
    "libayatana-appindicator-gtk3; Arch: sudo pacman -S python-gobject gtk3 "
    "libayatana-appindicator"
)
_SNI_WATCHER = "org.kde.StatusNotifierWatcher"
_GNOME_HINT = (
    "start the desktop's tray or panel, or on GNOME install the AppIndicator extension "
    f"(and for a menu: {MENU_PACKAGES})"
)


class TrayUnavailableError(MvsepdError):
    """No tray icon can be shown here (no display, no backend, no tray host)."""


@dataclass(frozen=True)
class Backend:
    """The pystray backend the tray runs on, and what it can do there."""

    name: str
    #: pystray's backend shows its title as a tooltip (else it goes in the menu's first line).
    shows_tooltip: bool = False
    #: Why this one (a backend without a menu says why GTK could not be used).
    why: str = ""

    def line(self, notifications: str) -> str:
        """The one line said at start: which backend, what it lacks, how to get a menu.

        ``notifications`` names how notifications are sent ("" when they cannot be).
        """
        what, lacks = _WORDS.get(self.name, (f"pystray's {self.name} backend", ""))
        why = f" ({self.why})" if self.why else ""
        told = f"notifications by {notifications}" if notifications else "no notifications"
        more = f"; for a menu: {MENU_PACKAGES}" if self.name == "xorg" else ""
        return f"mvsepd tray: {what}{why}: {lacks}; {told}{more}"


_WORDS = {
    "appindicator": (
        "AppIndicator icon (StatusNotifierItem) with a menu",
        "no tooltip and no left-click action (the menu's first line says how things stand)",
    ),
    "gtk": (
        "GTK icon in the X11 tray with a menu",
        "no tooltip (the menu's first line says how things stand); right click: the menu, "
        "left click: mvsepd's page",
    ),
    "xorg": (
        "plain X11 icon of pystray's xorg backend",
        "no menu and no tooltip, a left click opens mvsepd's page",
    ),
    "win32": ("Windows notification-area icon with a menu", "a left click opens mvsepd's page"),
    "darwin": ("macOS menu-bar icon with a menu", "a click opens the menu"),
}


def check_display(environ: dict[str, str] | None = None, platform: str = sys.platform) -> None:
    """Raise TrayUnavailableError when there is no graphical session to show a tray icon in."""
    environ = dict(os.environ) if environ is None else environ
    if platform in ("win32", "darwin"):
        return
    if not environ.get("DISPLAY") and not environ.get("WAYLAND_DISPLAY"):
        raise TrayUnavailableError(
            "no graphical display (DISPLAY and WAYLAND_DISPLAY are not set): the tray runs in "
            "a desktop session; `mvsepd status` works anywhere"
        )


def x11_tray_host_present(display_name: str | None = None) -> bool:
    """True when an X11 system tray host owns the ``_NET_SYSTEM_TRAY_Sn`` selection."""
    xlib_display = importlib.import_module("Xlib.display")
    display = xlib_display.Display(display_name)
    try:
        atom = display.intern_atom(f"_NET_SYSTEM_TRAY_S{display.get_default_screen()}")
        owner = display.get_selection_owner(atom)
        return bool(getattr(owner, "id", owner))
    finally:
        display.close()


def wait_for_x11_tray_host(
    timeout: float = HOST_WAIT_SECONDS, probe: Callable[[], bool] = x11_tray_host_present
) -> None:
    """Wait up to ``timeout`` s for a tray host; raise TrayUnavailableError if none comes."""
    deadline = time.monotonic() + timeout
    while not _ask(probe):
        if time.monotonic() >= deadline:
            raise TrayUnavailableError(
                "no system tray host on this display (nothing owns the _NET_SYSTEM_TRAY "
                f"selection after {timeout:g} s): {_GNOME_HINT}"
            )
        time.sleep(0.2)


def _ask(probe: Callable[[], bool]) -> bool:
    try:
        return probe()
    except Exception as error:  # noqa: BLE001 (an X server or bus that went away, in its words)
        raise TrayUnavailableError(f"cannot ask the desktop for a tray: {error}") from None


# --- the probes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probes:
    """What the choice asks of the desktop (a seam: tests pass their own answers)."""

    #: Why GTK cannot be used ("" when PyGObject, GTK 3 and a session D-Bus are there).
    gtk_problem: Callable[[], str]
    #: True when an AppIndicator typelib (Ayatana's or Ubuntu's) is installed.
    appindicator: Callable[[], bool]
    #: True when a StatusNotifierItem host is on the session bus.
    sni_host: Callable[[], bool]
    #: True when an XEmbed tray host owns the X11 tray selection.
    xembed_host: Callable[[], bool]


def _gtk_problem() -> str:
    source = systemgi.make_gi_importable()
    if not source.found:
        return source.problem
    gi: Any = importlib.import_module("gi")
    try:
        gi.require_version("Gtk", "3.0")
        gi.require_version("Gio", "2.0")
    except ValueError as error:
        return f"GTK 3 for PyGObject is not installed ({error})"
    gio: Any = importlib.import_module("gi.repository.Gio")
    glib: Any = importlib.import_module("gi.repository.GLib")
    try:
        gio.bus_get_sync(gio.BusType.SESSION, None)
    except glib.Error as error:
        return f"no session D-Bus ({error.message})"
    # Tray hosts and window lists name the icon by the program: "mvsepd", not "__main__.py".
    glib.set_prgname("mvsepd")
    return ""


def _appindicator() -> bool:
    gi: Any = importlib.import_module("gi")
    for namespace in ("AyatanaAppIndicator3", "AppIndicator3"):
        try:
            gi.require_version(namespace, "0.1")
        except ValueError:
            continue
        return True
    return False


def _sni_host() -> bool:
    gio: Any = importlib.import_module("gi.repository.Gio")
    glib: Any = importlib.import_module("gi.repository.GLib")
    bus = gio.bus_get_sync(gio.BusType.SESSION, None)
    try:
        answer = bus.call_sync(
            _SNI_WATCHER,
            "/StatusNotifierWatcher",
            "org.freedesktop.DBus.Properties",
            "Get",
            glib.Variant("(ss)", (_SNI_WATCHER, "IsStatusNotifierHostRegistered")),
            glib.VariantType("(v)"),
            gio.DBusCallFlags.NO_AUTO_START,
            1000,
            None,
        )
    except glib.Error:
        return False  # no watcher on the bus (or one that cannot tell): no host
    return bool(answer.unpack()[0])


def _xembed_host() -> bool:
    return bool(os.environ.get("DISPLAY")) and x11_tray_host_present()


SYSTEM_PROBES = Probes(_gtk_problem, _appindicator, _sni_host, _xembed_host)


# --- the choice -------------------------------------------------------------------------------


def choose_backend(
    *,
    wait_seconds: float = HOST_WAIT_SECONDS,
    environ: dict[str, str] | None = None,
    platform: str = sys.platform,
    probes: Probes = SYSTEM_PROBES,
) -> Backend:
    """Choose the backend, waiting up to ``wait_seconds`` for a tray host."""
    environ = dict(os.environ) if environ is None else environ
    check_display(environ, platform)
    if platform in ("win32", "darwin"):
        return Backend(platform, shows_tooltip=True)
    requested = environ.get("PYSTRAY_BACKEND", "")
    if requested:
        return _requested(requested, wait_seconds, probes)
    gtk_problem = probes.gtk_problem()
    deadline = time.monotonic() + wait_seconds
    while True:
        if not gtk_problem:
            if _ask(probes.sni_host) and probes.appindicator():
                return Backend("appindicator")
            if _ask(probes.xembed_host):
                return Backend("gtk")
        elif _ask(probes.xembed_host):
            return Backend("xorg", why=gtk_problem)
        if time.monotonic() >= deadline:
            without_gtk = f"; GTK cannot be used: {gtk_problem}" if gtk_problem else ""
            raise TrayUnavailableError(
                f"no system tray host appeared within {wait_seconds:g} s (no StatusNotifierItem "
                f"host on the session bus, nothing owns the X11 _NET_SYSTEM_TRAY selection"
                f"{without_gtk}): {_GNOME_HINT}"
            )
        time.sleep(0.2)


def _requested(name: str, wait_seconds: float, probes: Probes) -> Backend:
    """``PYSTRAY_BACKEND`` set by the user: that backend (GTK ones get the system's gi)."""
    if name == "dummy":
        raise TrayUnavailableError(
            "PYSTRAY_BACKEND=dummy shows nothing: unset it, or name appindicator, gtk or xorg"
        )
    problem = probes.gtk_problem() if name in ("gtk", "appindicator") else ""
    if problem:
        raise TrayUnavailableError(
            f"PYSTRAY_BACKEND={name} needs PyGObject with GTK 3 and a session D-Bus: {problem}"
            f" ({MENU_PACKAGES})"
        )
    if name in ("gtk", "xorg"):
        wait_for_x11_tray_host(wait_seconds, probes.xembed_host)
    return Backend(name, why="set by PYSTRAY_BACKEND")
