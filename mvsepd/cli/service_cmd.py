"""``mvsepd service install|uninstall|status``: run the daemon as the platform's service.

A systemd user unit on Linux (``--system``: a system unit template for headless hosts), a
LaunchAgent on macOS, a logon task on Windows. The work is in ``mvsepd.service``; this module
parses options and prints. Tests hand in a ``Host`` (temporary directories, a recording runner)
as ``obj["service_host"]`` of the click context.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from mvsepd.cli.common import config_option, handle_errors, say
from mvsepd.service import Host, Output, Request
from mvsepd.service import install as install_service
from mvsepd.service import status as service_status
from mvsepd.service import uninstall as uninstall_service

F = TypeVar("F", bound=Callable[..., Any])


def _options(command: F) -> F:
    command = click.option(
        "--run-as",
        metavar="USER",
        help="With --system: the user the service runs as (default: the one who ran sudo).",
    )(command)
    command = config_option(command)
    command = click.option(
        "--dry-run",
        is_flag=True,
        help="Print the file (stdout) and the commands (stderr); change nothing.",
    )(command)
    command = click.option(
        "--system",
        is_flag=True,
        help="Linux only: a system unit for headless hosts (needs root), run as a named user.",
    )(command)
    return command


def _host(context: click.Context) -> Host:
    root = context.find_root()
    given = root.obj.get("service_host") if isinstance(root.obj, dict) else None
    return given if isinstance(given, Host) else Host.current()


def _output() -> Output:
    return Output(say=say, aside=lambda text: say(text, err=True))


def _request(system: bool, dry_run: bool, config_path: Path | None, run_as: str | None) -> Request:
    if run_as is not None and not system:
        raise click.UsageError("--run-as only applies with --system")
    return Request(system=system, dry_run=dry_run, config=config_path, run_as=run_as)


@click.group(name="service")
def service_group() -> None:
    """Run mvsepd as a service: started at login, restarted after a crash.

    Linux: a systemd user unit. macOS: a LaunchAgent. Windows: a task at logon (no admin
    rights). On a desktop the service runs as you, so it sees your folders and drives.
    """


@service_group.command()
@_options
@click.pass_context
@handle_errors
def install(
    context: click.Context,
    system: bool,
    dry_run: bool,
    config_path: Path | None,
    run_as: str | None,
) -> None:
    """Write the service file, then enable and start it with the platform's tool.

    Refuses, changing nothing, when the tool is missing, a service is already installed, the
    configuration is not valid or has no token the service can read, or a daemon already runs.
    """
    request = _request(system, dry_run, config_path, run_as)
    raise SystemExit(install_service(_host(context), request, _output()))


@service_group.command()
@_options
@click.pass_context
@handle_errors
def uninstall(
    context: click.Context,
    system: bool,
    dry_run: bool,
    config_path: Path | None,
    run_as: str | None,
) -> None:
    """Stop the service and remove what `mvsepd service install` wrote (nothing else).

    The configuration, token, job store and logs stay.
    """
    request = _request(system, dry_run, config_path, run_as)
    raise SystemExit(uninstall_service(_host(context), request, _output()))


@service_group.command()
@_options
@click.pass_context
@handle_errors
def status(
    context: click.Context,
    system: bool,
    dry_run: bool,
    config_path: Path | None,
    run_as: str | None,
) -> None:
    """Say what is installed and whether it runs (exit 0 running, 3 not).

    Prints the platform tool's own status and where the log is.
    """
    request = _request(system, dry_run, config_path, run_as)
    raise SystemExit(service_status(_host(context), request, _output()))


COMMANDS: list[click.Command] = [service_group]
