"""The daemon process: one per state directory, signals, wiring, start-up and a graceful stop.

``Daemon`` builds the parts from a valid configuration (store, client, catalog, intake, engine,
status API), starts watching (which records each folder's first watch and scans it), tells a
service manager it is ready, and runs the engine until asked to stop. The first SIGINT/SIGTERM
stops it within about ten seconds with every job saved in a state the next start resumes; a
second signal exits at once. ``instancelock.InstanceLock`` refuses a second daemon on the
same state directory with a message that names the first one.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import structlog

from mvsepd import audio, intake
from mvsepd.api import MvsepClient
from mvsepd.config.model import Config
from mvsepd.engine import CatalogCache, Context, Engine, EngineSettings
from mvsepd.intake import triggers
from mvsepd.models import AlgorithmScope, JobState, Secret
from mvsepd.paths import AppPaths, ensure_private_directory
from mvsepd.process import allocator, logsetup, studiohost
from mvsepd.process.instancelock import InstanceLock
from mvsepd.process.reload import ConfigReloader, runtime_folders, watch_specs
from mvsepd.process.sdnotify import Notifier
from mvsepd.statusapi import PageApplication, StatusApi

log = structlog.get_logger("mvsepd.daemon")

#: How long a stop may take before the daemon exits anyway (jobs resume on the next start).
STOP_GRACE_SECONDS = 8.0


def readiness(path: Path) -> intake.ReadinessVerdict:
    """Tell the intake whether a quiet file is complete audio (the audio module decides); a
    link, prompt or sidecar file is complete once quiet (it is read when its job is made)."""
    if triggers.is_trigger(path.name):
        return _trigger_readiness(path)
    verdict = audio.check(path)
    mapping = {
        audio.Completeness.COMPLETE: intake.Readiness.READY,
        audio.Completeness.INCOMPLETE: intake.Readiness.INCOMPLETE,
        audio.Completeness.INVALID: intake.Readiness.INVALID,
        audio.Completeness.GONE: intake.Readiness.GONE,
    }
    return intake.ReadinessVerdict(mapping[verdict.completeness], verdict.reason)


def _trigger_readiness(path: Path) -> intake.ReadinessVerdict:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return intake.ReadinessVerdict(intake.Readiness.GONE, "the file was removed")
    except OSError as error:
        return intake.ReadinessVerdict(intake.Readiness.INCOMPLETE, str(error.strerror))
    if size > triggers.MAX_TRIGGER_BYTES:
        return intake.ReadinessVerdict(
            intake.Readiness.INVALID,
            f"larger than {triggers.MAX_TRIGGER_BYTES // 1024} KiB; a link, prompt or sidecar "
            "file is a few lines",
        )
    return intake.ReadinessVerdict(intake.Readiness.READY)


#: Builds mvsepd's page for a daemon about to serve it (the entry layer's ``mvsepd.page``): the
#: process layer does not import the page, it is handed this.
PageFactory = Callable[["Daemon"], PageApplication]


@dataclass
class DaemonHooks:
    """Extra parts started with the daemon (the status API), in start order."""

    on_started: list[Callable[[Daemon], None]] = field(default_factory=list)
    on_stopping: list[Callable[[Daemon], None]] = field(default_factory=list)


class Daemon:
    """Every part of a running mvsepd, wired from one configuration."""

    def __init__(
        self,
        config: Config,
        token: Secret,
        paths: AppPaths,
        *,
        settings: EngineSettings | None = None,
        clock: Callable[[], float] = time.time,
        notifier: Notifier | None = None,
        hooks: DaemonHooks | None = None,
        status_api: bool = True,
        log_location: str = "mvsepd's log",
        config_file: tuple[Path, str] | None = None,
        page: PageFactory | None = None,
    ) -> None:
        """``config_file``: where ``config`` was read from and its text, so that a change of
        it (on disk, SIGHUP, the page) is applied without a restart; None (tests that hand a
        parsed config in) leaves the configuration as it is until the daemon stops."""
        self.config = config
        self.paths = paths
        self._page = page
        self.notifier = notifier or Notifier()
        self.hooks = hooks or DaemonHooks()
        self._serve_status = status_api
        #: The local status/control API once ``start`` ran (None when disabled).
        self.status_api: StatusApi | None = None
        self.stop_event = StopSignal()
        self.ready = threading.Event()
        ensure_private_directory(paths.state_dir)
        self.store, clock = studiohost.open_store(config, paths, clock, notifier=self.notifier)
        self.started_at = clock()
        self.client = MvsepClient(token, config.account.server)
        catalog = CatalogCache(
            paths.catalog_cache,
            self._fetch_catalog,
            refresh_seconds=config.daemon.catalog_refresh_hours * 3600,
            clock=clock,
        )
        self.context = Context(
            config=config,
            store=self.store,
            client=self.client,
            catalog=catalog,
            clock=clock,
            settings=settings
            or EngineSettings(
                poll_first_seconds=config.daemon.poll_first_seconds,
                poll_max_seconds=max(
                    config.daemon.poll_max_seconds, config.daemon.poll_first_seconds
                ),
                lost_upload_grace_seconds=config.daemon.lost_upload_grace_seconds,
                parallel_downloads=config.daemon.parallel_downloads,
                publish_wait_seconds=config.daemon.publish_wait_minutes * 60,
            ),
            started_at=clock(),
            work_dir=paths.cache_dir / "chain-stems",
            upload_dir=paths.cache_dir / "uploads",
            log_location=log_location,
        )
        self.context.folders.update(runtime_folders(config))
        self.context.resolve_presets()
        specs = watch_specs(config, self.context.folders)
        self.intake = intake.Intake(
            specs,
            readiness=readiness,
            is_known=lambda folder, relative, stat: self.engine.is_known(folder, relative, stat),
            known_snapshot=lambda folder: self.engine.known_files(folder),
            rescan_seconds=config.daemon.rescan_seconds,
            logger=structlog.get_logger("mvsepd.intake"),
            on_watch_start=lambda folder: self.engine.first_watch(folder),
        )
        self.engine = Engine(self.context, self.intake)
        self.stop_event.add_listener(self.engine.wake)
        self.studio = studiohost.studio_link(self.store, self.engine, self.context)
        #: The configuration at run time (None without a file to follow).
        self.live_config: ConfigReloader | None = None
        if config_file is not None:
            self.live_config = ConfigReloader(
                path=config_file[0],
                text=config_file[1],
                config=config,
                engine=self.engine,
                intake=self.intake,
                paths=paths,
                token=token,
                swap_client=self._swap_client,
                clock=clock,
            )

    def _swap_client(self, client: MvsepClient) -> None:
        """Send with a new client (a new token or server) from the next request on; the old
        one's connections are closed when nothing holds it any more."""
        self.client = client
        self.context.client = client

    def _config_state(self) -> dict[str, Any] | None:
        """The configuration as status shows it: the file, and a change of it refused."""
        if self.live_config is None:
            return None
        state = self.live_config.state()
        return {
            "path": str(state.path),
            "in_force": not state.refused,
            "refused": [{"line": problem.line, "text": problem.text} for problem in state.refused],
            "refused_at": state.refused_at,
        }

    def reload_config(self) -> None:
        """Read the configuration file again and apply it if it passes (SIGHUP), and say in
        the log what came of it (the user asked)."""
        if self.live_config is None:
            log.warning("reload_ignored", note="this daemon was given no configuration file")
            return
        outcome = self.live_config.reload()
        log.info("reload_done", outcome=outcome.value)

    def _fetch_catalog(self) -> bytes:
        return self.client.algorithms_answer(list(AlgorithmScope))

    def start(self) -> None:
        """Start watching (each folder's first watch is recorded, and its first scan runs,
        now; a folder that appears later, when it does), then say ready."""
        # Without any catalog, presets named by text cannot be checked: fetch it once now.
        if self.context.catalog.algorithms is None and self.context.catalog.refresh():
            self.context.resolve_presets()
        self.report_preset_problems()
        self.engine.prepare_folders()
        if self.studio is not None:
            self.studio.start()
        self.intake.start()
        if self.live_config is not None:
            self.intake.watch_file(self.live_config.state().path, self.live_config.file_changed)
        if self._serve_status:
            self._start_status_api()
        for hook in self.hooks.on_started:
            hook(self)
        self.ready.set()
        counts = self.store.count_by_state()
        self.notifier.ready(_status_line(counts))
        log.info(
            "daemon_ready",
            folders=[str(path) for path in self.context.folders],
            server=self.client.server,
            jobs={state.value: count for state, count in counts.items()},
        )

    def _start_status_api(self) -> None:
        daemon_config = self.config.daemon
        page = self._page(self) if self._page is not None else None
        # With the page, a fixed port (a bookmark keeps working) unless status_port names one.
        page_port = daemon_config.page_port if page is not None else 0
        status_api = StatusApi(
            self.engine,
            runtime_file=self.paths.runtime_file,
            host=daemon_config.status_host,
            port=daemon_config.status_port or page_port,
            started_at=self.started_at,
            allow_remote=daemon_config.allow_remote_status,
            config_state=self._config_state,
            page=page,
            any_port_if_taken=daemon_config.status_port == 0 and page_port != 0,
        )
        logsetup.add_secret(status_api.token.reveal())
        # Set before it serves: the page's first request may come at once and asks for it.
        self.status_api = status_api
        try:
            status_api.start()
        except BaseException:
            self.status_api = None
            raise

    def preset_problems(self) -> list[str]:
        """Return every preset and chain that cannot be used, in words (empty when all
        resolve), and advice about chains (two steps MVSEP could do as one job)."""
        problems = [
            f"presets.{name}: {problem}"
            for name, problem in self.context.presets.items()
            if isinstance(problem, Exception)
        ]
        problems += [
            f"chains.{name}: {plan}"
            for name, plan in self.context.chains.items()
            if isinstance(plan, Exception)
        ]
        return problems

    def report_preset_problems(self) -> None:
        """Log presets that cannot be used; files in their folders fail with the reason."""
        for problem in self.preset_problems():
            log.error("preset_unusable", problem=problem, note="its folder's files will fail")

    def run(self) -> None:
        """Run the engine until ``stop_event`` is set."""
        last_status = [""]

        def on_tick() -> None:
            self.notifier.watchdog()
            if self.notifier.enabled:
                # Only a changed line is sent: each message wakes systemd too.
                line = _status_line(self.store.count_by_state())
                if line != last_status[0]:
                    last_status[0] = line
                    self.notifier.status(line)

        self.engine.run(self.stop_event, on_tick=on_tick, max_sleep=self.notifier.watchdog_interval)

    def stop(self) -> bool:
        """Stop everything; return True if every worker ended within the grace period."""
        self.stop_event.set()
        self.notifier.stopping()
        if self.status_api is not None:
            # First, so that clients see the daemon go and stop asking.
            self.status_api.stop()
        for hook in self.hooks.on_stopping:
            with contextlib.suppress(Exception):
                hook(self)
        if self.live_config is not None:
            self.live_config.close()
        self.intake.stop()
        drained = self.engine.shutdown(STOP_GRACE_SECONDS)
        if self.studio is not None:
            self.studio.stop()
        if drained:
            self.client.close()
            self.store.close()
        log.info("daemon_stopped", clean=drained)
        return drained


class StopSignal(threading.Event):
    """The daemon's stop flag. Setting it also calls its listeners (the engine's wake-up):
    the engine sleeps until its next deadline and must not sleep through a stop."""

    def __init__(self) -> None:
        super().__init__()
        self._listeners: list[Callable[[], None]] = []

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` whenever the flag is set."""
        self._listeners.append(listener)

    def set(self) -> None:
        super().set()
        for listener in list(self._listeners):
            listener()


def _status_line(counts: dict[JobState, int]) -> str:
    active = sum(
        count
        for state, count in counts.items()
        if state
        in (JobState.UPLOADING, JobState.SUBMITTED, JobState.PUBLISHING, JobState.DOWNLOADING)
    )
    waiting = sum(
        count
        for state, count in counts.items()
        if state in (JobState.STABLE, JobState.WAITING_SLOT, JobState.RETRY_WAIT)
    )
    return (
        f"{active} active, {waiting} waiting, {counts.get(JobState.DONE, 0)} done, "
        f"{counts.get(JobState.FAILED, 0)} failed, {counts.get(JobState.HELD, 0)} held"
    )


def install_signal_handlers(daemon: Daemon) -> None:
    """First SIGINT/SIGTERM: graceful stop. Second: exit at once (jobs resume next start).
    SIGHUP: a reload, or, in a terminal, a stop (``hangup_is_the_terminal_closing``)."""
    received: list[int] = []

    def handler(signum: int, _frame: FrameType | None) -> None:
        if received:
            log.warning("second_signal", note="exiting now; jobs resume on the next start")
            os._exit(128 + signum)
        received.append(signum)
        log.info("stop_requested", signal=signal.Signals(signum).name)
        daemon.stop_event.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    if not hasattr(signal, "SIGHUP"):  # Windows
        return
    if hangup_is_the_terminal_closing():
        # Started in a terminal: closing its window must stop mvsepd, as it stops every
        # program started there (the configuration file is followed anyway).
        signal.signal(signal.SIGHUP, handler)
        return

    def reload(_signum: int, _frame: FrameType | None) -> None:
        log.info("reload_requested", signal="SIGHUP")
        # Not in the handler itself: reading and applying takes locks a thread may hold.
        threading.Thread(target=daemon.reload_config, name="mvsepd-reload").start()

    signal.signal(signal.SIGHUP, reload)


def hangup_is_the_terminal_closing() -> bool:
    """True when SIGHUP would mean that the terminal mvsepd runs in was closed: the process
    has a controlling terminal and was not started to outlive it (``nohup`` ignores SIGHUP).
    A service (systemd, launchd) has none: there SIGHUP asks for a reload."""
    if signal.getsignal(signal.SIGHUP) is signal.SIG_IGN:
        return False
    try:
        descriptor = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY)
    except OSError:
        return False  # no controlling terminal
    os.close(descriptor)
    return True


def run_foreground(
    paths: AppPaths,
    build: Callable[[], Daemon],
    *,
    companion: Callable[[Daemon], None] | None = None,
) -> bool:
    """Lock the state directory, build the daemon, run it until a signal, stop it.

    ``companion`` (the tray of ``mvsepd run --tray``) runs on the main thread, which GUI
    toolkits demand, once the daemon is ready; the engine then runs in a thread. Signals are
    still handled on the main thread. When the companion returns, the daemon runs on until
    it is asked to stop. Return True when every worker ended within the grace period. Raise
    AlreadyRunningError (before anything is opened) when another daemon holds the state
    directory.
    """
    lock = InstanceLock(paths.lock_file)
    lock.acquire()
    try:
        # Before any thread starts: the arena limit applies to arenas made from now on.
        allocator.tune()
        daemon = build()
        install_signal_handlers(daemon)
        daemon.start()
        if companion is None:
            daemon.run()
        else:
            _run_beside(daemon, companion)
        return daemon.stop()
    finally:
        lock.release()


def _run_beside(daemon: Daemon, companion: Callable[[Daemon], None]) -> None:
    engine = threading.Thread(target=daemon.run, name="mvsepd-engine", daemon=True)
    engine.start()
    try:
        companion(daemon)
    except BaseException:
        # A companion that crashed stops the daemon cleanly instead of leaving it headless.
        daemon.stop_event.set()
        engine.join(timeout=STOP_GRACE_SECONDS)
        daemon.stop()
        raise
    # join() in short slices keeps the main thread free to run signal handlers.
    while engine.is_alive():
        engine.join(timeout=0.5)
