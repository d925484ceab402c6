"""``mvsepd run`` (the daemon in the foreground) and ``mvsepd demo`` (everything, offline)."""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import click

from mvsepd.cli.common import config_option, handle_errors, load, say
from mvsepd.config.file import parse_config, write_private_file
from mvsepd.engine import EngineSettings
from mvsepd.errors import ConfigError
from mvsepd.exits import ExitStatus
from mvsepd.models import JobRecord, JobState, Secret
from mvsepd.page import page_for
from mvsepd.paths import AppPaths
from mvsepd.process import logsetup
from mvsepd.process.daemon import Daemon, run_foreground
from mvsepd.statusapi.words import PUBLISHING_WORDS


@click.command()
@config_option
@click.option(
    "--log-file",
    is_flag=True,
    help="Also write JSON lines to a rotating file in the user log folder.",
)
@click.option(
    "--json-logs/--console-logs",
    default=False,
    help="JSON lines on stderr, for a journal (what the installed service uses), or one "
    "line in words per event (the default).",
)
@click.option(
    "--tray",
    "with_tray",
    is_flag=True,
    help="Also show the tray icon, in this process (needs a desktop session).",
)
@handle_errors
def run(config_path: Path | None, log_file: bool, json_logs: bool, with_tray: bool) -> None:
    """Watch the configured hot folders and process new files until stopped.

    Runs in the foreground (service managers and terminals both like that). Ctrl+C or SIGTERM
    stops it within about ten seconds, every job saved; a second Ctrl+C exits at once. With
    --tray the tray icon runs in the same process and its menu can also quit the daemon.
    `mvsepd open` opens its page in the browser (daemon.page_port, 6877 unless set).
    """
    try:
        loaded = load(config_path)
        token = loaded.token()
    except ConfigError as error:
        if sys.stderr.isatty():
            say("mvsepd: cannot start: " + "\n".join(error.report()), err=True)
        else:
            # One line: under a service manager it is the journal's last word on why the
            # unit stopped (exit 78 ends it instead of a restart loop).
            problems = "; ".join(error.problems)
            say(f"mvsepd: cannot start: {error.source}: {problems}", err=True)
        raise SystemExit(int(ExitStatus.CONFIG)) from None
    logsetup.add_secret(token.reveal())
    written_to = loaded.paths.log_file if log_file else None
    logsetup.configure(
        level=loaded.config.daemon.log_level, json_lines=json_logs, log_file=written_to
    )
    companion = None
    if with_tray:
        from mvsepd.tray import TrayFiles, tray_beside_daemon

        # Checked before the daemon starts: no display or no tray host is an error at once.
        companion = tray_beside_daemon(
            files=TrayFiles(log_file=loaded.paths.log_file, config_file=loaded.source)
        )
    drained = run_foreground(
        loaded.paths,
        lambda: Daemon(
            loaded.config,
            token,
            loaded.paths,
            log_location=logsetup.location(written_to),
            # Followed from now on: a change on disk, SIGHUP or the page applies it live.
            config_file=(loaded.source, loaded.source.read_text(encoding="utf-8")),
            page=page_for,
        ),
        companion=companion,
    )
    if not drained:
        # A worker is still inside a request (a long upload). Its job is saved as it stands and
        # the next start resumes it; waiting for the thread would break the promise to stop
        # within seconds, and the interpreter's exit would wait for it.
        logging.shutdown()
        os._exit(int(ExitStatus.OK))
    raise SystemExit(int(ExitStatus.OK))


DEMO_CONFIG = """
account:
  server: "{server}"
  token_file: "{token_file}"
presets:
  four-stems:
    sep_type: "Demucs4 HT (vocals, drums, bass, other)"
    output_format: wav16
folders:
  - path: "{hot}"
    preset: four-stems
    stability_seconds: 1
daemon:
  page_port: 0   # any free port: the demo prints its page's address
"""


@click.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to put the demo's hot folder and stems (default: a new temporary folder).",
)
@click.option("--timeout", default=180.0, show_default=True, help="Give up after this many s.")
@click.option(
    "--keep-running",
    is_flag=True,
    help="Keep the emulator, the daemon and its page running after the stems are ready, "
    "until Ctrl+C.",
)
@handle_errors
def demo(directory: Path | None, timeout: float, keep_running: bool) -> None:
    """Run mvsepd end to end, offline: a local MVSEP, a hot folder, a generated track.

    Starts the emulator, writes a short track into a new hot folder the way a DAW export does,
    lets the daemon upload it, wait in the queue and download the stems, then prints where they
    are. It prints the address of the daemon's page too (open it while the demo runs, or keep
    it running with --keep-running). No account, token or network needed.
    """
    from mvsepd.emulator import EmulatorServer, EmulatorSettings

    base = directory or Path(tempfile.mkdtemp(prefix="mvsepd-demo-"))
    base = base.expanduser().resolve()
    hot = base / "Exports"
    hot.mkdir(parents=True, exist_ok=True)
    logsetup.configure(level="warning", json_lines=False)
    settings = EmulatorSettings(queue_seconds=1.0, processing_seconds=2.0)
    with EmulatorServer(settings) as server:
        account = server.add_account(plan="free")
        say(f"local MVSEP emulator on {server.url} (account {account.plan}, no network used)")
        state = base / ".mvsepd"
        paths = AppPaths(state / "config", state / "state", state / "cache", state / "log", state)
        token_file = paths.config_dir / "token"
        write_private_file(token_file, account.token + "\n")
        # A file of its own, followed as `mvsepd run` follows one: the page can change it.
        config_file = paths.config_dir / "config.yaml"
        text = DEMO_CONFIG.format(server=server.url, hot=hot, token_file=token_file)
        write_private_file(config_file, text)
        config = parse_config(text, str(config_file))
        daemon = Daemon(
            config,
            Secret(account.token),
            paths,
            settings=EngineSettings(tick_seconds=0.2, poll_first_seconds=1, poll_max_seconds=2),
            config_file=(config_file, text),
            page=page_for,
        )
        daemon.start()
        worker = threading.Thread(target=daemon.run, name="mvsepd-demo", daemon=True)
        worker.start()
        try:
            say(f"the daemon's page (signs one browser in, within 2 minutes): {_page_url(daemon)}")
            track = hot / "Demo track.wav"
            say(f"hot folder: {hot}")
            say(f"exporting {track.name} into it...")
            _export_slowly(track)
            job = _follow(daemon, timeout)
            if keep_running and job is not None and job.state is JobState.DONE:
                _stay(daemon, job)
        finally:
            daemon.stop_event.set()
            worker.join(timeout=10)
            daemon.stop()
    if job is None or job.state is not JobState.DONE:
        reason = job.reason if job is not None else f"no result within {timeout:.0f} s"
        say(f"demo failed: {reason}", err=True)
        raise SystemExit(int(ExitStatus.JOB_FAILED))
    output = Path(job.output_dir or "")
    say(f"stems ready in {output}:")
    for line in _fit_lines(hot / "Demo track.wav", output):
        say(line)
    raise SystemExit(int(ExitStatus.OK))


def _page_url(daemon: Daemon) -> str:
    status_api = daemon.status_api
    assert status_api is not None and status_api.page is not None
    return status_api.url + status_api.page.sign_in_path()


def _stay(daemon: Daemon, job: JobRecord) -> None:
    """Keep the demo running (its page too) until Ctrl+C."""
    say(f"stems ready in {job.output_dir}")
    say(f"the demo keeps running until Ctrl+C; its page: {_page_url(daemon)}")
    try:
        while not daemon.stop_event.wait(1.0):
            pass
    except KeyboardInterrupt:
        say("stopping the demo")


def _fit_lines(export: Path, output: Path) -> list[str]:
    """How the stems compare with the export: rate, channels, length, sample format, timestamp,
    and the null of their sum against it."""
    from mvsepd.audio import describe, riff

    def shape(path: Path) -> str:
        described = describe(path)
        stamp = riff.Bext.parse(described.bext) if described.bext else None
        where = _clock(stamp.time_reference / described.rate) if stamp else "no timestamp"
        bits = {"PCM_16": "16-bit", "PCM_24": "24-bit", "FLOAT": "32-bit float"}
        return (
            f"{described.rate} Hz, {described.channels} ch, {described.frames} frames, "
            f"{bits.get(described.subtype or '', described.subtype)}, at {where}"
        )

    manifest = json.loads((output / "manifest.json").read_text(encoding="utf-8"))
    conform = manifest.get("conform", {})
    sent = {(s["mvsep"]["rate"], s["mvsep"]["channels"]) for s in conform.get("stems", [])}
    lines = [
        f"  {Path(item['path']).name}:  {shape(Path(item['path']))}" for item in manifest["outputs"]
    ]
    lines.append(f"  (the export, {export.name}:  {shape(export)})")
    sent_words = " and ".join(
        f"{rate} Hz with {channels} channels" for rate, channels in sorted(sent)
    )
    lines.append(f"MVSEP sent {sent_words}; each stem now matches the export, sample for sample.")
    best = conform.get("best_null")
    if best:
        lines.append(
            f"Started at the export's sample 0 (lag {conform.get('lag_samples')}); "
            f"{' + '.join(best['stems'])} null against it at {best['null_db']:.1f} dB"
            + (
                " (what lies above 20 kHz does not pass MVSEP's 44.1 kHz models)."
                if describe(export).rate > 44100
                else "."
            )
        )
    return lines


def _clock(seconds: float) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, rest = divmod(rest, 60)
    return f"{int(hours):02d}:{int(minutes):02d}:{rest:06.3f}"


def _export_slowly(track: Path) -> None:
    """Write the track the way a DAW does: in place, in pieces, header completed last."""
    staging = track.with_name(".render.wav")
    from mvsepd.audio.demo import write_demo_track  # numpy only when the demo runs

    write_demo_track(staging)
    data = staging.read_bytes()
    staging.unlink()
    with track.open("wb") as handle:
        # A DAW writes a header with placeholder sizes first and fixes it at the end.
        handle.write(data[:4] + b"\0\0\0\0" + data[8:44])
        handle.flush()
        for start in range(44, len(data), len(data) // 4 + 1):
            handle.write(data[start : start + len(data) // 4 + 1])
            handle.flush()
            time.sleep(0.3)
        handle.seek(0)
        handle.write(data[:44])


def _follow(daemon: Daemon, timeout: float) -> JobRecord | None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        jobs = daemon.store.jobs()
        if jobs:
            job = jobs[0]
            words = _words(job)
            if words != last:
                say(f"  {words}")
                last = words
            if job.state.terminal:
                return job
        time.sleep(0.2)
    return None


def _words(job: JobRecord) -> str:
    if job.state is JobState.SUBMITTED:
        if job.remote_status == "waiting" and job.current_order:
            return f"waiting at MVSEP: {job.current_order} of {job.queue_count}"
        return f"{job.remote_status or 'submitted'} at MVSEP"
    if job.state is JobState.PUBLISHING:
        return PUBLISHING_WORDS
    words = str(job.state.value).replace("_", " ")
    return f"{words} ({job.reason})" if job.reason else words
