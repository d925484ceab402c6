"""Where mvsepd keeps its files (leaf layer: standard library and platformdirs only).

Each directory is chosen in this order:

1. an explicit ``MVSEPD_*`` environment variable (tests, containers, unusual set-ups);
2. the directory systemd hands a service (``STATE_DIRECTORY``, ``RUNTIME_DIRECTORY``, ...);
3. the platform's convention from platformdirs (XDG on Linux, ~/Library on macOS,
   %LOCALAPPDATA% on Windows).

State (the job store, the catalog cache, the lock) never lives on a network share: SQLite over
SMB/NFS corrupts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "mvsepd"

CONFIG_FILE_NAME = "config.yaml"
TOKEN_FILE_NAME = "token"  # noqa: S105 (a file name, not a credential)
STORE_FILE_NAME = "jobs.sqlite3"
LOCK_FILE_NAME = "daemon.lock"
#: Every scope (uploads, text-only models, matchering); the name changed with the scopes, so an
#: older single-scope cache is never read as the whole catalog.
CATALOG_CACHE_NAME = "algorithms.all-scopes.json"
RUNTIME_FILE_NAME = "statusapi.json"
LOG_FILE_NAME = "mvsepd.log"


def _first_directory(*names: str) -> Path | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            # systemd may pass several colon-separated directories; the first is ours.
            return Path(value.split(os.pathsep)[0]).expanduser()
    return None


@dataclass(frozen=True)
class AppPaths:
    """The directories of one mvsepd installation (one user)."""

    config_dir: Path
    state_dir: Path
    cache_dir: Path
    log_dir: Path
    runtime_dir: Path

    @property
    def config_file(self) -> Path:
        """The default configuration file."""
        return self.config_dir / CONFIG_FILE_NAME

    @property
    def token_file(self) -> Path:
        """Where ``mvsepd login`` stores the API token (mode 0600)."""
        return self.config_dir / TOKEN_FILE_NAME

    @property
    def store_file(self) -> Path:
        """The SQLite job store."""
        return self.state_dir / STORE_FILE_NAME

    @property
    def lock_file(self) -> Path:
        """The single-instance lock of the daemon."""
        return self.state_dir / LOCK_FILE_NAME

    @property
    def catalog_cache(self) -> Path:
        """The cached algorithm catalog."""
        return self.cache_dir / CATALOG_CACHE_NAME

    @property
    def runtime_file(self) -> Path:
        """Port and token of the running daemon's status API (mode 0600)."""
        return self.runtime_dir / RUNTIME_FILE_NAME

    @property
    def runtime_file_candidates(self) -> list[Path]:
        """Where a running daemon's runtime file may be, most likely first.

        A daemon started without ``XDG_RUNTIME_DIR`` (a systemd system unit) writes it below
        the state folder; a login shell that has the variable must still find it.
        """
        fallback = self.state_dir / "run" / RUNTIME_FILE_NAME
        return [self.runtime_file] + ([fallback] if fallback != self.runtime_file else [])

    @property
    def log_file(self) -> Path:
        """The rotating log file used with ``--log-file``."""
        return self.log_dir / LOG_FILE_NAME


def app_paths() -> AppPaths:
    """Return the directories for the current user and environment (nothing is created)."""
    config_dir = _first_directory("MVSEPD_CONFIG_DIR", "CONFIGURATION_DIRECTORY")
    state_dir = _first_directory("MVSEPD_STATE_DIR", "STATE_DIRECTORY")
    cache_dir = _first_directory("MVSEPD_CACHE_DIR", "CACHE_DIRECTORY")
    log_dir = _first_directory("MVSEPD_LOG_DIR", "LOGS_DIRECTORY")
    runtime_dir = _first_directory("MVSEPD_RUNTIME_DIR", "RUNTIME_DIRECTORY")
    return AppPaths(
        config_dir=config_dir or Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        state_dir=state_dir or Path(platformdirs.user_state_dir(APP_NAME, appauthor=False)),
        cache_dir=cache_dir or Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
        log_dir=log_dir or Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
        runtime_dir=runtime_dir or _runtime_default(state_dir),
    )


def _runtime_default(state_dir: Path | None) -> Path:
    # platformdirs falls back to a shared temp path when XDG_RUNTIME_DIR is unset; a
    # per-user runtime file must not live there, so the state dir is the fallback instead.
    if os.environ.get("XDG_RUNTIME_DIR") or os.name == "nt" or _is_macos():
        return Path(platformdirs.user_runtime_dir(APP_NAME, appauthor=False))
    base = state_dir or Path(platformdirs.user_state_dir(APP_NAME, appauthor=False))
    return base / "run"


def _is_macos() -> bool:
    return os.uname().sysname == "Darwin" if hasattr(os, "uname") else False


def ensure_private_directory(path: Path) -> Path:
    """Create ``path`` (and parents) if needed, readable only by the user; return it.

    A directory that already exists keeps its permissions: it may be one the user chose.
    """
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        if os.name != "nt":
            path.chmod(0o700)
    return path


def absolute(path: Path) -> Path:
    """``path`` with ``~`` expanded, made absolute and resolved (as given where it cannot be)."""
    expanded = path.expanduser()
    try:
        return expanded.resolve()
    except OSError:
        return expanded.absolute()


def shown(path: str | Path, width: int | None = None, *, home: Path | None = None) -> str:
    """A path as a person reads it: the home folder as ``~``, and, when it is longer than
    ``width`` characters, its middle folders elided (``~/Music/…/Vocals stems/Take 3``), so
    that the names at both ends stay whole instead of being broken mid-word. A last name
    longer than ``width`` on its own is returned whole (``…/`` before it), to be wrapped
    between its words."""
    text = os.fspath(path)
    home_text = os.fspath(home if home is not None else Path.home()).rstrip(os.sep)
    if home_text and (text == home_text or text.startswith(home_text + os.sep)):
        text = "~" + text[len(home_text) :]
    if width is None or len(text) <= width:
        return text
    parts = text.split(os.sep)
    if len(parts) > 1:
        # The first part (``~``, or "" before the root's separator) and the last parts that fit.
        head, tail = parts[:1], parts[1:]
        kept: list[str] = []
        for part in reversed(tail):
            candidate = os.sep.join([*head, "…", part, *kept])
            if len(candidate) > width:
                break
            kept.insert(0, part)
        if kept:
            return os.sep.join([*head, "…", *kept])
        return os.sep.join(["…", parts[-1]])
    return text


def elided(name: str, width: int) -> str:
    """``name`` in at most ``width`` characters: its middle replaced by "…", its start and
    its end (the extension) kept."""
    if len(name) <= width:
        return name
    if width <= 1:
        return "…"[:width]
    end = min(len(name) // 3, (width - 1) // 2)
    return name[: width - 1 - end] + "…" + name[len(name) - end :]
