"""``mvsepd status|jobs|pause|resume|rescan|retry|cancel|tray``: clients of the running daemon.

Each finds the daemon through its runtime file (``mvsepd.client.control``) and says plainly when it is
not running (exit status 3, ``ExitStatus.DAEMON_UNREACHABLE``). Tables are drawn by
``status_table``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

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
from mvsepd.client.control import ControlClient
from mvsepd.errors import DaemonUnreachableError
from mvsepd.exits import ExitStatus
from mvsepd.paths import absolute
from mvsepd.process import logsetup


def _client() -> ControlClient:
    return ControlClient.discover()


@click.command()
@click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="Name every file waited for and every file a folder skipped (not only a few).",
)
@json_option
@handle_errors
def status(verbose: bool, as_json: bool) -> None:
    """Show the daemon, the account, the folders, the files arriving and the jobs.

    Files still being written are listed with how long they have waited; one that stays
    unfinished (empty, or cut short) is reported "incomplete" with the reason, and taken once
    it is complete. Files a folder held before mvsepd first watched it are skipped, counted
    here, and taken by `mvsepd rescan --include-existing FOLDER`.

    Exit status 0 when the daemon answers, 3 when it is not running (scripts can rely on it).
    With --json, print the status API's whole picture, every file named (or {"running":
    false, "error": ...}).
    """
    try:
        picture = _client().status(every_name=verbose or as_json)
    except DaemonUnreachableError as error:
        if not as_json:
            raise
        print_json({"running": False, "error": str(error)})
        raise SystemExit(int(ExitStatus.DAEMON_UNREACHABLE)) from None
    if as_json:
        print_json(picture)
        return
    output = console()
    for line in status_lines(picture, verbose=verbose):
        # Wrapped between words at the terminal's width; a line that must stay whole (a command
        # to copy) is marked no_wrap and left to the terminal.
        output.print(line, soft_wrap=bool(line.no_wrap))
    jobs = picture.get("jobs", [])
    if jobs:
        output.print(jobs_table(jobs, wide=False))


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
    console().print(jobs_table(listed, wide=True))


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
@click.argument("folder", required=False, type=click.Path(path_type=Path))
@click.option(
    "--include-existing",
    is_flag=True,
    help="Also take the files that were in FOLDER before mvsepd first watched it.",
)
@handle_errors
def rescan(folder: Path | None, include_existing: bool) -> None:
    """Scan FOLDER (a hot folder), or every hot folder, now instead of at the next periodic
    scan. Files added while mvsepd was stopped are found at its start anyway.

    With --include-existing, the files FOLDER held before mvsepd first watched it (skipped
    then, as `existing_files: skip` says; `mvsepd status` counts them) are taken now: each
    becomes a job like a new file. Audio already separated with the same preset is not sent
    or paid for again; its stems are placed for it.
    """
    if include_existing and folder is None:
        raise click.UsageError(
            "name the folder whose earlier files to take: mvsepd rescan --include-existing FOLDER"
        )
    where = None if folder is None else str(absolute(folder))
    _say_message(_client().rescan(where, include_existing=include_existing))


@click.command()
@click.argument("job_id", metavar="JOB", type=int)
@click.option(
    "--upload-again",
    is_flag=True,
    help="Upload the file again even if MVSEP still has the job (this spends credits again).",
)
@handle_errors
def retry(job_id: int, upload_again: bool) -> None:
    """Start a failed (or cancelled, done, unpublished, held) job again.

    mvsepd first asks MVSEP: while MVSEP still has the job (done, waiting or processing) its
    stems are fetched again and placed where they were, without an upload and without credits.
    Only a job MVSEP no longer has, or one MVSEP failed, is uploaded again, and the answer says
    what that costs. JOB is the number in the first column of `mvsepd jobs`.
    """
    _say_message(_client().retry(job_id, upload_again=upload_again))


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
