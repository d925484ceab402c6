"""The client of the daemon's status API, for the CLI and the tray (entry layer; stdlib only).

``ControlClient.discover`` finds the daemon through the runtime file (``mvsepd.statusapi``
writes it) and refuses to trust a stale one: a file whose process has ended, or where nothing
(or something else) answers, raises ``DaemonUnreachableError`` with a plain sentence. Requests
go over ``http.client`` straight to the loopback address, never through an HTTP proxy (the
token must not travel anywhere else). ``follow`` long-polls the daemon for changes and
reconnects, re-reading the runtime file, when it restarts. A daemon that holds its instance
lock but has no runtime file yet is "starting", not "not running".
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mvsepd.errors import DaemonError, DaemonUnreachableError, InputError
from mvsepd.paths import AppPaths, app_paths
from mvsepd.process.instancelock import InstanceLock
from mvsepd.statusapi import PREFIX, RuntimeInfo, read_runtime_file

#: Seconds a plain request may take (a cancel asks MVSEP first, so it gets longer).
REQUEST_TIMEOUT = 10.0
CONTROL_TIMEOUT = 60.0
#: How long one long-poll waits at the daemon before it answers anyway.
FOLLOW_WAIT_SECONDS = 25.0
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104 (mapped away)
_START_HINT = "start it with `mvsepd run`"


def process_alive(pid: int) -> bool:
    """True when a process with this id exists (always True where that cannot be asked)."""
    if os.name == "nt" or pid <= 0:
        # os.kill on Windows would terminate the process: rely on the connection instead.
        return pid > 0
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


class ControlClient:
    """Talks to one daemon's status API."""

    def __init__(self, info: RuntimeInfo, *, source: Path | None = None) -> None:
        self.info = info
        self.source = source
        self.host = _WILDCARDS.get(info.host, info.host).strip("[]")
        self.port = info.port

    @classmethod
    def discover(cls, paths: AppPaths | None = None) -> ControlClient:
        """Find the running daemon through its runtime file; DaemonUnreachableError if none."""
        paths = paths or app_paths()
        candidates = paths.runtime_file_candidates
        runtime_file = next((path for path in candidates if path.exists()), candidates[0])
        if not runtime_file.exists():
            holder = InstanceLock(paths.lock_file).holder()
            if holder is not None:
                raise DaemonUnreachableError(
                    f"mvsepd (pid {holder}) is starting and does not answer yet: it answers "
                    "once its first scan is done (in studio mode, once the studio database "
                    "answers; its log says what it waits for)"
                )
        info = read_runtime_file(runtime_file)
        if not process_alive(info.pid):
            raise DaemonUnreachableError(
                f"mvsepd is not running (its runtime file {runtime_file} is left over from "
                f"process {info.pid}, which has ended); {_START_HINT}"
            )
        return cls(info, source=runtime_file)

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` of the daemon."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # --- reads ------------------------------------------------------------------------------

    def status(self, *, every_name: bool = False) -> dict[str, Any]:
        """The whole picture (``GET /v1/status``); ``every_name`` names every file a folder
        skipped as there before its first watch, not only the first few."""
        return self.request("GET", "/status", query={"names": "all"} if every_name else None)

    def jobs(self, *, include_all: bool = False) -> list[dict[str, Any]]:
        """Unfinished and recent jobs, or every job (``GET /v1/jobs``)."""
        answer = self.request("GET", "/jobs", query={"all": "1"} if include_all else None)
        jobs = answer.get("jobs")
        return list(jobs) if isinstance(jobs, list) else []

    def job(self, job_id: int) -> dict[str, Any]:
        """One job with its history (``GET /v1/jobs/ID``); InputError if there is none."""
        answer = self.request("GET", f"/jobs/{job_id}")
        job = answer.get("job")
        return dict(job) if isinstance(job, dict) else {}

    def events(self, since: int | None, wait_seconds: float) -> tuple[int, dict[str, Any]]:
        """Wait up to ``wait_seconds`` for a change after ``since``; return (version, picture)."""
        query = {"timeout": f"{wait_seconds:g}"}
        if since is not None:
            query["since"] = str(since)
        answer = self.request("GET", "/events", query=query, timeout=wait_seconds + 15)
        status = answer.get("status")
        return int(answer.get("version", 0)), dict(status) if isinstance(status, dict) else {}

    # --- control ----------------------------------------------------------------------------

    def pause(self) -> dict[str, Any]:
        """Stop new submissions."""
        return self.request("POST", "/pause")

    def resume(self) -> dict[str, Any]:
        """Submit again."""
        return self.request("POST", "/resume")

    def rescan(
        self, folder: str | None = None, *, include_existing: bool = False
    ) -> dict[str, Any]:
        """Scan one hot folder (an absolute path) or every one now; ``include_existing`` takes
        the files that were in ``folder`` before it was first watched too."""
        query: dict[str, str] = {}
        if folder is not None:
            query["folder"] = folder
        if include_existing:
            query["include_existing"] = "1"
        return self.request("POST", "/rescan", query=query or None, timeout=CONTROL_TIMEOUT)

    def dismiss(self) -> dict[str, Any]:
        """Mark the failures so far as seen (the tray stops being red for them)."""
        return self.request("POST", "/dismiss")

    def retry(self, job_id: int, *, upload_again: bool = False) -> dict[str, Any]:
        """Start a failed (or cancelled, done, unpublished, held) job again: followed at MVSEP
        while MVSEP has it, else uploaded again (``upload_again``: uploaded again anyway)."""
        query = {"upload_again": "1"} if upload_again else None
        # The daemon asks MVSEP first, which may take a while on a slow link.
        return self.request("POST", f"/jobs/{job_id}/retry", query=query, timeout=CONTROL_TIMEOUT)

    def cancel(self, job_id: int) -> dict[str, Any]:
        """Cancel a job (at MVSEP too while it waits there, which refunds its credits)."""
        return self.request("POST", f"/jobs/{job_id}/cancel", timeout=CONTROL_TIMEOUT)

    def page_sign_in(self, landing: str | None = None) -> str:
        """A one-time address that opens mvsepd's page signed in (it works once, for two
        minutes), at ``landing`` (a path of the page, such as ``/takes/12``) when given;
        InputError when the daemon serves no page."""
        query = {"next": landing} if landing else None
        answer = self.request("POST", "/page/sign-in", query=query)
        path = answer.get("path")
        if not isinstance(path, str) or not path.startswith("/sign-in?"):
            raise DaemonError(f"mvsepd at {self.url} gave no address of its page")
        return self.url + path

    # --- plumbing ---------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        timeout: float = REQUEST_TIMEOUT,
    ) -> dict[str, Any]:
        """Send one request to ``/v1`` + ``path``; return the decoded JSON object.

        DaemonUnreachableError when nothing (or not mvsepd) answers, InputError for 4xx answers
        about the request (unknown job, a job in the wrong state), DaemonError for the rest.
        """
        target = PREFIX + path
        if query:
            target += "?" + urllib.parse.urlencode(query)
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            connection.request(
                method,
                target,
                headers={
                    "Authorization": f"Bearer {self.info.token.reveal()}",
                    "Accept": "application/json",
                    "Content-Length": "0",
                },
            )
            response = connection.getresponse()
            body = response.read()
        except TimeoutError:
            raise DaemonUnreachableError(
                f"mvsepd at {self.url} did not answer within {timeout:g} s"
            ) from None
        except (OSError, http.client.HTTPException) as error:
            raise DaemonUnreachableError(
                f"mvsepd is not running (no daemon answers at {self.url}: "
                f"{_reason(error)}); {_START_HINT}"
            ) from None
        finally:
            connection.close()
        return self._decode(response.status, body)

    def _decode(self, status: int, body: bytes) -> dict[str, Any]:
        try:
            value = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            value = None
        if not isinstance(value, dict):
            raise DaemonUnreachableError(
                f"something other than mvsepd answers at {self.url} (HTTP {status}); "
                f"the runtime file {self.source or ''} is stale; {_START_HINT}"
            )
        message = str(value.get("error") or f"HTTP {status}")
        if status == 401:
            raise DaemonUnreachableError(
                f"the daemon at {self.url} does not accept the token in "
                f"{self.source or 'the runtime file'}: the file is stale or belongs to another "
                f"daemon; {_START_HINT}"
            )
        if status in (400, 404, 405, 409):
            raise InputError(message, field="job")
        if status >= 300:
            raise DaemonError(f"mvsepd: {message}")
        return value


def _reason(error: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return type(error).__name__


@dataclass(frozen=True)
class Update:
    """One step of ``follow``: the newest picture, or why there is none right now."""

    picture: dict[str, Any] | None
    problem: str = ""


def follow(
    connect: Callable[[], ControlClient],
    stop: threading.Event,
    *,
    wait_seconds: float = FOLLOW_WAIT_SECONDS,
    retry_seconds: float = 1.0,
) -> Iterator[Update]:
    """Yield the picture whenever it changes, until ``stop`` is set.

    When the daemon cannot be reached, yield an ``Update`` without a picture (once per
    failure), wait ``retry_seconds`` and connect again: ``connect`` re-reads the runtime file,
    so a restarted daemon (new port, new token) is found.
    """
    client: ControlClient | None = None
    version: int | None = None
    while not stop.is_set():
        try:
            if client is None:
                client = connect()
                version = None
            version, picture = client.events(version, wait_seconds)
        except DaemonError as error:
            client = None
            yield Update(None, str(error))
            stop.wait(retry_seconds)
            continue
        yield Update(picture)
