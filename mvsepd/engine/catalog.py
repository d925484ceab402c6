"""The algorithm catalog: fetched from MVSEP, cached on disk with its age, refreshed daily.

The cache holds MVSEP's raw answer, so that it is read back through the same wire parser as a
fresh one. When MVSEP cannot be reached the cached copy is used, however old, and its age is
shown; presets are resolved again whenever a new catalog arrives.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog

from mvsepd.api import wire_catalog
from mvsepd.errors import MvsepError
from mvsepd.models import Algorithm

log = structlog.get_logger("mvsepd.catalog")

_ENDPOINT = "/app/algorithms"


@dataclass(frozen=True)
class CatalogState:
    """The catalog in use and when it was fetched (None: never)."""

    algorithms: tuple[Algorithm, ...] | None
    fetched_at: float | None
    last_error: str | None = None


class CatalogCache:
    """Keeps the catalog: memory, then the cache file, then MVSEP."""

    def __init__(
        self,
        path: Path,
        fetch_raw: Callable[[], bytes],
        *,
        refresh_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._path = path
        self._fetch_raw = fetch_raw
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._state = CatalogState(None, None)
        self._load_cached()

    @property
    def state(self) -> CatalogState:
        """The catalog now in use."""
        with self._lock:
            return self._state

    @property
    def algorithms(self) -> Sequence[Algorithm] | None:
        """The algorithms, or None when no catalog was ever obtained."""
        return self.state.algorithms

    def needs_refresh(self) -> bool:
        """True when the catalog is missing or older than the refresh interval."""
        state = self.state
        return state.fetched_at is None or (
            self._clock() - state.fetched_at >= self._refresh_seconds
        )

    def refresh_due_at(self) -> float:
        """Clock time at which ``needs_refresh`` turns true (now or earlier when it is)."""
        fetched = self.state.fetched_at
        return float("-inf") if fetched is None else fetched + self._refresh_seconds

    def refresh(self) -> bool:
        """Fetch the catalog from MVSEP and cache it. Return True if a new one arrived."""
        try:
            body = self._fetch_raw()
            algorithms = wire_catalog.parse_algorithms(_ENDPOINT, 200, {}, body)
        except MvsepError as error:
            with self._lock:
                self._state = CatalogState(
                    self._state.algorithms, self._state.fetched_at, str(error)
                )
            log.warning("catalog_fetch_failed", error=str(error), cached=self._state.fetched_at)
            return False
        now = self._clock()
        self._write_cache(body, now)
        with self._lock:
            self._state = CatalogState(tuple(algorithms), now)
        log.info("catalog_fetched", algorithms=len(algorithms))
        return True

    def _load_cached(self) -> None:
        try:
            envelope = json.loads(self._path.read_text(encoding="utf-8"))
            body = envelope["body"].encode("utf-8")
            fetched_at = float(envelope["fetched_at"])
            algorithms = wire_catalog.parse_algorithms(_ENDPOINT, 200, {}, body)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, MvsepError):
            return
        self._state = CatalogState(tuple(algorithms), fetched_at)

    def _write_cache(self, body: bytes, fetched_at: float) -> None:
        envelope = json.dumps(
            {"fetched_at": fetched_at, "body": body.decode("utf-8", errors="replace")}
        )
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self._path.with_name(f".{self._path.name}.tmp")
            temporary.write_text(envelope, encoding="utf-8")
            os.replace(temporary, self._path)
        except OSError as error:
            log.warning("catalog_cache_unwritable", path=str(self._path), error=str(error))
