"""The parts of one emulator instance that request handlers share, and request-derived helpers."""

from __future__ import annotations

import dataclasses
import urllib.parse
from collections.abc import Callable

from werkzeug.wrappers import Request

from mvsepd.emulator.accounts import AccountStore
from mvsepd.emulator.admission import Admission
from mvsepd.emulator.catalog import Catalog
from mvsepd.emulator.faults import Faults
from mvsepd.emulator.jobs import JobStore
from mvsepd.emulator.link import Link
from mvsepd.emulator.quality import QualityChecker
from mvsepd.emulator.remote import RemoteStore
from mvsepd.emulator.settings import EmulatorSettings
from mvsepd.emulator.storage import Storage


@dataclasses.dataclass
class Context:
    settings: EmulatorSettings
    clock: Callable[[], float]
    accounts: AccountStore
    catalog: Catalog
    jobs: JobStore
    admission: Admission
    remote: RemoteStore
    quality: QualityChecker
    storage: Storage
    faults: Faults
    advance: Callable[[float], float]
    link: Link = dataclasses.field(
        default_factory=lambda: Link(upload_rate=None, download_rate=None, latency_seconds=0.0)
    )
    roll_job_failure: Callable[[str], bool] = lambda path: False


def base_url(request: Request) -> str:
    """``http://host:port`` as the client addressed the server (links are absolute)."""
    return request.host_url.rstrip("/")


def site_host(request: Request) -> str:
    """The host name without port, for the input copy's ``_[<host>]`` suffix."""
    hostname = urllib.parse.urlsplit(request.host_url).hostname
    return hostname or "localhost"


def int_param(
    value: str | None, default: int, *, minimum: int = 0, maximum: int | None = None
) -> int:
    """A lenient integer query parameter (Laravel casts, clamps to ``maximum``)."""
    try:
        number = int((value or "").strip())
    except ValueError:
        number = default
    number = max(minimum, number)
    return number if maximum is None else min(maximum, number)
