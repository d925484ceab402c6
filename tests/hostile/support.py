"""The parts every row of the hostile catalogue shares.

- ``Case``: one row of a table: an id, the hostile input in words, the text the user must be
  shown, and the scenario that presents the input to a running daemon.
- ``Harness``: what a scenario works with: the daemon, its folders, the hostile front, the log.
- ``Ledger``: proves afterwards that nothing outside the output root and mvsepd's own folders
  was written, changed or removed, and that every original is byte for byte what the test put
  there. It also watches a few places an escaping path would reach (``~/.bashrc``,
  ``/etc/passwd``, ``/.bashrc``, the folder above the test's).
- ``CapturedLog``: the daemon's log lines (JSON, INFO and up, as ``mvsepd run`` writes them by
  default); every reason must be readable there.
- WAV builders that lie in exactly one field of the header.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import shutil
import stat
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mvsepd import logsetup
from mvsepd.control import ControlClient
from mvsepd.models import JobRecord, JobState
from mvsepd.store import JobStore
from tests.hostile.front import HostileFront, Trap
from tests.integration.support import (
    FAST_DAEMON,
    RunningDaemon,
    Setup,
    running_daemon,
    start_daemon_process,
    stop_process,
    wait_until,
    write_wav,
)

#: How long a scenario waits for the daemon to reach a verdict (seconds).
VERDICT_SECONDS = 30.0
#: The name of the file every row drops after its hostile input; it must still be processed.
GOOD_NAME = "good after.wav"


# --- the table -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One row: a hostile input and the words the user must be shown for it."""

    id: str
    given: str
    expected: str
    scenario: Callable[[Harness], str]
    config: Mapping[str, Any] = field(default_factory=dict)
    #: The words the log must hold, when they differ from ``expected`` (None: the same).
    logged: str | None = None
    #: The account's plan: "free" (one unfinished job at a time) or "premium" (100 credits).
    plan: str = "free"
    #: False where the server itself refuses everything afterwards (a revoked token).
    good_file_after: bool = True
    #: Run ``mvsepd run`` in its own process without root's override of file permissions.
    own_process: bool = False

    def __str__(self) -> str:
        return self.id


def ids(cases: Iterable[Case]) -> list[str]:
    return [case.id for case in cases]


# --- the log ---------------------------------------------------------------------------------


def log_events(raw: str) -> list[dict[str, Any]]:
    """The JSON log lines of ``raw`` (other lines, such as a traceback's, are skipped)."""
    events = []
    for line in raw.splitlines():
        with contextlib.suppress(ValueError):
            value = json.loads(line)
            if isinstance(value, dict):
                events.append(value)
    return events


def log_text(raw: str) -> str:
    """Every value of every event, decoded (so quotes and non-ASCII read as written)."""
    return "\n".join(" ".join(str(value) for value in event.values()) for event in log_events(raw))


class CapturedLog(io.StringIO):
    """The text the daemon's log handlers write (each handler serialises its own writes)."""

    def isatty(self) -> bool:
        return False

    def text(self) -> str:
        return log_text(self.getvalue())


class ProcessLog:
    """The JSON lines a daemon in its own process wrote to its log file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def text(self) -> str:
        try:
            return log_text(self.path.read_text(encoding="utf-8", errors="replace"))
        except FileNotFoundError:
            return ""


@contextlib.contextmanager
def capturing_logs(level: str = "info") -> Iterator[CapturedLog]:
    """Route mvsepd's logging (structlog and the standard library) into a ``CapturedLog``.

    ``logsetup.configure`` is what ``mvsepd run`` calls; the root logger's handlers, levels and
    the exception hooks it replaces are put back afterwards.
    """
    root = logging.getLogger()
    saved_handlers = list(root.handlers)
    saved_level = root.level
    libraries = ("urllib3", "watchdog", "werkzeug", "requests")
    saved_library_levels = {name: logging.getLogger(name).level for name in libraries}
    saved_hooks = (sys.excepthook, threading.excepthook)
    captured = CapturedLog()
    logsetup.configure(level=level, json_lines=True, stream=captured)
    try:
        yield captured
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved_handlers:
            root.addHandler(handler)
        root.setLevel(saved_level)
        for name, library_level in saved_library_levels.items():
            logging.getLogger(name).setLevel(library_level)
        sys.excepthook, threading.excepthook = saved_hooks


# --- the ledger ------------------------------------------------------------------------------


def _entry(path: Path) -> tuple[Any, ...]:
    status = os.lstat(path)
    if stat.S_ISLNK(status.st_mode):
        return ("link", os.readlink(path))
    if stat.S_ISDIR(status.st_mode):
        return ("directory",)
    return ("file", stat.S_IFMT(status.st_mode), status.st_size, status.st_mtime_ns)


def snapshot(root: Path) -> dict[Path, tuple[Any, ...]]:
    """Every path below ``root`` (links not followed) with its kind, size and mtime."""
    found: dict[Path, tuple[Any, ...]] = {}
    for directory, directories, files in os.walk(root, followlinks=False):
        for name in [*directories, *files]:
            path = Path(directory) / name
            with contextlib.suppress(FileNotFoundError):
                found[path] = _entry(path)
    return found


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sentinel(path: Path) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_size, status.st_mtime_ns


class Ledger:
    """What a test may change below its temporary folder, and a check that nothing else did."""

    def __init__(self, setup: Setup) -> None:
        self.root = setup.tmp
        paths = setup.paths
        self._allowed: list[Path] = [
            setup.outputs,
            paths.config_dir,
            paths.state_dir,
            paths.cache_dir,
            paths.log_dir,
            paths.runtime_dir,
            setup.tmp / "config.yaml",
            setup.tmp / "daemon.log",
        ]
        self._written: set[Path] = set()
        self._originals: dict[Path, str] = {}
        self._kept: dict[Path, tuple[Any, ...]] = {}
        self._before = snapshot(self.root)
        self._neighbours = set(os.listdir(self.root.parent))
        self._sentinels = {
            path: _sentinel(path)
            for path in (
                Path("/etc/passwd"),
                Path.home() / ".bashrc",
                Path("/.bashrc"),
                self.root.parent / ".bashrc",
            )
        }

    def allow(self, path: Path) -> None:
        """Let the test (not mvsepd) create or change ``path`` and everything below it."""
        self._allowed.append(path)

    def original(self, path: Path) -> None:
        """``path`` holds an original the test just wrote: it must keep these bytes."""
        self._written.add(path)
        self._originals[path] = sha256(path)

    def placed(self, path: Path) -> None:
        """``path`` is a link or a special file the test made: it must still be there as made.

        (Its content is never read: a pipe would block, a link loop fails.)
        """
        self._written.add(path)
        self._kept[path] = _entry(path)

    def forget_original(self, path: Path) -> None:
        """The test itself changes or removes ``path`` from now on."""
        self._originals.pop(path, None)
        self._kept.pop(path, None)
        self._written.add(path)

    def _may_change(self, path: Path) -> bool:
        if path in self._written:
            return True
        return any(path == allowed or allowed in path.parents for allowed in self._allowed)

    def problems(self) -> list[str]:
        found: list[str] = []
        after = snapshot(self.root)
        for path, entry in sorted(after.items()):
            if self._before.get(path) != entry and not self._may_change(path):
                found.append(f"written outside the output root: {path} {entry}")
        for path in sorted(self._before.keys() - after.keys()):
            if not self._may_change(path):
                found.append(f"removed: {path}")
        for path, digest in sorted(self._originals.items()):
            if not path.exists():
                found.append(f"original lost: {path}")
            elif sha256(path) != digest:
                found.append(f"original changed: {path}")
        for path, made in sorted(self._kept.items()):
            try:
                now = _entry(path)
            except FileNotFoundError:
                now = ("gone",)
            if now != made:
                found.append(f"changed: {path} {made} -> {now}")
        for path, before in self._sentinels.items():
            if _sentinel(path) != before:
                found.append(f"{path} changed")
        new_neighbours = set(os.listdir(self.root.parent)) - self._neighbours
        if new_neighbours:
            found.append(f"written next to the test's folder: {sorted(new_neighbours)}")
        return found

    def check(self) -> None:
        problems = self.problems()
        assert not problems, "\n".join(problems)


# --- the harness -----------------------------------------------------------------------------


@dataclass
class Harness:
    """What a scenario works with while its daemon runs (in this process, or in its own)."""

    setup: Setup
    log: CapturedLog | ProcessLog
    ledger: Ledger
    front: HostileFront
    trap: Trap
    daemon: RunningDaemon | None = None
    process: subprocess.Popen[str] | None = None

    def alive(self) -> bool:
        if self.daemon is not None:
            return self.daemon.thread.is_alive()
        return self.process is not None and self.process.poll() is None

    def jobs(self) -> list[JobRecord]:
        return self.daemon.store.jobs() if self.daemon is not None else self.setup.jobs()

    def store(self) -> JobStore:
        """The job store of a daemon running in this process."""
        assert self.daemon is not None, "only rows with the daemon in this process"
        return self.daemon.store

    @property
    def hot(self) -> Path:
        return self.setup.hot

    def drop(self, name: str, data: bytes, *, folder: Path | None = None) -> Path:
        """Put an original into a hot folder atomically (renamed into place), as a DAW would."""
        path = (folder or self.hot) / name
        temporary = path.with_name(f".dropping-{threading.get_ident()}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, path)
        self.ledger.original(path)
        return path

    def drop_wav(self, name: str, *, seconds: float = 0.2, seed: int = 0) -> Path:
        path = self.hot / name
        write_wav(path, seconds, seed=seed)
        self.ledger.original(path)
        return path

    def job(
        self,
        name: str,
        states: Iterable[JobState] = (JobState.FAILED,),
        *,
        timeout: float = VERDICT_SECONDS,
    ) -> JobRecord:
        """Wait for the job of the file called ``name`` to be in one of ``states``."""
        wanted = set(states)

        def found() -> JobRecord | None:
            for job in self.jobs():
                if job.source_name == name and job.state in wanted:
                    return job
            return None

        shown = ", ".join(sorted(state.value for state in wanted))
        job: JobRecord = wait_until(found, timeout, message=f"{name!r} to be {shown}")
        return job

    def shown_reason(self, job: JobRecord) -> str:
        """The job's reason as ``mvsepd status`` and the tray show it (the status API's view)."""
        if self.daemon is None:
            return str(ControlClient.discover(self.setup.paths).job(job.id)["reason"])
        status_api = self.daemon.daemon.status_api
        assert status_api is not None
        shown = status_api.picture.job(self.daemon.store.get(job.id))
        return str(shown["reason"])

    def folder_health(self) -> dict[str, Any]:
        """The hot folder as the status API shows it (watch and detail)."""
        if self.daemon is None:
            folders = ControlClient.discover(self.setup.paths).status()["folders"]
        else:
            status_api = self.daemon.daemon.status_api
            assert status_api is not None
            folders = status_api.picture.folders()
        found: dict[str, Any] = next(item for item in folders if item["path"] == str(self.hot))
        return found

    def good_file_still_works(self) -> None:
        self.drop_wav(GOOD_NAME, seed=4242)
        self.job(GOOD_NAME, (JobState.DONE,))

    def stems_of(self, job: JobRecord) -> list[Path]:
        assert job.output_dir is not None
        return sorted(path for path in Path(job.output_dir).iterdir() if path.is_file())


# --- hostile audio ---------------------------------------------------------------------------


def riff_wav(
    *,
    channels: int = 2,
    sample_rate: int = 22050,
    bits: int = 16,
    frames: int = 2205,
    data_size: int | None = None,
    riff_size: int | None = None,
    audio: bool = True,
) -> bytes:
    """A PCM WAV whose header says what the arguments say, whatever the audio really is.

    ``data_size``/``riff_size`` override the two length fields; ``audio=False`` leaves the
    samples out (the header alone, for files made sparse afterwards).
    """
    block_align = max(channels, 0) * bits // 8
    # A header that claims no channels still comes with audio bytes: the lie is in the header.
    payload = frames * (block_align or 4)
    samples = b"\x10\x20" * ((payload + 1) // 2) if audio else b""
    byte_rate = (sample_rate * block_align) & 0xFFFFFFFF
    fmt = struct.pack("<HHIIHH", 1, channels, sample_rate, byte_rate, block_align, bits)
    declared_data = len(samples) if audio and data_size is None else (data_size or payload)
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", declared_data)
        + samples
    )
    declared_riff = (
        (len(body) + (0 if audio else declared_data)) if riff_size is None else riff_size
    )
    return b"RIFF" + struct.pack("<I", declared_riff) + body


def write_sparse_wav(path: Path, *, seconds: int, sample_rate: int) -> int:
    """Write an honest mono 8-bit WAV of ``seconds`` as a sparse file; return its size.

    Only the 44-byte header is really written; the file system reads the rest as zeros, so a
    6-hour file costs no disk space and no time to write.
    """
    frames = seconds * sample_rate
    header = riff_wav(channels=1, sample_rate=sample_rate, bits=8, frames=frames, audio=False)
    temporary = path.with_name(f".sparse-{threading.get_ident()}.tmp")
    with temporary.open("wb") as handle:
        handle.write(header)
        handle.truncate(len(header) + frames)
    os.replace(temporary, path)
    return len(header) + frames


# --- running one row -------------------------------------------------------------------------

#: The ``daemon:`` section of every row: support.py's quick settings, and a file that still
#: looks unfinished is given up after 1 s instead of 3 (the rows that need it stay short).
HOSTILE_DAEMON = FAST_DAEMON.replace("incomplete_after_seconds: 3", "incomplete_after_seconds: 1")


def config_for(case: Case, setup: Setup, front: HostileFront) -> str:
    """The row's configuration, talking to the hostile front instead of the emulator."""
    options: dict[str, Any] = {"daemon": HOSTILE_DAEMON, **case.config}
    text = setup.config_text(**options)
    return text.replace(f'server: "{setup.server.url}"', f'server: "{front.url}"')


#: Root reads and writes anything; a daemon started with this prefix does not have the
#: capabilities that allow it, so file permissions apply to it as to any user.
WITHOUT_OVERRIDE = (
    "setpriv",
    "--inh-caps=-dac_override,-dac_read_search",
    "--bounding-set=-dac_override,-dac_read_search",
)


def run_case(case: Case, setup: Setup, front: HostileFront, trap: Trap) -> None:
    """Present the row's input to a running daemon and check everything the issue asks.

    The daemon keeps running; the reason is shown where the user looks (the status API's
    picture, which ``mvsepd status`` and the tray show, or the folder's health) and in the log;
    a good file dropped afterwards is still processed; nothing outside the output root is
    written and every original keeps its bytes.
    """
    if case.plan != "free":
        setup.token = setup.server.add_account(plan=case.plan, credits=100).token
    ledger = Ledger(setup)
    config = config_for(case, setup, front)
    if case.own_process:
        with _daemon_process(setup, config) as process:
            harness = Harness(setup, ProcessLog(setup.tmp / "daemon.log"), ledger, front, trap)
            harness.process = process
            _present(case, harness)
    else:
        with capturing_logs() as log, running_daemon(setup, config) as daemon:
            harness = Harness(setup, log, ledger, front, trap, daemon=daemon)
            _present(case, harness)
    ledger.check()


def _present(case: Case, harness: Harness) -> None:
    shown = case.scenario(harness)
    assert case.expected in shown, f"{case.id}: {case.expected!r} not in {shown!r}"
    logged = case.expected if case.logged is None else case.logged
    wait_until(lambda: logged in harness.log.text(), 5, message=f"{logged!r} in the log")
    assert harness.alive(), "the daemon stopped"
    if case.good_file_after:
        harness.good_file_still_works()
    assert harness.alive(), "the daemon stopped"


@contextlib.contextmanager
def _daemon_process(setup: Setup, config: str) -> Iterator[subprocess.Popen[str]]:
    """``mvsepd run`` in its own process, without root's power over file permissions."""
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:
        assert shutil.which("setpriv"), "util-linux's setpriv is needed to test as root"
        prefix = WITHOUT_OVERRIDE
    process = start_daemon_process(setup, setup.write_config(config), prefix=prefix)
    try:
        wait_until(
            lambda: setup.paths.runtime_file.exists() or process.poll() is not None,
            30,
            message="the daemon to start",
        )
        assert process.poll() is None, (setup.tmp / "daemon.log").read_text()
        yield process
    finally:
        stop_process(process)
