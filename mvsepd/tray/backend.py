"""The pystray glue (the only module that imports pystray, lazily: it cannot even be imported
without a display on Linux, and it picks its backend when imported).

``open_icon_factory`` chooses the backend (``choice``: no display, no tray host and no usable
backend are said in one sentence, ``TrayUnavailableError``, instead of hanging with an
invisible icon), says in one line which one runs and what it lacks, and returns the factory.
``PystrayIcon`` adapts a ``pystray.Icon`` to ``TrayIcon``: every menu entry is a real
``pystray.MenuItem`` whose action takes (icon, item), the signature every backend calls; on
macOS every change is handed to the main thread (AppKit must not be touched from others); the
xorg backend gets the mends in ``xorg``; pystray's GTK, AppIndicator and Windows backends
marshal changes by themselves. On Linux notifications go through ``notify``.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

import structlog
from PIL import Image

from mvsepd.tray import xorg
from mvsepd.tray.app import IconFactory, TrayIcon
from mvsepd.tray.choice import HOST_WAIT_SECONDS, Backend, TrayUnavailableError, choose_backend
from mvsepd.tray.notify import DesktopNotifier
from mvsepd.tray.view import MenuEntry

log = structlog.get_logger("mvsepd.tray")


def import_pystray() -> ModuleType:
    """Import pystray, or say why it cannot be used."""
    try:
        return importlib.import_module("pystray")
    except ImportError as error:
        raise TrayUnavailableError(f"pystray's backend cannot start here: {error}") from None
    # Xlib refusing the display, a broken GTK: each means "no tray here".
    except Exception as error:  # noqa: BLE001 (whatever the toolkit raises)
        raise TrayUnavailableError(
            f"pystray cannot start here ({type(error).__name__}: {error})"
        ) from None


def backend_name(pystray: ModuleType) -> str:
    """The pystray backend in use: appindicator, darwin, gtk, win32, xorg or dummy."""
    module = str(getattr(pystray.Icon, "__module__", ""))
    name = module.rsplit(".", 1)[-1].lstrip("_")
    return "dummy" if name == "base" else name  # the dummy backend is pystray's base Icon


def menu_items(
    pystray: ModuleType, entries: tuple[MenuEntry, ...], on_click: Callable[[MenuEntry], None]
) -> list[Any]:
    """The entries as pystray menu items (separators as ``pystray.Menu.SEPARATOR``)."""
    return [_item(pystray, entry, on_click) for entry in entries]


def _item(pystray: ModuleType, entry: MenuEntry, on_click: Callable[[MenuEntry], None]) -> Any:
    if entry.separator:
        return pystray.Menu.SEPARATOR
    action = None
    if entry.action:

        def action(icon: Any, item: Any) -> None:
            on_click(entry)

    return pystray.MenuItem(entry.text, action, enabled=entry.enabled, default=entry.default)


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
        *,
        shows_tooltip: bool = True,
        notifier: DesktopNotifier | None = None,
    ) -> None:
        self._pystray = pystray
        self._on_click = on_click
        self._entries: tuple[MenuEntry, ...] = ()
        self._on_ui = _ui_thread_caller()
        self._notifier = notifier
        self._stopping = False
        # The menu is generated from the current entries each time the backend asks for it.
        self._icon: Any = pystray.Icon("mvsepd", image, title, menu=pystray.Menu(self._items))
        if type(self._icon).__module__.endswith("_xorg"):
            xorg.mend(self._icon)
        self.supports_menu = bool(self._icon.HAS_MENU)
        self.supports_notifications = (
            bool(notifier.means) if notifier is not None else bool(self._icon.HAS_NOTIFICATION)
        )
        self.shows_tooltip = shows_tooltip

    def _items(self) -> list[Any]:
        return menu_items(self._pystray, self._entries, self._on_click)

    def run(self, setup: Callable[[], None]) -> None:
        """Show the icon and run pystray's loop (main thread) until ``stop``."""

        def start(icon: Any) -> None:
            icon.visible = True
            setup()

        try:
            self._icon.run(setup=start)
        except Exception as error:
            if not self._stopping:
                raise
            # pystray's GTK backends close their notification when they stop, and fail when
            # no notification service runs; the tray was closing anyway.
            log.debug("tray_stop_untidy", error=str(error))

    def stop(self) -> None:
        """End pystray's loop."""
        self._stopping = True
        if self._notifier is not None:
            self._notifier.close()
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

    def notify(self, title: str, message: str, on_click: Callable[[], None] | None = None) -> None:
        """Show a desktop notification where the backend (or the desktop) can; ``on_click``
        where the desktop's notification service reports a click (pystray's own cannot)."""
        if self._notifier is not None:
            self._notifier.notify(title, message, on_click)
        elif self.supports_notifications:
            self._on_ui(lambda: self._icon.notify(message, title))


def open_icon_factory(
    *,
    announce: Callable[[str], None],
    host_wait_seconds: float = HOST_WAIT_SECONDS,
) -> IconFactory:
    """Choose the backend, say it with ``announce``, and return the factory of the icon."""
    backend = choose_backend(wait_seconds=host_wait_seconds)
    notifier = DesktopNotifier() if backend.name not in ("win32", "darwin") else None
    # pystray takes its backend from the environment when it is first imported.
    os.environ["PYSTRAY_BACKEND"] = backend.name
    pystray = import_pystray()
    if backend_name(pystray) != backend.name:
        raise TrayUnavailableError(
            f"pystray was loaded with its {backend_name(pystray)} backend before the tray could "
            f"choose {backend.name}"
        )
    announce(_line(backend, notifier))

    def factory(image: Image.Image, title: str, on_click: Callable[[MenuEntry], None]) -> TrayIcon:
        return PystrayIcon(
            pystray,
            image,
            title,
            on_click,
            shows_tooltip=backend.shows_tooltip,
            notifier=notifier,
        )

    return factory


def _line(backend: Backend, notifier: DesktopNotifier | None) -> str:
    return backend.line(notifier.means if notifier is not None else "the system")
