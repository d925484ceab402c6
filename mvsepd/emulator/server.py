"""``EmulatorServer``: one in-memory MVSEP on a threaded Werkzeug server, started and stopped.

Usage::

    with EmulatorServer(EmulatorSettings(queue_seconds=0, processing_seconds=0),
                        clock=ManualClock()) as server:
        account = server.add_account(plan="premium", credits=100)
        ... talk HTTP to server.url + "/api" ...
        server.advance(3600)

The server owns a temporary directory for uploads and results, removed by ``stop()`` (or when
the object is garbage collected without being stopped).
"""

from __future__ import annotations

import logging
import threading
import weakref
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from mvsepd.emulator.accounts import AccountInfo, AccountStore
from mvsepd.emulator.admission import Admission
from mvsepd.emulator.app import EmulatorApp
from mvsepd.emulator.catalog import Catalog
from mvsepd.emulator.clock import Clock, ManualClock, system_clock
from mvsepd.emulator.context import Context
from mvsepd.emulator.encoding import find_ffmpeg
from mvsepd.emulator.faults import CREATE_PATH, Faults
from mvsepd.emulator.jobs import JobStore
from mvsepd.emulator.keepalive import KeepAliveHandler
from mvsepd.emulator.link import Link
from mvsepd.emulator.quality import QualityChecker
from mvsepd.emulator.ratelimit import RateLimiter
from mvsepd.emulator.remote import RemoteStore
from mvsepd.emulator.responses import request_class
from mvsepd.emulator.settings import EmulatorSettings
from mvsepd.emulator.state import EmulatorState
from mvsepd.emulator.storage import Storage

LOG = logging.getLogger("mvsepd.emulator")


class _QuietHandler(KeepAliveHandler):
    """The keep-alive handler without the access log, Werkzeug's ``Server`` header, or
    real-time ``Date``.

    The application sets ``Server`` (Apache's, as recorded); ``Date`` follows the emulator's
    clock so that it agrees with time stamps in the bodies.
    """

    def send_response(self, code: int, message: str | None = None) -> None:
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def date_time_string(self, timestamp: float | None = None) -> str:
        if timestamp is None:
            app = getattr(self.server, "app", None)
            clock = getattr(app, "clock", None)
            timestamp = clock() if callable(clock) else None
        return super().date_time_string(timestamp)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return

    def log(self, type: str, message: str, *args: Any) -> None:
        if type == "error":
            LOG.warning("emulator: " + message, *args)


class EmulatorServer:
    """A local, faithful MVSEP; see the package README for what it does and does not copy."""

    def __init__(
        self,
        settings: EmulatorSettings | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings or EmulatorSettings()
        self.host = host
        self.port = port
        self.clock: Clock = clock or system_clock
        self.ffmpeg = find_ffmpeg(self.settings.ffmpeg_binary)
        self.storage = Storage(self.settings.storage_parent)
        self._finalizer = weakref.finalize(self, self.storage.close)
        self.faults = Faults(self.settings.seed)
        self.catalog = Catalog.load()
        self.accounts = AccountStore(self.clock)
        self.jobs = JobStore(
            self.settings, self.clock, self.accounts, self.ffmpeg, slow_publish=self._slow_publish
        )
        admission = Admission(
            self.settings,
            self.catalog,
            self.accounts,
            self.jobs,
            self.storage,
            self.clock,
            self.ffmpeg,
        )
        self.state = EmulatorState(self.accounts, self.jobs, self.faults, self.storage)
        self._context = Context(
            settings=self.settings,
            clock=self.clock,
            accounts=self.accounts,
            catalog=self.catalog,
            jobs=self.jobs,
            admission=admission,
            remote=RemoteStore(self.settings, self.clock, self.storage, admission),
            quality=QualityChecker(self.clock, self.settings.qc_processing_seconds),
            storage=self.storage,
            faults=self.faults,
            advance=self.advance,
            link=Link(
                upload_rate=self.settings.upload_rate,
                download_rate=self.settings.download_rate,
                latency_seconds=self.settings.latency_ms / 1000,
            ),
        )
        limiter = RateLimiter(
            self.clock,
            strict_limit=self.settings.rate_limit_strict,
            default_limit=self.settings.rate_limit_default,
            window_seconds=self.settings.rate_limit_window_seconds,
            enforce=self.settings.rate_limit,
        )
        self.app = EmulatorApp(
            self._context,
            self.state,
            limiter,
            request_class(self.storage.uploads, self.settings.max_request_bytes),
        )
        self._server: BaseWSGIServer | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> EmulatorServer:
        """Listen and serve in background threads; returns once the socket is bound."""
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        handler = type(
            "ServerHandler",
            (_QuietHandler,),
            {
                "idle_seconds": self.settings.keepalive_seconds,
                "max_requests": self.settings.keepalive_max_requests,
                "close_late": self.settings.keepalive_close_late,
            },
        )
        self._server = make_server(
            self.host, self.port, self.app, threaded=True, request_handler=handler
        )
        self.port = int(self._server.server_port)
        serving = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},  # stop() returns within this
            name="emulator-http",
            daemon=True,
        )
        ticking = threading.Thread(target=self._tick_forever, name="emulator-clock", daemon=True)
        self._threads = [serving, ticking]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, finish rendering, delete the temporary directory. Idempotent."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads = []
        self.jobs.close()
        self._finalizer()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` without a trailing slash; the API lives under ``/api``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # ---- control ---------------------------------------------------------------------------

    def add_account(
        self,
        token: str | None = None,
        plan: str = "free",
        credits: int = 0,
        email: str | None = None,
        password: str | None = None,
        premium_enabled: bool | None = None,
    ) -> AccountInfo:
        """Create an account (a random 30-character token unless given) and describe it."""
        account = self.accounts.add(
            token=token,
            plan=plan,
            credits=credits,
            email=email,
            password=password,
            premium_enabled=premium_enabled,
        )
        return account.snapshot()

    def shape_link(
        self,
        *,
        upload_rate: float | None = None,
        download_rate: float | None = None,
        latency_ms: float = 0.0,
    ) -> None:
        """Change the link from the next request on (bytes per second per account, None for
        loopback speed): a test slows one phase down while a daemon runs, as a producer's
        uplink varies. Requests already in flight keep the link they started on."""
        self._context.link = Link(
            upload_rate=upload_rate, download_rate=download_rate, latency_seconds=latency_ms / 1000
        )

    def link_bytes(self, token: str) -> tuple[int, int]:
        """Bytes the account ``token`` sent to the server and received from its storage over
        the shaped link (request bodies and stem files; 0 where no rate is set)."""
        return self._context.link.bytes_moved(token)

    def invalidate_token(self, token: str) -> bool:
        """Make ``token`` invalid from now on (as the ``invalid_token`` fault does)."""
        return self.accounts.revoke(token)

    def advance(self, seconds: float) -> float:
        """Move the server's ``ManualClock`` forward and apply what became due; returns the time.

        RuntimeError when the server runs on another clock.
        """
        if not isinstance(self.clock, ManualClock):
            raise RuntimeError("advance() needs the server to run on a ManualClock")
        now = self.clock.advance(seconds)
        self.jobs.tick()
        return now

    def tick(self) -> None:
        """Apply every job transition due by the clock's current time."""
        self.jobs.tick()

    def _slow_publish(self) -> float | None:
        """A new job's publishing time when the ``slow_publish`` fault strikes it, else None."""
        delay = self.faults.delay_seconds("slow_publish")  # before firing: a last shot disarms
        if not self.faults.fire("slow_publish", CREATE_PATH):
            return None
        return self.settings.slow_publish_seconds if delay is None else delay

    def _tick_forever(self) -> None:
        while not self._stopping.wait(self.settings.tick_interval_seconds):
            try:
                self.jobs.tick()
            except Exception:
                LOG.exception("emulator: job tick failed")
