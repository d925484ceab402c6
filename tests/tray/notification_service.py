"""A stand-in desktop notification service for the tray tests (run as a program).

It owns ``org.freedesktop.Notifications`` on the session bus given by
``DBUS_SESSION_BUS_ADDRESS``, answers as the freedesktop specification says (Notify returns a
new id), and prints each notification as one JSON line: app name, replaces id, summary, body,
actions. A notification that offers the default action (a click on it) is clicked at once: the
service says ActionInvoked, then NotificationClosed, as a desktop does when the user clicks it.
"ready" is printed once the name is owned. Run as ``python -m tests.tray.notification_service``.
"""

from __future__ import annotations

import json
from typing import Any

from tests.tray.bus_stand_in import gio_and_glib, serve

INTERFACE = """
<node>
  <interface name="org.freedesktop.Notifications">
    <method name="GetCapabilities"><arg type="as" direction="out"/></method>
    <method name="GetServerInformation">
      <arg type="s" direction="out"/><arg type="s" direction="out"/>
      <arg type="s" direction="out"/><arg type="s" direction="out"/>
    </method>
    <method name="Notify">
      <arg type="s" direction="in"/><arg type="u" direction="in"/>
      <arg type="s" direction="in"/><arg type="s" direction="in"/>
      <arg type="s" direction="in"/><arg type="as" direction="in"/>
      <arg type="a{sv}" direction="in"/><arg type="i" direction="in"/>
      <arg type="u" direction="out"/>
    </method>
    <method name="CloseNotification"><arg type="u" direction="in"/></method>
    <signal name="ActionInvoked"><arg type="u"/><arg type="s"/></signal>
    <signal name="NotificationClosed"><arg type="u"/><arg type="u"/></signal>
  </interface>
</node>
"""


def main() -> None:
    _gio, glib = gio_and_glib()
    sent = [0]

    def on_call(connection: Any, sender: str, path: str, interface: str, method: str,
                parameters: Any, invocation: Any) -> None:  # fmt: skip
        if method == "GetCapabilities":
            invocation.return_value(glib.Variant("(as)", (["body", "actions"],)))
        elif method == "GetServerInformation":
            information = ("stand-in", "mvsepd tests", "1", "1.2")
            invocation.return_value(glib.Variant("(ssss)", information))
        elif method == "Notify":
            app, replaces, _icon, summary, body, actions = parameters.unpack()[:6]
            sent[0] += 1
            number = sent[0]
            line = {
                "app": app,
                "replaces": replaces,
                "summary": summary,
                "body": body,
                "actions": list(actions),
            }
            print(json.dumps(line), flush=True)
            invocation.return_value(glib.Variant("(u)", (number,)))
            if "default" in actions[::2]:
                # The user clicks it: the action, then the notification closes (reason 2).
                for signal, value in (
                    ("ActionInvoked", glib.Variant("(us)", (number, "default"))),
                    ("NotificationClosed", glib.Variant("(uu)", (number, 2))),
                ):
                    connection.emit_signal(sender, path, interface, signal, value)
        else:
            invocation.return_value(None)

    serve("org.freedesktop.Notifications", "/org/freedesktop/Notifications", INTERFACE, on_call)


if __name__ == "__main__":
    main()
