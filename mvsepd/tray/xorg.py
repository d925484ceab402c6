"""Mends for pystray's xorg backend (0.19.5): changes from other threads, clicks, one docking.

1. Changes from other threads use their own X connection. pystray's xorg backend runs its
event loop on one thread and hands every change made from another thread (new image, title,
show, stop) to it as a ClientMessage sent and flushed on the same X connection. python-xlib's
"threaded" connections can then deadlock: the event loop waits for the reply to a request of
its own (the ``get_geometry`` of a redraw) while the receiving role is still marked taken by
the other thread's flush, and nobody reads the socket again. The icon freezes, and ``stop``
never returns. So the ClientMessage that asks the loop to run a change is sent over a second,
private connection, one change at a time; pystray's implementations and result queue are used
unchanged.

2. Clicks. pystray's icon window selects only Exposure and StructureNotify events, so its
ButtonPress handler (a left click runs the menu's default item) is never called: the window
also selects ButtonPress.

3. One docking. pystray asks the tray host to dock the window at every new image (and again
when shown); trayer then embeds it in a new socket each time, and after a few quick changes
the icon is left 1 pixel wide, or moved. The window is docked once; a new image is only
redrawn (the host's own restart is still followed: pystray docks again when the host's
window goes).

Written against pystray 0.19.5's private ``_window``, ``_queue``, ``_thread``,
``_systray_manager`` and ``_message_handlers``; if those are missing, nothing is changed.
"""

from __future__ import annotations

import importlib
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import structlog

log = structlog.get_logger("mvsepd.tray")

#: The methods pystray's xorg backend hands to its event loop (``_rewrite_implementation``).
DISPATCHED = ("_show", "_hide", "_update_icon", "_update_title", "_stop")
#: How long a change from another thread waits for the event loop to start.
_LOOP_START_SECONDS = 10.0
_INTERNALS = ("_window", "_queue", "_display", "_message_handlers", "_systray_manager")


def mend(icon: Any) -> bool:
    """Apply the three mends to a pystray xorg ``icon`` before it runs; True if done."""
    if not all(hasattr(icon, name) for name in (*_INTERNALS, *DISPATCHED)):
        log.warning("tray_xorg_workaround_skipped", note="pystray's xorg internals changed")
        return False
    xlib = importlib.import_module("Xlib.X")
    xlib_display = importlib.import_module("Xlib.display")
    xlib_event = importlib.import_module("Xlib.protocol.event")
    icon._window.change_attributes(
        event_mask=xlib.ExposureMask | xlib.StructureNotifyMask | xlib.ButtonPressMask
    )
    icon._display.flush()
    own = _docking_once(icon, xlib)
    private = xlib_display.Display(icon._display.get_display_name())
    window = private.create_resource_object("window", icon._window.id)
    lock = threading.Lock()
    for name in DISPATCHED:
        atom_name, run = own.get(name, (f"_PYSTRAY_{name.upper()}", getattr(icon, name)))
        atom = private.intern_atom(atom_name)
        setattr(icon, name, _dispatcher(icon, run, private, window, atom, lock, xlib_event))
    icon._mvsepd_private_display = private  # closed with the process; kept alive with the icon
    return True


def _docking_once(icon: Any, xlib: Any) -> dict[str, tuple[str, Callable[[], None]]]:
    """``_update_icon`` and ``_show`` that dock only while not docked, by the name of the
    ClientMessage that runs each on the event loop (handled here, before pystray's own)."""
    pystray_update = type(icon)._update_icon.__get__(icon)
    pystray_show = type(icon)._show.__get__(icon)

    def redraw() -> None:
        if icon._systray_manager is None:
            pystray_update()  # not docked yet (or the host went away): dock, then draw
            return
        icon._icon_data = None  # the image is scaled anew from the new icon
        icon._draw()
        icon._icon_valid = True

    def show() -> None:
        if icon._systray_manager is None:
            pystray_show()

    own = {"_update_icon": ("_MVSEPD_REDRAW", redraw), "_show": ("_MVSEPD_SHOW", show)}
    handlers = {icon._display.intern_atom(name): run for name, run in own.values()}
    pystray_messages = icon._message_handlers[xlib.ClientMessage]

    def on_client_message(event: Any) -> None:
        run = handlers.get(event.client_type)
        if run is None:
            pystray_messages(event)
            return
        try:
            run()
            icon._queue.put(True)
        except Exception:  # noqa: BLE001 (handed to the waiting caller, as pystray does)
            icon._queue.put(sys.exc_info())

    icon._message_handlers[xlib.ClientMessage] = on_client_message
    return own


def _dispatcher(
    icon: Any,
    pystray_dispatch: Any,
    private: Any,
    window: Any,
    atom: int,
    lock: threading.Lock,
    xlib_event: Any,
) -> Any:
    def dispatch() -> None:
        loop = _event_loop_thread(icon)
        if loop is None or threading.current_thread().ident == loop.ident:
            # On the event loop itself (or before it runs): pystray calls it directly.
            pystray_dispatch()
            return
        if not loop.is_alive():
            return  # the icon is gone: nobody would answer
        with lock:
            message = xlib_event.ClientMessage(
                window=window, client_type=atom, data=(32, (0, 0, 0, 0, 0))
            )
            window.send_event(message, event_mask=0)
            private.flush()
            result = icon._queue.get()
        if result is not True:
            raise result[1].with_traceback(result[2])

    return dispatch


def _event_loop_thread(icon: Any) -> threading.Thread | None:
    # pystray marks the icon ready (which starts the setup thread) just before it records its
    # loop thread: wait a moment for it instead of failing.
    deadline = time.monotonic() + _LOOP_START_SECONDS
    while getattr(icon, "_running", False) and time.monotonic() < deadline:
        thread = getattr(icon, "_thread", None)
        if thread is not None:
            return thread  # type: ignore[no-any-return]
        time.sleep(0.01)
    return getattr(icon, "_thread", None)
