"""The studio host's line to the database: one thread that keeps the heartbeat and listens.

Every ``lease / 3`` seconds it renews this host's heartbeat and the leases of its jobs; in
between it waits on LISTEN for the jobs trigger's notifications (another host made a job,
finished one, freed a slot) and calls ``on_change`` at once. Notifications only wake: the
engine's own reading of the store stays the truth, so a lost one only delays. When the
database stops answering the thread says so once, tries again with a growing pause (1 s up
to 30 s), and says so once when it is back.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import structlog

from mvsepd.errors import StoreError
from mvsepd.store.postgres import PostgresJobStore

log = structlog.get_logger("mvsepd.store")

CHANNEL = "mvsepd_jobs"
_STOP_PAYLOAD = "stop"
_MAX_PAUSE_SECONDS = 30.0


class StudioLink:
    """Heartbeat and LISTEN for one studio host (see the module docstring)."""

    def __init__(
        self,
        store: PostgresJobStore,
        on_change: Callable[[], None],
        on_outage: Callable[[str | None], None] | None = None,
    ) -> None:
        self._store = store
        self._on_change = on_change
        self._on_outage = on_outage or (lambda _words: None)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mvsepd-studio", daemon=True)
        self.interval = max(1.0, store.lease_seconds / 3)
        self._down_since: float | None = None

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread: a notification of its own ends the wait at once."""
        self._stop.set()
        # The database away: the thread's own wait ends within an interval anyway.
        with contextlib.suppress(StoreError):
            self._store.notify(CHANNEL, _STOP_PAYLOAD)
        self._thread.join(timeout)

    def _run(self) -> None:
        pause = 1.0
        while not self._stop.is_set():
            try:
                listener = self._store.connect_listener()
                with listener:
                    listener.execute(f"LISTEN {CHANNEL}")
                    self._store.heartbeat()
                    self._back()
                    pause = 1.0
                    self._on_change()  # what changed while this host was not listening
                    self._listen(listener)
            except (StoreError, psycopg.Error) as error:
                self._down(error)
                self._stop.wait(pause)
                pause = min(_MAX_PAUSE_SECONDS, pause * 2)

    def _listen(self, listener: psycopg.Connection[Any]) -> None:
        next_beat = time.monotonic() + self.interval
        while not self._stop.is_set():
            wait = max(0.0, next_beat - time.monotonic())
            for notification in listener.notifies(timeout=wait):
                if notification.payload == _STOP_PAYLOAD and self._stop.is_set():
                    return
                self._on_change()
            if time.monotonic() >= next_beat:
                self._store.heartbeat()
                next_beat = time.monotonic() + self.interval

    def _down(self, error: BaseException) -> None:
        if self._down_since is None:
            self._down_since = time.time()
            words = str(error) if isinstance(error, StoreError) else "the connection broke"
            log.warning(
                "studio_database_unreachable",
                database=self._store.location,
                error=words,
                note="watching goes on; new uploads wait until the database is back",
            )
            self._on_outage(words)

    def _back(self) -> None:
        if self._down_since is not None:
            log.info(
                "studio_database_back",
                database=self._store.location,
                seconds_away=round(time.time() - self._down_since, 1),
            )
            self._down_since = None
            self._on_outage(None)
