"""URL creates: the short hash, the "being downloaded" phase, and turning the download into a job.

A create with ``url`` (+ ``remote_type``) answers a short hash at once [REC GS, TR]. The first
``remote_download_polls`` polls of ``get-remote`` (and at least ``remote_download_seconds``)
answer ``success:false`` with "Your audio file is being downloaded, please wait a while..."
[REC GS]; the next poll fetches the file and creates the real separation, whose status the later
polls relay until ``done`` gives the real hash and its get link [REC GS three-stage flow].

No internet: only ``direct`` URLs on a loopback host are really fetched; anything else becomes
``remote_synthetic_seconds`` of invented audio named after the URL [emulator choice].
"""

from __future__ import annotations

import dataclasses
import ipaddress
import shutil
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from mvsepd.emulator.accounts import Account
from mvsepd.emulator.admission import Admission, Order, Rejected, Upload
from mvsepd.emulator.naming import new_short_hash
from mvsepd.emulator.probe import synthesize
from mvsepd.emulator.settings import EmulatorSettings
from mvsepd.emulator.storage import Storage

DOWNLOADING_MESSAGE = "Your audio file is being downloaded, please wait a while..."
DOWNLOAD_FAILED = "Can't download audio file from the given link"


@dataclasses.dataclass
class RemoteRequest:
    short_hash: str
    account: Account
    order: Order
    url: str
    remote_type: str
    created_at: float
    fail: bool
    polls: int = 0
    busy: bool = False
    job_hash: str | None = None
    error: str | None = None


@dataclasses.dataclass(frozen=True)
class RemoteState:
    """What get-remote reports: ``downloading``, ``failed`` (with ``error``) or ``job``."""

    phase: str
    job_hash: str | None = None
    error: str | None = None


class RemoteStore:
    """Pending URL creates by short hash. Thread-safe."""

    def __init__(
        self,
        settings: EmulatorSettings,
        clock: Callable[[], float],
        storage: Storage,
        admission: Admission,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._storage = storage
        self._admission = admission
        self._lock = threading.Lock()
        self._requests: dict[str, RemoteRequest] = {}
        admission.pending_remote = self.pending

    def create(
        self, account: Account, order: Order, url: str, remote_type: str, *, fail: bool
    ) -> RemoteRequest:
        with self._lock:
            short_hash = new_short_hash()
            while short_hash in self._requests:
                short_hash = new_short_hash()
            request = RemoteRequest(
                short_hash, account, order, url, remote_type, self._clock(), fail
            )
            self._requests[short_hash] = request
            return request

    def pending(self, account: Account) -> int:
        """URL creates of ``account`` still being downloaded (they count as unfinished)."""
        with self._lock:
            return sum(
                1
                for r in self._requests.values()
                if r.account is account and r.job_hash is None and r.error is None
            )

    def poll(self, short_hash: str) -> RemoteState | None:
        """Advance a URL create by one poll; None for an unknown short hash."""
        with self._lock:
            request = self._requests.get(short_hash)
            if request is None:
                return None
            if request.job_hash is not None:
                return RemoteState("job", job_hash=request.job_hash)
            if request.error is not None:
                return RemoteState("failed", error=request.error)
            request.polls += 1
            waited = self._clock() - request.created_at
            if (
                request.busy
                or request.polls <= self._settings.remote_download_polls
                or waited < self._settings.remote_download_seconds
            ):
                return RemoteState("downloading")
            request.busy = True
        try:
            upload = self._fetch(request)
            job = self._admission.from_upload(
                request.account, request.order, upload, fail=request.fail, check_capacity=False
            )
        except (OSError, urllib.error.URLError, ValueError, Rejected):
            with self._lock:
                request.error = DOWNLOAD_FAILED
                request.busy = False
            return RemoteState("failed", error=DOWNLOAD_FAILED)
        with self._lock:
            request.job_hash = job.hash
            request.busy = False
        return RemoteState("job", job_hash=job.hash)

    def _fetch(self, request: RemoteRequest) -> Upload:
        parsed = urllib.parse.urlsplit(request.url)
        name = PurePosixPath(urllib.parse.unquote(parsed.path)).name or "remote-audio"
        target = self._storage.scratch(Path(name).suffix or ".bin")
        if request.remote_type == "direct" and _loopback_http(parsed):
            # Only plain http to a loopback host gets here (S310: no file: or remote schemes).
            answer = urllib.request.urlopen(request.url, timeout=60)  # noqa: S310
            with answer, target.open("wb") as handle:
                shutil.copyfileobj(answer, handle, 1024 * 1024)
            return Upload(target, name, target.stat().st_size)
        wav = target.with_suffix(".wav")
        synthesize(wav, self._settings.remote_synthetic_seconds, request.url)
        return Upload(wav, str(PurePosixPath(name).with_suffix(".wav")), wav.stat().st_size)


def _loopback_http(parsed: urllib.parse.SplitResult) -> bool:
    if parsed.scheme != "http" or not parsed.hostname:
        return False
    if parsed.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parsed.hostname).is_loopback
    except ValueError:
        return False
