"""A work-around for pystray's xorg backend: changes from other threads use their own X connection.

pystray's xorg backend runs its event loop on one thread and hands every change made from
another thread (new image, title, show, stop) to it as a ClientMessage sent and flushed on the
same X connection. python-xlib's "threaded" connections can then deadlock: the event loop
waits for the reply to a request of its own (the ``get_geometry`` of a redraw) while the
receiving role is still marked taken by the other thread's flush, and nobody reads the socket
again. The icon freezes, and ``stop`` never returns. It happens readily when changes follow
each other quickly (docking, the first status), and sometimes at any time.

The cure keeps the event loop's connection for the event loop alone: the ClientMessage that
asks it to run a change is sent over a second, private connection, one change at a time.
pystray's own implementations and its result queue are used unchanged. Written against
pystray 0.19.5 (its private ``_window``, ``_queue`` and ``_thread``); if those are missing,
nothing is changed.
"""

from __future__ import annotations

import importlib
import threading
import time
from typing import Any

import structlog

log = structlog.get_logger("mvsepd.tray")

#: The methods pystray's xorg backend hands to its event loop (``_rewrite_implementation``).
DISPATCHED = ("_show", "_hide", "_update_icon", "_update_title", "_stop")
#: How long a change from another thread waits for the event loop to start.
_LOOP_START_SECONDS = 10.0


def use_private_connection(icon: Any) -> bool:
    """Re-route ``icon``'s cross-thread changes through a private connection; True if done."""
    if not all(hasattr(icon, name) for name in ("_window", "_queue", "_display", *DISPATCHED)):
        log.warning("tray_xorg_workaround_skipped", note="pystray's xorg internals changed")
        return False
    xlib_display = importlib.import_module("Xlib.display")
    xlib_event = importlib.import_module("Xlib.protocol.event")
    private = xlib_display.Display(icon._display.get_display_name())
    window = private.create_resource_object("window", icon._window.id)
    lock = threading.Lock()
    for name in DISPATCHED:
        atom = private.intern_atom(f"_PYSTRAY_{name.upper()}")
        setattr(
            icon,
            name,
            _dispatcher(icon, getattr(icon, name), private, window, atom, lock, xlib_event),
        )
    icon._mvsepd_private_display = private  # closed with the process; kept alive with the icon
    return True


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
