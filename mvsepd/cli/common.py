"""What every command shares: finding the config, one error-to-exit-status translator, output.

Errors become one plain sentence on stderr and a meaningful exit status (``mvsepd.exits``);
``--debug`` (or ``MVSEPD_DEBUG=1``) shows the traceback as well.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click
from rich.console import Console

from mvsepd import errors
from mvsepd.config.file import LoadedConfig, load_config, resolve_token
from mvsepd.config.model import Config
from mvsepd.exits import ExitStatus
from mvsepd.models import Secret
from mvsepd.paths import AppPaths, app_paths

P = ParamSpec("P")
R = TypeVar("R")

CONFIG_ENV = "MVSEPD_CONFIG"

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=CONFIG_ENV,
    help=f"Configuration file (default: the platform config folder; or ${CONFIG_ENV}).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def console(stderr: bool = False) -> Console:
    """Return a rich console (plain text when not a terminal)."""
    stream = sys.stderr if stderr else sys.stdout
    # Piped output (grep, a file) gets wide lines instead of cells wrapped at 80 columns.
    width = None if stream.isatty() else 200
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=width)


def say(message: str, *, err: bool = False) -> None:
    """Print one plain line (no markup interpretation)."""
    click.echo(message, err=err)


def print_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout."""
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


@dataclass(frozen=True)
class Loaded:
    """A valid configuration with the directories of this installation."""

    config: Config
    source: Path
    paths: AppPaths
    warnings: tuple[str, ...]

    def token(self) -> Secret:
        """Return the API token (raises ConfigError saying where it was looked for)."""
        return resolve_token(
            self.config, default_token_file=self.paths.token_file, source=str(self.source)
        )


def config_path_or_default(config_path: Path | None) -> tuple[Path, AppPaths]:
    """Return the configuration file to use and the directories."""
    paths = app_paths()
    return (config_path or paths.config_file).expanduser(), paths


def load(config_path: Path | None) -> Loaded:
    """Load and validate the configuration. Raise ConfigError listing every problem."""
    path, paths = config_path_or_default(config_path)
    loaded: LoadedConfig = load_config(path)
    for warning in loaded.warnings:
        say(f"warning: {warning}", err=True)
    return Loaded(loaded.config, path, paths, loaded.warnings)


def _debug_enabled() -> bool:
    context = click.get_current_context(silent=True)
    root = context.find_root() if context is not None else None
    if root is not None and root.obj and root.obj.get("debug"):
        return True
    return os.environ.get("MVSEPD_DEBUG", "") not in ("", "0")


def exit_status_for(error: BaseException) -> ExitStatus:
    """Return the exit status that means ``error``."""
    if isinstance(error, (errors.ConfigError, errors.MissingPartError)):
        return ExitStatus.CONFIG
    if isinstance(error, errors.AlreadyRunningError):
        return ExitStatus.ALREADY_RUNNING
    if isinstance(error, errors.DaemonUnreachableError):
        return ExitStatus.DAEMON_UNREACHABLE
    if isinstance(error, errors.InputError):
        return ExitStatus.USAGE
    return ExitStatus.ERROR


def describe(error: BaseException) -> str:
    """Return the words shown for an error."""
    if isinstance(error, errors.ConfigError):
        return "\n".join(error.report())
    if isinstance(error, errors.NetworkError):
        # The connection failed before any answer: which host matters (the words name it),
        # not which API path was asked.
        return f"MVSEP: {error.detail}"
    if isinstance(error, errors.MvsepError):
        return f"MVSEP: {error}"
    return str(error)


def handle_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn mvsepd's errors into one sentence on stderr and the matching exit status."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except errors.MvsepdError as error:
            if _debug_enabled():
                raise
            say(f"mvsepd: {describe(error)}", err=True)
            raise SystemExit(int(exit_status_for(error))) from None
        except KeyboardInterrupt:
            say("mvsepd: interrupted", err=True)
            raise SystemExit(int(ExitStatus.INTERRUPTED)) from None

    return wrapper


def ensure_tty_or_flag(flag: bool, what: str) -> None:
    """Refuse to prompt when nobody can answer (not a terminal)."""
    if not flag and not sys.stdin.isatty():
        raise errors.InputError(f"{what} is needed and stdin is not a terminal", field=what)
