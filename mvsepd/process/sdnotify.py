"""The systemd notification protocol: READY, STATUS, WATCHDOG, EXTEND_TIMEOUT_USEC and STOPPING
(process layer).

A few lines over a Unix datagram socket, as sd_notify(3) describes: the service manager passes
the socket's path in ``NOTIFY_SOCKET`` (a leading ``@`` means the abstract namespace) and the
watchdog interval in ``WATCHDOG_USEC``. Outside systemd every call does nothing.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping


class Notifier:
    """Sends notifications to the service manager, if there is one."""

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        environment = os.environ if environ is None else environ
        address = environment.get("NOTIFY_SOCKET", "")
        self._address: str | None = None
        if address.startswith("@"):
            self._address = "\0" + address[1:]
        elif address.startswith("/"):
            self._address = address
        self._clock = clock
        self._watchdog_interval = _watchdog_interval(environment)
        self._last_ping: float | None = None

    @property
    def enabled(self) -> bool:
        """True under a service manager that listens."""
        return self._address is not None

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between WATCHDOG=1 pings (half of WatchdogSec), or None without a watchdog."""
        return self._watchdog_interval

    def send(self, *lines: str) -> bool:
        """Send ``KEY=value`` lines in one datagram; return True if it was delivered."""
        if self._address is None or not hasattr(socket, "AF_UNIX"):
            return False
        message = "\n".join(lines).encode("utf-8")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
                # Never blocks: a manager that stopped reading (its queue full) must not stall
                # the engine, which sends from its own thread; that message is dropped.
                sender.setblocking(False)
                sender.connect(self._address)
                sender.sendall(message)
        except OSError:  # BlockingIOError included
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """Tell the manager the service is up (after the first scan)."""
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> bool:
        """Update the one-line status ``systemctl status`` shows."""
        return self.send(f"STATUS={text}")

    def extend_start(self, seconds: float) -> bool:
        """Ask for ``seconds`` more before the start counts as timed out (a start that waits
        for something, such as the studio database, is not a hung one)."""
        return self.send(f"EXTEND_TIMEOUT_USEC={int(seconds * 1_000_000)}")

    def stopping(self) -> bool:
        """Tell the manager the service is shutting down."""
        return self.send("STOPPING=1")

    def watchdog(self) -> bool:
        """Ping the watchdog when half its interval has passed since the last ping."""
        if self._watchdog_interval is None:
            return False
        now = self._clock()
        # A little early rather than late: the engine sleeps up to one interval between calls,
        # and a wake-up a hair short of it must not push the ping to the interval after.
        due = 0.9 * self._watchdog_interval
        if self._last_ping is not None and now - self._last_ping < due:
            return False
        self._last_ping = now
        return self.send("WATCHDOG=1")


def _watchdog_interval(environment: Mapping[str, str]) -> float | None:
    try:
        microseconds = int(environment.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    pid = environment.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return None  # the watchdog is meant for another process
    if microseconds <= 0:
        return None
    return microseconds / 2 / 1_000_000
