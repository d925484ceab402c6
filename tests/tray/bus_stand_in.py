"""What the stand-in desktop services of the tray tests share (``notification_service``,
``status_notifier_watcher``, run as programs with ``python -m``): PyGObject found the way the
tray finds it, one object served under a name owned on the session bus given by
``DBUS_SESSION_BUS_ADDRESS``, and "ready" printed once the name is owned."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

from mvsepd.tray.systemgi import make_gi_importable


def gio_and_glib() -> tuple[Any, Any]:
    """Gio and GLib through the tray's own way to PyGObject."""
    source = make_gi_importable()
    if not source.found:
        sys.exit(f"no PyGObject: {source.problem}")
    gi: Any = importlib.import_module("gi")
    gi.require_version("Gio", "2.0")
    return importlib.import_module("gi.repository.Gio"), importlib.import_module(
        "gi.repository.GLib"
    )


def serve(
    name: str,
    path: str,
    interface_xml: str,
    on_call: Callable[..., None],
    on_get: Callable[..., Any] | None = None,
) -> None:
    """Serve the one interface of ``interface_xml`` at ``path`` under ``name`` until killed."""
    gio, glib = gio_and_glib()
    node = gio.DBusNodeInfo.new_for_xml(interface_xml)
    bus = gio.bus_get_sync(gio.BusType.SESSION, None)
    bus.register_object(path, node.interfaces[0], on_call, on_get, None)
    loop = glib.MainLoop()

    def owned(*_arguments: Any) -> None:
        print("ready", flush=True)

    def lost(*_arguments: Any) -> None:
        loop.quit()

    gio.bus_own_name_on_connection(bus, name, gio.BusNameOwnerFlags.NONE, owned, lost)
    loop.run()
