"""A stand-in StatusNotifierItem host for the tray tests (run as a program).

It owns ``org.kde.StatusNotifierWatcher`` on the session bus given by
``DBUS_SESSION_BUS_ADDRESS`` and says a host is registered, as a KDE panel or GNOME's
AppIndicator extension does; each item that registers is printed as one JSON line (its bus
name and object path). "ready" is printed once the name is owned. Run as
``python -m tests.tray.status_notifier_watcher``.
"""

from __future__ import annotations

import json
from typing import Any

from tests.tray.bus_stand_in import gio_and_glib, serve

NAME = "org.kde.StatusNotifierWatcher"
INTERFACE = f"""
<node>
  <interface name="{NAME}">
    <method name="RegisterStatusNotifierItem"><arg type="s" direction="in"/></method>
    <method name="RegisterStatusNotifierHost"><arg type="s" direction="in"/></method>
    <property name="RegisteredStatusNotifierItems" type="as" access="read"/>
    <property name="IsStatusNotifierHostRegistered" type="b" access="read"/>
    <property name="ProtocolVersion" type="i" access="read"/>
    <signal name="StatusNotifierItemRegistered"><arg type="s"/></signal>
    <signal name="StatusNotifierHostRegistered"/>
  </interface>
</node>
"""


def main() -> None:
    _gio, glib = gio_and_glib()
    items: list[str] = []

    def on_call(connection: Any, sender: str, path: str, interface: str, method: str,
                parameters: Any, invocation: Any) -> None:  # fmt: skip
        if method == "RegisterStatusNotifierItem":
            (service,) = parameters.unpack()
            # An item names its object path (its bus name is then the caller) or its bus name.
            bus_name, object_path = (
                (sender, service) if service.startswith("/") else (service, "/StatusNotifierItem")
            )
            items.append(f"{bus_name}{object_path}")
            print(json.dumps({"bus_name": bus_name, "path": object_path}), flush=True)
        invocation.return_value(None)

    def on_get(connection: Any, sender: str, path: str, interface: str, name: str) -> Any:
        if name == "RegisteredStatusNotifierItems":
            return glib.Variant("as", items)
        if name == "IsStatusNotifierHostRegistered":
            return glib.Variant("b", True)
        return glib.Variant("i", 0)

    serve(NAME, "/StatusNotifierWatcher", INTERFACE, on_call, on_get)


if __name__ == "__main__":
    main()
