"""``mvsepd status|jobs|pause|resume|rescan|retry|cancel|tray``: clients of the running daemon.

Each finds the daemon through its runtime file (``mvsepd.control``) and says plainly when it is
not running (exit status 3, ``ExitStatus.DAEMON_UNREACHABLE``). Tables are drawn by
``status_table``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from mvsepd import logsetup
from mvsepd.cli.common import (
    config_option,
    config_path_or_default,
    console,
    handle_errors,
    json_option,
    print_json,
    say,
)
from mvsepd.cli.status_table import jobs_table, status_lines
from mvsepd.control import ControlClient
from mvsepd.errors import DaemonUnreachableError
from mvsepd.exits import ExitStatus


def _client() -> ControlClient:
    return ControlClient.discover()


@click.command()
@json_option
@handle_errors
def status(as_json: bool) -> None:
    """Show the daemon, the account, the folders and the jobs.

    Exit status 0 when the daemon answers, 3 when it is not running (scripts can rely on it).
    With --json, print the status API's whole picture (or {"running": false, "error": ...}).
    """
    try:
        picture = _client().status()
    except DaemonUnreachableError as error:
        if not as_json:
            raise
        print_json({"running": False, "error": str(error)})
        raise SystemExit(int(ExitStatus.DAEMON_UNREACHABLE)) from None
    if as_json:
        print_json(picture)
        return
    output = console()
    for line in status_lines(picture, output.width):
        output.print(line)
    jobs = picture.get("jobs", [])
    if jobs:
        output.print(jobs_table(jobs, wide=False, width=output.width))


@click.command()
@click.option("--all", "include_all", is_flag=True, help="Every job ever, not only recent ones.")
@json_option
@handle_errors
def jobs(include_all: bool, as_json: bool) -> None:
    """List unfinished jobs and those finished in the last day (--all: every job)."""
    listed = _client().jobs(include_all=include_all)
    if as_json:
        print_json(listed)
        return
    if not listed:
        say("no jobs" if include_all else "no jobs in the last day (--all shows older ones)")
        return
    output = console()
    output.print(jobs_table(listed, wide=True, width=output.width))


def _say_message(answer: dict[str, Any]) -> None:
    say(str(answer.get("message", "done")))


@click.command()
@handle_errors
def pause() -> None:
    """Stop submitting new files to MVSEP (jobs already there go on and are downloaded)."""
    _say_message(_client().pause())


@click.command()
@handle_errors
def resume() -> None:
    """Submit new files again after `mvsepd pause`."""
    _say_message(_client().resume())


@click.command()
@handle_errors
def rescan() -> None:
    """Scan every hot folder now instead of waiting for the next periodic scan."""
    _say_message(_client().rescan())


@click.command()
@click.argument("job_id", metavar="JOB", type=int)
@handle_errors
def retry(job_id: int) -> None:
    """Submit a failed (or cancelled, done, held) job again; this spends credits again.

    JOB is the number in the first column of `mvsepd jobs`.
    """
    _say_message(_client().retry(job_id))


@click.command()
@click.argument("job_id", metavar="JOB", type=int)
@handle_errors
def cancel(job_id: int) -> None:
    """Cancel a job. While it waits in MVSEP's queue it is cancelled there (credits refunded);
    once MVSEP works on it, mvsepd stops tracking it and says so.

    JOB is the number in the first column of `mvsepd jobs`.
    """
    _say_message(_client().cancel(job_id))


@click.command()
@config_option
@handle_errors
def tray(config_path: Path | None) -> None:
    """Show a tray icon for the running daemon (in a desktop session).

    The icon shows the next waiting job's place in MVSEP's queue; its menu lists the jobs and
    recent results. It waits for the daemon when it is not running and follows it across
    restarts. Exits with an error at once when no tray can be shown (no display, no tray
    host). `mvsepd run --tray` runs the daemon and the tray in one process instead.
    """
    from mvsepd.tray import TrayFiles, run_tray

    logsetup.configure(level="warning", json_lines=False)
    config_file, paths = config_path_or_default(config_path)
    run_tray(
        lambda: ControlClient.discover(paths),
        files=TrayFiles(log_file=paths.log_file, config_file=config_file),
    )


COMMANDS: list[click.Command] = [status, jobs, pause, resume, rescan, retry, cancel, tray]
