"""Account, history, site and Quality Checker data as MVSEP reports them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mvsepd.models.secret import Secret


@dataclass(frozen=True)
class UserInfo:
    """``/app/user`` and ``/app/login``. ``credits`` is MVSEP's ``premium_minutes``."""

    name: str | None
    email: str | None
    api_token: Secret | None
    credits: int
    premium_enabled: bool
    long_filenames_enabled: bool
    current_queue: int | None = None
    copy_metadata: bool | None = None
    created_at: str | None = None

    @property
    def is_premium(self) -> bool:
        """True when the account spends credits, which puts it in the premium queue."""
        return self.premium_enabled and self.credits > 0


@dataclass(frozen=True)
class HistoryEntry:
    """One row of ``/app/separation_history`` (newest first). ``time_left`` is in hours."""

    id: int | None
    hash: str
    created_at: str | None
    job_exists: bool
    credits: int | None
    time_left_hours: int | None
    algorithm_name: str | None
    render_id: int | None


@dataclass(frozen=True)
class QueueInfo:
    """``/app/queue``: jobs in each global queue, plus the caller's plan when a token is sent."""

    in_process: int | None
    premium: int | None
    registered: int | None
    unregistered: int | None
    plan_name: str | None = None
    plan_queue: int | None = None


@dataclass(frozen=True)
class NewsItem:
    """One entry of ``/app/news``; ``text`` is HTML."""

    id: int | None
    title: str
    lang: str | None
    text: str
    created_at: str | None


@dataclass(frozen=True)
class DemoEntry:
    """One public demo separation of ``/app/demo``."""

    hash: str
    date: str | None
    input_audio_url: str | None
    algorithm_name: str | None
    render_id: int | None


@dataclass(frozen=True)
class ActionResult:
    """Endpoints that answer only ``{success, message}``: toggles, register, QC delete."""

    message: str


@dataclass(frozen=True)
class QualityEntryCreated:
    """``/quality_checker/add``: the new entry's id and link."""

    id: int
    link: str | None


@dataclass(frozen=True, eq=False)
class QualityEntry:
    """A Quality Checker entry. Few fields are documented, so the raw object is kept too."""

    id: int | None
    algo_name: str | None
    main_text: str | None
    dataset_type: str | None
    date: str | None
    proc: int | None
    msg: str | None
    metrics: Mapping[str, Any] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict)
    #: SDR (dB) per stem, as measured (``sdr_vocals`` as ``vocals``); numbers only.
    sdr: Mapping[str, float] = field(default_factory=dict)
    #: The dataset it was measured on, in MVSEP's words.
    dataset_name: str | None = None


@dataclass(frozen=True)
class Leaderboard:
    """``/quality_checker/leaderboard``."""

    entries: tuple[QualityEntry, ...]
    dataset_type: str | None
    sortables: tuple[str, ...]
    sort: str | None
