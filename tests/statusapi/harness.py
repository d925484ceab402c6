"""A real daemon beside a real emulator, for the status API, CLI and tray tests.

Everything is real: the emulator over HTTP on 127.0.0.1, the daemon with its watchdog observer
on a temporary hot folder, SQLite, and the status API over HTTP. The ``MVSEPD_*`` directories
point into the test's temporary folder, so ``mvsepd status`` and the tray find this daemon
through the same runtime file a user's would.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy
import soundfile

from mvsepd.api import MvsepClient
from mvsepd.client.control import ControlClient
from mvsepd.config.file import parse_config
from mvsepd.emulator import EmulatorServer, EmulatorSettings
from mvsepd.engine import EngineSettings
from mvsepd.models import Secret
from mvsepd.paths import AppPaths
from mvsepd.process.daemon import Daemon
from mvsepd.statusapi import read_runtime_file

#: A recognisable MVSEP token: no status answer or CLI output may ever contain it.
MVSEP_TOKEN = "MVSEPTOKEN-do-not-leak-0123456789abcdef"

ENGINE = EngineSettings(
    tick_seconds=0.1,
    poll_first_seconds=0.2,
    poll_max_seconds=0.5,
    account_refresh_seconds=30,
    token_recheck_seconds=30,
)

#: Jobs wait at the emulator until the test is done with them.
WAITING = EmulatorSettings(
    publish_seconds=0.3,
    queue_seconds=600.0,
    processing_seconds=0.5,
    merging_seconds=0.0,
    tick_interval_seconds=0.05,
)

CONFIG = """
account:
  server: "{server}"
  concurrency: {concurrency}
presets:
  four:
    sep_type: 20
    output_format: wav16
folders:
  - path: "{hot}"
    preset: four
    stability_seconds: 0.3
daemon:
  status_host: "127.0.0.1"
"""


def wav_bytes(seconds: float = 0.5, *, seed: int = 0) -> bytes:
    """A complete stereo 16-bit WAV of noise (different bytes for each seed)."""
    generator = numpy.random.default_rng(seed)
    buffer = io.BytesIO()
    frames = max(1, int(seconds * 22050))
    soundfile.write(
        buffer, generator.uniform(-0.3, 0.3, (frames, 2)), 22050, format="WAV", subtype="PCM_16"
    )
    return buffer.getvalue()


def wait_until(predicate: Callable[[], Any], timeout: float, what: str = "condition") -> Any:
    """Return the predicate's first truthy value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


@dataclass
class Answer:
    """One HTTP answer of the status API."""

    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Harness:
    """An emulator and a running daemon whose status API the tests talk to."""

    server: EmulatorServer
    paths: AppPaths
    hot: Path
    concurrency: str = "auto"
    daemon: Daemon | None = None
    _thread: threading.Thread | None = None
    _seed: int = 0
    transcript: list[bytes] = field(default_factory=list)
    other_token: str = ""

    def start_daemon(self) -> Daemon:
        text = CONFIG.format(server=self.server.url, hot=self.hot, concurrency=self.concurrency)
        config = parse_config(text, "test")
        daemon = Daemon(config, Secret(MVSEP_TOKEN), self.paths, settings=ENGINE)
        daemon.start()
        self._thread = threading.Thread(target=daemon.run, name="test-daemon", daemon=True)
        self._thread.start()
        self.daemon = daemon
        return daemon

    def stop_daemon(self) -> None:
        if self.daemon is None:
            return
        self.daemon.stop_event.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.daemon.stop()
        self.daemon = None

    # --- files -------------------------------------------------------------------------------

    def drop(self, name: str, seconds: float = 0.5) -> Path:
        """Put a new, complete audio file into the hot folder (renamed into place)."""
        self._seed += 1
        target = self.hot / name
        staging = self.hot.parent / f".staging-{self._seed}.wav"
        staging.write_bytes(wav_bytes(seconds, seed=self._seed))
        os.replace(staging, target)
        return target

    # --- the status API over HTTP --------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self.daemon is not None and self.daemon.status_api is not None
        return self.daemon.status_api.url

    @property
    def token(self) -> str:
        return read_runtime_file(self.paths.runtime_file).token.reveal()

    def call(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        authorized: bool = True,
        timeout: float = 30.0,
    ) -> Answer:
        """One request; the answer whatever its status. Every body is kept in ``transcript``."""
        sent = dict(headers or {})
        if authorized:
            sent.setdefault("Authorization", f"Bearer {self.token}")
        # The URL is the daemon's own http://127.0.0.1 address.
        request = urllib.request.Request(self.url + path, method=method, headers=sent)  # noqa: S310
        # No proxies: the request must go straight to loopback.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=timeout) as response:
                answer = Answer(response.status, response.read(), dict(response.headers))
        except urllib.error.HTTPError as error:
            answer = Answer(error.code, error.read(), dict(error.headers))
        self.transcript.append(answer.body)
        return answer

    def status(self) -> dict[str, Any]:
        answer = self.call("GET", "/v1/status")
        assert answer.status == 200, answer.body
        value: dict[str, Any] = answer.json()
        return value

    def jobs(self) -> list[dict[str, Any]]:
        jobs: list[dict[str, Any]] = self.status()["jobs"]
        return jobs

    def job_detail(self, job_id: int) -> dict[str, Any]:
        answer = self.call("GET", f"/v1/jobs/{job_id}")
        assert answer.status == 200, answer.body
        detail: dict[str, Any] = answer.json()["job"]
        return detail

    def client(self) -> ControlClient:
        return ControlClient.discover(self.paths)

    def jobs_of_someone_else(self, count: int) -> list[str]:
        """Put ``count`` jobs of another premium account into MVSEP's queue; return their hashes."""
        other = self.server.add_account(plan="premium", credits=100)
        client = MvsepClient(Secret(other.token), self.server.url)
        audio = self.hot.parent / "someone else.wav"
        hashes = []
        try:
            for index in range(count):
                audio.write_bytes(wav_bytes(0.5, seed=1000 + index))
                hashes.append(client.create_separation(audio, sep_type=20).hash)
        finally:
            client.close()
            audio.unlink(missing_ok=True)
        self.other_token = other.token
        return hashes

    def cancel_someone_elses(self, separation_hash: str) -> None:
        client = MvsepClient(Secret(self.other_token), self.server.url)
        try:
            client.cancel_separation(separation_hash)
        finally:
            client.close()

    def wait_for_jobs(
        self, predicate: Callable[[list[dict[str, Any]]], bool], what: str
    ) -> list[dict[str, Any]]:
        def check() -> list[dict[str, Any]] | None:
            jobs = self.jobs()
            return jobs if predicate(jobs) else None

        result: list[dict[str, Any]] = wait_until(check, 20, what)
        return result


def emulator_settings(tmp_path: Path, **overrides: Any) -> EmulatorSettings:
    """``WAITING`` with the emulator's files under ``tmp_path``."""
    return dataclasses.replace(WAITING, storage_parent=str(tmp_path), **overrides)
