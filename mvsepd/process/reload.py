"""The daemon's configuration applied without a restart: when the file changes on disk, on
SIGHUP, and when the page saves (``LiveConfig``).

A new text is checked exactly as ``mvsepd config check`` checks a file (syntax, every schema
and rule problem, the presets and chains against the catalog at hand, the token) and applied
only when it passes: folders added are watched, removed ones let go, changed ones take their
new settings, a preset change reaches the jobs not yet sent (``engine.reconfigure``), a new
server or token is used for what is sent from now on. A text that does not pass is refused
with the same problems (line and key), the configuration in force stays, and the refusal is
said once: in the log, in ``mvsepd status`` and the tray (the status API's ``config``). What
only a restart can change (the store, the status API's address, the daemon's timings) is
said once, and applies at the next start.

A change on disk is applied a moment after the last event of a save (an editor writes a file in
several steps); a timer thread exists only during that moment.
"""

from __future__ import annotations

import dataclasses
import enum
import threading
from collections.abc import Callable
from pathlib import Path

import structlog

from mvsepd import intake
from mvsepd.api import MvsepClient
from mvsepd.config.catalog import catalog_problems
from mvsepd.config.file import inspect_config, resolve_token, write_private_file
from mvsepd.config.model import Config
from mvsepd.engine import Engine, FolderRuntime
from mvsepd.errors import ConfigError, ConfigProblem, MvsepdError
from mvsepd.models import Secret
from mvsepd.paths import AppPaths, absolute
from mvsepd.process import logsetup
from mvsepd.process.settings import ConfigState, SaveOutcome

log = structlog.get_logger("mvsepd.daemon")

#: How long a file must stay quiet after a change before it is read (an editor's save).
SETTLE_SECONDS = 0.3
#: Sections only a restart applies, and their keys that apply at once anyway.
_AT_RESTART: dict[str, set[str]] = {"store": set(), "daemon": {"incomplete_after_seconds"}}


def runtime_folders(config: Config) -> dict[Path, FolderRuntime]:
    """Each configured hot folder by its absolute path, with where its stems go."""
    return {
        absolute(folder.path): FolderRuntime(
            config=folder, path=absolute(folder.path), output_root=absolute(folder.output_root())
        )
        for folder in config.folders
    }


def watch_specs(config: Config, folders: dict[Path, FolderRuntime]) -> list[intake.WatchSpec]:
    """How the intake watches each folder (a paused one is not watched; its runtime stays for
    the jobs it already made)."""
    return [
        dataclasses.replace(
            intake.WatchSpec.from_folder_config(
                runtime.config,
                incomplete_after_seconds=config.folder_settings(
                    runtime.config
                ).incomplete_after_seconds,
            ),
            path=path,
        )
        for path, runtime in folders.items()
        if not runtime.config.paused
    ]


class ReloadOutcome(enum.Enum):
    """What reading the file again came to."""

    APPLIED = "applied"
    UNCHANGED = "unchanged"
    REFUSED = "refused"
    #: The same text as the last refusal: not said again.
    REFUSED_ALREADY = "refused_already"


class ConfigReloader:
    """The daemon's ``LiveConfig`` (see the module docstring)."""

    def __init__(
        self,
        *,
        path: Path,
        text: str,
        config: Config,
        engine: Engine,
        intake: intake.Intake,
        paths: AppPaths,
        token: Secret,
        swap_client: Callable[[MvsepClient], None],
        clock: Callable[[], float],
    ) -> None:
        self._path = path
        self._text = text
        self._config = config
        self._engine = engine
        self._intake = intake
        self._paths = paths
        self._token = token
        self._swap_client = swap_client
        self._clock = clock
        self._lock = threading.RLock()
        self._refused: tuple[ConfigProblem, ...] = ()
        self._refused_text: str | None = None
        self._refused_at: float | None = None
        #: Only for the settle timer: taken on watchers' threads (see ``file_changed``).
        self._timer_lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._closed = False

    # --- LiveConfig -------------------------------------------------------------------------

    def state(self) -> ConfigState:
        with self._lock:
            return ConfigState(self._path, self._text, self._refused, self._refused_at)

    def save(self, text: str) -> SaveOutcome:
        with self._lock:
            config, token, problems = self._check(text)
            if config is None:
                return SaveOutcome(False, tuple(problems))
            # Here, not at the top: ruamel.yaml (a few MB) is loaded by the first save, not
            # carried by every idle daemon.
            from mvsepd.config.write import write_text

            try:
                write_text(self._path, text)
            except ConfigError as error:
                return SaveOutcome(False, tuple(error.items))
            self._apply(text, config, token)
            return SaveOutcome(True)

    def sign_in(self, token: Secret) -> None:
        with self._lock:
            with MvsepClient(token, self._config.account.server) as client:
                client.user()  # InvalidTokenError when MVSEP does not know it
            stored = self._config.account.token_file or self._paths.token_file
            write_private_file(stored, token.reveal() + "\n")
            log.info("signed_in", token_file=str(stored))
            config, chosen, problems = self._check(self._text)
            if config is None or chosen is None:
                raise MvsepdError("; ".join(problem.text for problem in problems))
            if chosen.reveal() != token.reveal():
                log.warning(
                    "token_overridden",
                    note="account.token or the token's environment variable comes first; the "
                    "token signed in with is stored but not used",
                )
            self._use_token(chosen)
        self._engine.refresh_account()

    # --- changes from outside ----------------------------------------------------------------

    def file_changed(self) -> None:
        """The file changed on disk: read it once it is quiet. Called on a watcher's thread,
        which may hold the observer's lock while it calls (watchdog's dispatcher does): only
        the timer's own lock is taken here, never the one held while the intake is changed,
        or a save and a change seen at once would wait for each other for ever."""
        with self._timer_lock:
            if self._closed:
                return
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(SETTLE_SECONDS, self._settled)
            self._timer.daemon = True
            self._timer.start()

    def _settled(self) -> None:
        with self._timer_lock:
            self._timer = None
        self.reload()

    def reload(self) -> ReloadOutcome:
        """Read the file and apply it if it passes (SIGHUP; a change on disk)."""
        with self._lock:
            try:
                text = self._path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                return self._refuse(None, (ConfigProblem(f"cannot be read: {error}"),))
            if text == self._text:
                if self._refused:
                    self._refused, self._refused_text, self._refused_at = (), None, None
                    log.info("config_in_force", note="the file is back to what is in force")
                    self._engine.context.feed.bump()
                return ReloadOutcome.UNCHANGED
            config, token, problems = self._check(text)
            if config is None:
                return self._refuse(text, tuple(problems))
            self._apply(text, config, token)
            return ReloadOutcome.APPLIED

    def close(self) -> None:
        with self._timer_lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    # --- inside -----------------------------------------------------------------------------

    def _check(self, text: str) -> tuple[Config | None, Secret | None, list[ConfigProblem]]:
        """``text`` checked as ``config check`` does, against the catalog the daemon has."""
        source = str(self._path)
        try:
            inspection = inspect_config(text, source)
        except ConfigError as error:
            return None, None, list(error.items)
        problems = list(inspection.problems)
        found, _advice = catalog_problems(inspection, self._engine.context.catalog.algorithms)
        problems.extend(found)
        token = None
        if inspection.config is not None:
            try:
                token = resolve_token(
                    inspection.config, default_token_file=self._paths.token_file, source=source
                )
            except ConfigError as error:
                problems.extend(error.items)
        if problems or inspection.config is None:
            problems.sort(key=lambda problem: problem.line or 0)
            return None, None, problems
        return inspection.config, token, []

    def _refuse(self, text: str | None, problems: tuple[ConfigProblem, ...]) -> ReloadOutcome:
        if text is not None and text == self._refused_text:
            return ReloadOutcome.REFUSED_ALREADY  # said already
        self._refused, self._refused_text, self._refused_at = problems, text, self._clock()
        log.error(
            "config_refused",
            file=str(self._path),
            problems=[_located(problem) for problem in problems],
            note="the configuration in force stays; fix the file and save it again",
        )
        self._engine.context.feed.bump()
        return ReloadOutcome.REFUSED

    def _apply(self, text: str, config: Config, token: Secret | None) -> None:
        previous = self._config
        folders = runtime_folders(config)
        applied = self._engine.reconfigure(config, folders, watch_specs(config, folders))
        if config.account.server != previous.account.server or (
            token is not None and token.reveal() != self._token.reveal()
        ):
            self._use_token(token or self._token, server=config.account.server)
        self._config, self._text = config, text
        lifted = bool(self._refused)
        self._refused, self._refused_text, self._refused_at = (), None, None
        waiting = [
            section
            for section, live in _AT_RESTART.items()
            if getattr(config, section).model_dump(exclude=live)
            != getattr(previous, section).model_dump(exclude=live)
        ]
        log.info(
            "config_applied",
            file=str(self._path),
            added=[str(path) for path in applied.folders.added],
            removed=[str(path) for path in applied.folders.removed],
            changed=[str(path) for path in applied.folders.changed],
            replaced_jobs=list(applied.replaced_jobs),
            at_next_start=waiting or None,
            refusal_lifted=lifted or None,
        )
        self._engine.context.feed.bump()

    def _use_token(self, token: Secret, *, server: str | None = None) -> None:
        logsetup.add_secret(token.reveal())
        self._token = token
        self._swap_client(MvsepClient(token, server or self._config.account.server))


def _located(problem: ConfigProblem) -> str:
    return problem.text if problem.line is None else f"line {problem.line}: {problem.text}"
