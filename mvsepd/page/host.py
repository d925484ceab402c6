"""``PageHost``: what the page uses of the daemon that serves it, in one place.

The engine's own operations (pause, resume, retry, cancel, rescan, dismiss), the status
picture and its long-poll, the configuration at run time (``LiveConfig``), the catalog and the
leaderboard, and the MVSEP client for signing in and the premium switch; for a take's page,
its jobs and files (``TakeView``), the stems' peaks and segments (``Listening``, made on first
use: numpy is loaded when someone listens) and ``reveal``, which shows a folder in the
desktop's file manager (a seam: tests give their own). The page reads the job store (today's
spend, a folder's last file) but never writes job state: every change to a job is one of the
engine's operations, as the JSON API's are.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mvsepd.api import MvsepClient, Transport
from mvsepd.client.desktop import open_in_file_manager
from mvsepd.config.file import parse_config
from mvsepd.config.model import Config
from mvsepd.engine import Engine
from mvsepd.engine.catalog import CatalogCache
from mvsepd.engine.leaderboard import PER_DATASET, LeaderboardCache
from mvsepd.errors import ConfigError, DaemonError
from mvsepd.page.access import PageKeys
from mvsepd.process.daemon import Daemon
from mvsepd.process.settings import ConfigState, LiveConfig
from mvsepd.statusapi import StatusApi
from mvsepd.statusapi.takeview import TakeView

if TYPE_CHECKING:
    from mvsepd.audio import Listening

#: The leaderboard's cache file, beside the catalog's.
LEADERBOARD_CACHE_NAME = "leaderboard.json"
#: Stems' peaks and decoded copies, in the state folder (never beside the stems).
LISTENING_FOLDER = "listening"


@dataclass
class PageHost:
    """The daemon as the page sees it."""

    daemon: Daemon
    keys: PageKeys
    leaderboard: LeaderboardCache
    #: Shows a folder in the desktop's file manager ("Show in folder").
    reveal: Callable[[Path], None] = open_in_file_manager
    _listening: Listening | None = field(default=None, repr=False)
    _listening_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def of(cls, daemon: Daemon, keys: PageKeys) -> PageHost:
        """The page's view of ``daemon``, signing browsers in with ``keys``."""
        config = daemon.context.config
        # Someone waits at the page: one quick retry, not the daemon's patient backoff (the
        # leaderboard needs no token).
        quick = MvsepClient(
            None, daemon.client.server, transport=Transport(retries=1, timeout=(5, 20))
        )
        return cls(
            daemon=daemon,
            keys=keys,
            leaderboard=LeaderboardCache(
                daemon.paths.catalog_cache.with_name(LEADERBOARD_CACHE_NAME),
                lambda dataset, search: quick.quality_leaderboard(
                    dataset, 0, PER_DATASET, algo_name_filter=search
                ),
                refresh_seconds=config.daemon.catalog_refresh_hours * 3600,
            ),
        )

    @property
    def engine(self) -> Engine:
        return self.daemon.engine

    @property
    def client(self) -> MvsepClient:
        return self.daemon.client

    @property
    def catalog(self) -> CatalogCache:
        return self.daemon.context.catalog

    @property
    def status_api(self) -> StatusApi:
        status_api = self.daemon.status_api
        if status_api is None:  # the page is only served by the status API's server
            raise DaemonError("the daemon's status API is not running")
        return status_api

    @property
    def takes(self) -> TakeView:
        """Takes, their jobs and the files a browser may fetch."""
        return TakeView(self.daemon.context)

    @property
    def listening(self) -> Listening:
        """Peaks and segments of placed files, cached in the state folder."""
        with self._listening_lock:
            if self._listening is None:
                from mvsepd.audio import Listening

                self._listening = Listening(self.state_dir / LISTENING_FOLDER)
            return self._listening

    @property
    def live_config(self) -> LiveConfig | None:
        return self.daemon.live_config

    @property
    def state_dir(self) -> Path:
        return self.daemon.paths.state_dir

    def config_state(self) -> ConfigState | None:
        """The configuration file in force (None: this daemon cannot change it at run time)."""
        live = self.live_config
        return live.state() if live is not None else None

    def config(self) -> Config:
        """The configuration in force: the file's when it can be read, else the daemon's."""
        state = self.config_state()
        if state is not None:
            try:
                return parse_config(state.text, str(state.path))
            except ConfigError:
                pass
        return self.daemon.context.config
