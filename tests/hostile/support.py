"""The parts every row of the hostile catalogue shares.

- ``Case``: one row of a table: an id, the hostile input in words, the text the user must be
  shown, and the scenario that presents the input to a running daemon.
- ``Harness``: what a scenario works with: the daemon, its folders, the hostile front, the log,
  the ledger (``ledger.py``) that proves nothing outside the output root changed.
- ``run_case``: runs one row and checks what every row must satisfy.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mvsepd.client.control import ControlClient
from mvsepd.models import JobRecord, JobState
from mvsepd.store import CHECKING, SourceRecord, SqlJobStore
from tests.hostile.front import HostileFront, Trap
from tests.hostile.ledger import Ledger
from tests.hostile.logs import CapturedLog, ProcessLog, capturing_logs
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
    #: Words, or a pattern where they hold a value of the run (the emulator's port).
    expected: str | re.Pattern[str]
    scenario: Callable[[Harness], str]
    config: Mapping[str, Any] = field(default_factory=dict)
    #: The words the log must hold, when they differ from ``expected`` (None: the same).
    logged: str | re.Pattern[str] | None = None
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

    def store(self) -> SqlJobStore:
        """The job store of a daemon running in this process."""
        assert self.daemon is not None, "only rows with the daemon in this process"
        return self.daemon.store

    @property
    def hot(self) -> Path:
        return self.setup.hot

    def judged(self, name: str, *, timeout: float = 10) -> SourceRecord:
        """The hot folder's record of the file ``name`` once it has a verdict (a file is
        recorded as being checked first, while its hash is taken)."""

        def verdict() -> SourceRecord | None:
            found = self.store().source(str(self.hot), name)
            return found if found is not None and found.verdict != CHECKING else None

        record: SourceRecord = wait_until(verdict, timeout, message=f"a verdict on {name}")
        return record

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

    def shown_summary(self, job: JobRecord) -> str:
        """What the job is doing, in the words ``mvsepd status`` and the tray show."""
        if self.daemon is None:
            return str(ControlClient.discover(self.setup.paths).job(job.id)["summary"])
        status_api = self.daemon.daemon.status_api
        assert status_api is not None
        return str(status_api.picture.job(self.daemon.store.get(job.id))["summary"])

    def reported_incomplete(self, name: str, *, timeout: float = VERDICT_SECONDS) -> str:
        """Wait until the status API reports the file called ``name`` incomplete; return what
        ``mvsepd status`` shows for it (and check that it is no job: nothing is sent)."""

        def found() -> str | None:
            picture = ControlClient.discover(self.setup.paths).status()
            for item in picture["arrivals"]:
                if item["relative_path"] == name and item["state"] == "incomplete":
                    return str(item["summary"])
            return None

        summary: str = wait_until(found, timeout, message=f"{name!r} to be reported incomplete")
        assert not [job for job in self.jobs() if job.source_name == name]
        return summary

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


# --- running one row -------------------------------------------------------------------------

#: The ``daemon:`` section of every row: support.py's quick settings, and a file that still
#: looks unfinished is reported after 1 s instead of 3 (the rows that need it stay short).
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
    assert _holds(shown, case.expected), f"{case.id}: {case.expected!r} not in {shown!r}"
    logged = case.expected if case.logged is None else case.logged
    wait_until(lambda: _holds(harness.log.text(), logged), 5, message=f"{logged!r} in the log")
    assert harness.alive(), "the daemon stopped"
    if case.good_file_after:
        harness.good_file_still_works()
    assert harness.alive(), "the daemon stopped"


def _holds(text: str, expected: str | re.Pattern[str]) -> bool:
    if isinstance(expected, str):
        return expected in text
    return expected.search(text) is not None


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
