"""The pystray glue (the only module that imports pystray, lazily: it cannot even be imported
without a display on Linux).

``open_icon_factory`` checks that a tray can be shown at all before anything starts, and says
why not in one sentence (``TrayUnavailableError``) instead of hanging with an invisible icon:
no display; pystray without a usable backend; on X11 no system tray host (the
``_NET_SYSTEM_TRAY_Sn`` selection has no owner after a few seconds). ``PystrayIcon`` adapts a
``pystray.Icon`` to ``TrayIcon``; on macOS every change is handed to the main thread
(AppKit must not be touched from others); the xorg backend gets the work-around in ``xorg``;
pystray's GTK, AppIndicator and Windows backends marshal changes by themselves.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

from PIL import Image

from mvsepd.errors import MvsepdError
from mvsepd.tray import xorg
from mvsepd.tray.app import IconFactory, TrayIcon
from mvsepd.tray.view import MenuEntry

#: How long to wait for a system tray host that starts together with the session.
HOST_WAIT_SECONDS = 5.0


class TrayUnavailableError(MvsepdError):
    """No tray icon can be shown here (no display, no backend, no tray host)."""


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


def import_pystray() -> ModuleType:
    """Import pystray, or say why it cannot be used."""
    try:
        return importlib.import_module("pystray")
    except ImportError as error:
        raise TrayUnavailableError(
            f"the tray needs pystray and Pillow (pip install 'mvsepd[tray]'): {error}"
        ) from None
    # Xlib refusing the display, a broken GTK: each means "no tray here".
    except Exception as error:  # noqa: BLE001 (whatever the toolkit raises)
        raise TrayUnavailableError(
            f"pystray cannot start here ({type(error).__name__}: {error})"
        ) from None


def backend_name(pystray: ModuleType) -> str:
    """The pystray backend in use: appindicator, darwin, gtk, win32, xorg or dummy."""
    module = str(getattr(pystray.Icon, "__module__", ""))
    return module.rsplit(".", 1)[-1].lstrip("_")


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
    while True:
        try:
            if probe():
                return
        except Exception as error:  # noqa: BLE001 (an X server that went away, in Xlib's words)
            raise TrayUnavailableError(f"cannot ask the X server for a tray: {error}") from None
        if time.monotonic() >= deadline:
            raise TrayUnavailableError(
                "no system tray host on this display (nothing owns the _NET_SYSTEM_TRAY "
                f"selection after {timeout:g} s): start the desktop's tray or panel, or on "
                "GNOME enable the AppIndicator extension and set PYSTRAY_BACKEND=appindicator"
            )
        time.sleep(0.2)


def _ui_thread_caller(platform: str = sys.platform) -> Callable[[Callable[[], None]], None]:
    if platform != "darwin":
        return lambda action: action()
    try:
        app_helper: Any = importlib.import_module("PyObjCTools.AppHelper")
    except ImportError:
        return lambda action: action()
    return lambda action: app_helper.callAfter(action)


class PystrayIcon:
    """A ``pystray.Icon`` behind the ``TrayIcon`` interface."""

    def __init__(
        self,
        pystray: ModuleType,
        image: Image.Image,
        title: str,
        on_click: Callable[[MenuEntry], None],
    ) -> None:
        self._pystray = pystray
        self._on_click = on_click
        self._entries: tuple[MenuEntry, ...] = ()
        self._on_ui = _ui_thread_caller()
        # The menu is generated from the current entries each time the backend asks for it.
        self._icon: Any = pystray.Icon("mvsepd", image, title, menu=pystray.Menu(self._items))
        if type(self._icon).__module__.endswith("_xorg"):
            # Changes from the tray's threads would otherwise deadlock python-xlib (see xorg).
            xorg.use_private_connection(self._icon)
        self.supports_menu = bool(self._icon.HAS_MENU)
        self.supports_notifications = bool(self._icon.HAS_NOTIFICATION)

    def _items(self) -> list[Any]:
        return [self._item(entry) for entry in self._entries]

    def _item(self, entry: MenuEntry) -> Any:
        if entry.separator:
            return self._pystray.Menu.SEPARATOR
        action = None
        if entry.action:

            def action(icon: Any, item: Any, entry: MenuEntry = entry) -> None:
                self._on_click(entry)

        return self._pystray.MenuItem(
            entry.text,
            action,
            enabled=entry.enabled and bool(entry.action),
            default=entry.default,
        )

    def run(self, setup: Callable[[], None]) -> None:
        """Show the icon and run pystray's loop (main thread) until ``stop``."""

        def start(icon: Any) -> None:
            icon.visible = True
            setup()

        self._icon.run(setup=start)

    def stop(self) -> None:
        """End pystray's loop."""
        self._icon.stop()

    def set_image(self, image: Image.Image) -> None:
        """Show a new image."""
        self._on_ui(lambda: setattr(self._icon, "icon", image))

    def set_title(self, title: str) -> None:
        """Show a new tooltip."""
        self._on_ui(lambda: setattr(self._icon, "title", title))

    def set_menu(self, entries: tuple[MenuEntry, ...]) -> None:
        """Show a new menu (AppIndicator cannot build menus lazily: it is rebuilt now)."""
        self._entries = entries
        self._on_ui(self._icon.update_menu)

    def notify(self, title: str, message: str) -> None:
        """Show a desktop notification where the backend can."""
        if self.supports_notifications:
            self._on_ui(lambda: self._icon.notify(message, title))


def open_icon_factory(*, host_wait_seconds: float = HOST_WAIT_SECONDS) -> IconFactory:
    """Check that a tray icon can be shown here and return the factory that builds it."""
    check_display()
    pystray = import_pystray()
    backend = backend_name(pystray)
    if backend == "dummy":
        raise TrayUnavailableError(
            "pystray found no usable backend here (PYSTRAY_BACKEND=dummy or no GUI toolkit)"
        )
    if backend in ("xorg", "gtk") and os.environ.get("DISPLAY"):
        wait_for_x11_tray_host(host_wait_seconds)

    def factory(image: Image.Image, title: str, on_click: Callable[[MenuEntry], None]) -> TrayIcon:
        return PystrayIcon(pystray, image, title, on_click)

    return factory
