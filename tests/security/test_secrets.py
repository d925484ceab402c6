"""The API token never shows, and the files that hold secrets or state are private.

One real run (the module's fixture) with a recognisable token: ``mvsepd run --log-file
--json-logs`` at log level debug does a full job through a lost create answer, one through a
502 page and a dropped download, and one refused because MVSEP revokes the token; meanwhile the
status API, ``mvsepd status --json`` and ``mvsepd jobs --json`` are asked everything; then
``mvsepd --debug`` commands crash with tracebacks while the token is in their environment, and
``mvsepd login`` stores a token. Every text of that run is kept (stderr, the rotating log file,
every answer and output, every file mvsepd wrote) and searched for the token.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mvsepd.emulator import EmulatorServer, EmulatorSettings
from mvsepd.models import JobState
from mvsepd.statusapi import read_runtime_file
from tests.integration.support import (
    FAST_DAEMON,
    Setup,
    stop_process,
    wait_until,
    write_wav,
)
from tests.security.support import (
    MARKER,
    Transcript,
    mode,
    mvsepd,
    recognisable_token,
    status_request,
)

TOKEN = recognisable_token(1_234_567_890_123_456_789)
CREATE = "/api/separation/create"
GET = "/api/separation/get"
EMAIL = "producer@example.invalid"
PASSWORD = "correct horse battery staple"
#: The token of the account `mvsepd login` logs in to (its file is the one place it may be).
LOGIN_TOKEN = recognisable_token(42)


@dataclass
class Run:
    """What the module's run produced."""

    setup: Setup
    transcript: Transcript = field(default_factory=Transcript)
    #: Permission bits of each file or folder, seen while the daemon ran (or after, noted).
    modes: dict[str, int] = field(default_factory=dict)
    status_token: str = ""
    #: stderr of the commands that crashed on purpose, by command.
    crashes: dict[str, str] = field(default_factory=dict)
    token_file: Path | None = None


def _jobs_in(setup: Setup, state: JobState, count: int) -> bool:
    return sum(1 for job in setup.jobs() if job.state is state) >= count


def _note_modes(run: Run) -> None:
    paths = run.setup.paths
    store = paths.store_file
    for label, path in {
        "state folder": paths.state_dir,
        "runtime folder": paths.runtime_dir,
        "log folder": paths.log_dir,
        "job store": store,
        "job store -wal": Path(f"{store}-wal"),
        "job store -shm": Path(f"{store}-shm"),
        "runtime file": paths.runtime_file,
        "log file": paths.log_file,
    }.items():
        if path.exists():
            run.modes[label] = mode(path)


def _ask_the_status_api(run: Run) -> None:
    info = read_runtime_file(run.setup.paths.runtime_file)
    run.status_token = info.token.reveal()
    bearer = {"Authorization": f"Bearer {run.status_token}"}
    paths = ["/v1/status", "/v1/jobs", "/v1/jobs?all=1", "/v1/events?timeout=0"]
    paths += [f"/v1/jobs/{job.id}" for job in run.setup.jobs()]
    for path in paths:
        answer = status_request(info.host, info.port, path, headers=bearer)
        assert answer.status == 200, (path, answer)
        run.transcript.add(f"status API {path}", answer.body)
        refused = status_request(info.host, info.port, path)
        run.transcript.add(f"status API {path} without the token", refused.body)


def _ask_the_commands(run: Run, when: str) -> None:
    for arguments in (["status", "--json"], ["jobs", "--json", "--all"], ["status"], ["jobs"]):
        result = mvsepd(run.setup, *arguments)
        assert result.returncode == 0, result.stderr
        run.transcript.add(f"mvsepd {' '.join(arguments)} ({when})", result.stdout + result.stderr)


def _crash(run: Run, label: str, *arguments: str) -> None:
    result = mvsepd(run.setup, *arguments)
    assert result.returncode != 0, f"{label} did not fail"
    run.crashes[label] = result.stderr
    run.transcript.add(f"mvsepd {label}", result.stdout + result.stderr)


def _daemon(setup: Setup, config: Path) -> subprocess.Popen[str]:
    command = [
        sys.executable,
        "-m",
        "mvsepd",
        "run",
        "--config",
        str(config),
        "--log-file",
        "--json-logs",
    ]
    with (setup.tmp / "daemon.stderr").open("w", encoding="utf-8") as output:
        return subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
            env=setup.environment(),
        )


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    tmp = tmp_path_factory.mktemp("secrets")
    settings = EmulatorSettings(
        publish_seconds=0.3,
        queue_seconds=0.0,
        processing_seconds=0.1,
        rate_limit=False,
        storage_parent=str(tmp_path_factory.mktemp("emulator-storage")),
    )
    with EmulatorServer(settings) as server:
        server.add_account(token=TOKEN, plan="free")
        server.add_account(token=LOGIN_TOKEN, plan="premium", email=EMAIL, password=PASSWORD)
        hot = tmp / "Exports" / "Vocals"
        hot.mkdir(parents=True)
        setup = Setup(tmp=tmp, server=server, token=TOKEN, hot=hot)
        run = Run(setup)
        config = setup.write_config(setup.config_text(daemon=FAST_DAEMON + "\n  log_level: debug"))
        config.chmod(0o600)
        process = _daemon(setup, config)
        try:
            wait_until(setup.paths.runtime_file.exists, 30, message="the daemon to start")
            # A create whose answer is lost: found again in the history (a request with the
            # token in its query), then polled and downloaded.
            server.faults.set("lost_response", count=1, endpoints=[CREATE])
            write_wav(hot / "first.wav", 0.2, seed=1)
            wait_until(lambda: _jobs_in(setup, JobState.DONE, 1), 30, message="the first job")
            # A 502 page while polling, a connection dropped while downloading.
            server.faults.set("http_502", count=1, endpoints=[GET])
            server.faults.set("drop_connection", count=1, endpoints=["/storage/"])
            write_wav(hot / "second.wav", 0.2, seed=2)
            wait_until(lambda: _jobs_in(setup, JobState.DONE, 2), 30, message="the second job")
            _note_modes(run)
            _ask_the_status_api(run)
            _ask_the_commands(run, "jobs done")
            # MVSEP revokes the token: the next upload is refused and every job is held.
            server.faults.set("invalid_token", count=1, endpoints=[CREATE])
            write_wav(hot / "third.wav", 0.2, seed=3)
            wait_until(lambda: _jobs_in(setup, JobState.HELD, 1), 30, message="the held job")
            _ask_the_status_api(run)
            _ask_the_commands(run, "token refused")
        finally:
            assert stop_process(process) == 0
        run.transcript.add("daemon stderr", (tmp / "daemon.stderr").read_text())
        # Tracebacks, on purpose, with the token in the environment: the revoked token makes
        # `submit` fail; a status port that is taken makes `run` fail while starting.
        _crash(run, "--debug submit", "--debug", "submit", str(hot / "first.wav"),
               "--preset", "four", "--config", str(config))  # fmt: skip
        with socket.create_server(("127.0.0.1", 0)) as taken:
            port = taken.getsockname()[1]
            busy = setup.write_config(
                setup.config_text(daemon=f"status_port: {port}\n  log_level: debug")
            )
            _crash(run, "--debug run", "--debug", "run", "--config", str(busy), "--json-logs")
            _crash(run, "run", "run", "--config", str(busy), "--log-file")
        # `mvsepd login` receives the token from MVSEP and stores it.
        login = mvsepd(
            setup, "login", "--email", EMAIL, "--password-stdin", "--server", server.url,
            stdin=PASSWORD + "\n",
        )  # fmt: skip
        assert login.returncode == 0, login.stderr
        run.transcript.add("mvsepd login", login.stdout + login.stderr)
        run.token_file = setup.paths.token_file
        for label, path in {"token file": run.token_file, "log file": setup.paths.log_file}.items():
            run.modes[f"{label} (after)"] = mode(path)
        paths = setup.paths
        for folder in (paths.state_dir, paths.cache_dir, paths.log_dir, paths.runtime_dir):
            run.transcript.add_files_below(folder, label=folder.name)
        run.transcript.add_files_below(setup.outputs, label="stems")
        yield run


def test_the_api_token_appears_nowhere(run: Run) -> None:
    transcript = run.transcript
    # The run really exercised what the check relies on.
    assert len(transcript.texts) > 40
    assert "debug" in transcript.texts["log: mvsepd.log"]
    assert "api_token=***" in transcript.texts["log: mvsepd.log"], "no logged request had one"
    for source in ("mvsepd status --json (token refused)", "status API /v1/status"):
        assert source in transcript.texts
    assert transcript.showing(TOKEN) == []
    assert transcript.showing(LOGIN_TOKEN) == []
    assert transcript.showing(MARKER) == []


def test_the_status_token_is_only_in_the_runtime_file(run: Run) -> None:
    assert run.status_token
    assert run.transcript.showing(run.status_token) == []


def test_a_debug_crash_shows_its_traceback_without_the_token(run: Run) -> None:
    submit = run.crashes["--debug submit"]
    assert "Traceback (most recent call last)" in submit
    assert "InvalidTokenError: /separation/create (HTTP 401): Invalid API key" in submit
    assert "Logging error" not in submit
    started = run.crashes["--debug run"]
    assert "Traceback (most recent call last)" in started or '"exc_type"' in started
    assert "DaemonError" in started and "the status API cannot listen" in started
    assert "Logging error" not in started
    # Without --debug: one sentence, no traceback.
    plain = run.crashes["run"]
    assert "the status API cannot listen" in plain and "Traceback" not in plain
    for text in run.crashes.values():
        assert TOKEN not in text and MARKER not in text


def test_state_token_runtime_and_log_files_are_private(run: Run) -> None:
    modes = run.modes
    for label in ("job store", "job store -wal", "job store -shm", "runtime file", "log file"):
        assert modes.get(label) == 0o600, (label, oct(modes.get(label, 0)))
    for label in ("token file (after)", "log file (after)"):
        assert modes[label] == 0o600, (label, oct(modes[label]))
    for label in ("state folder", "runtime folder", "log folder"):
        assert modes[label] == 0o700, (label, oct(modes[label]))
    assert run.token_file is not None
    assert run.token_file.read_text(encoding="utf-8").strip() == LOGIN_TOKEN


def test_a_config_holding_the_token_must_be_private(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"account:\n  token: {TOKEN}\n", encoding="utf-8")
    config.chmod(0o644)
    environment = {key: value for key, value in os.environ.items() if key != "MVSEP_API_TOKEN"}
    environment["MVSEPD_CONFIG_DIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "mvsepd", "config", "check", "--offline", "--config", str(config)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = result.stdout + result.stderr
    assert "other users can read it" in output and f"chmod 600 {config}" in output
    assert TOKEN not in output and MARKER not in output
