"""What MVSEP's Quality Checker leaderboard measured for a model: SDR per stem, per dataset.

Asked only when someone looks (the page shows a model), never on a timer, and cached on disk
beside the catalog for as long as the catalog is (a day by default). The leaderboard is kept
per dataset (``dataset_type`` 0 to 12 on MVSEP's API page) and its entries are named by
whoever submitted them, not by catalog id, so a model's measurements are the entries whose
name contains the model's (its catalog name before the parenthesis: "MVSep Drums" for
"MVSep Drums (drums, other)"), as MVSEP's own ``algo_name_filter`` finds them. Each
measurement keeps the entry's own name, so nothing is attributed that the leaderboard does not
say; a model without entries has no measurements.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import structlog

from mvsepd.errors import MvsepError
from mvsepd.models import Leaderboard, QualityEntry

log = structlog.get_logger("mvsepd.leaderboard")

#: The dataset types MVSEP's API page names ("0" to "12").
DATASET_TYPES = tuple(str(number) for number in range(13))
#: Entries asked for per dataset (MVSEP's largest page).
PER_DATASET = 20
#: Requests to MVSEP at once while a model's measurements are fetched.
_AT_ONCE = 4

FetchBoard = Callable[[str, str], Leaderboard]


@dataclass(frozen=True)
class Measurement:
    """One leaderboard entry: its name as submitted, its dataset and SDR per stem (dB)."""

    entry_id: int | None
    name: str
    dataset: str
    sdr: tuple[tuple[str, float], ...]
    date: str | None = None


@dataclass(frozen=True)
class Measurements:
    """A model's measurements as last fetched (best first per dataset, in MVSEP's order)."""

    search: str
    entries: tuple[Measurement, ...]
    fetched_at: float | None
    problem: str | None = None


def search_name(model_name: str) -> str:
    """The name a model's entries are found by: its catalog name before the parenthesis."""
    return model_name.split(" (")[0].strip() or model_name.strip()


class LeaderboardCache:
    """Measurements by model name: memory, then the cache file, then MVSEP."""

    def __init__(
        self,
        path: Path,
        fetch: FetchBoard,
        *,
        refresh_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._path = path
        self._fetch = fetch
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._known: dict[str, Measurements] = self._load()

    def measurements(self, model_name: str) -> Measurements:
        """The leaderboard's entries for a model (fetched when missing or a day old; the
        cached ones, with the problem, when MVSEP cannot be asked)."""
        search = search_name(model_name)
        with self._lock:
            known = self._known.get(search)
        now = self._clock()
        if (
            known is not None
            and known.fetched_at is not None
            and now - known.fetched_at < self._refresh_seconds
        ):
            return known
        try:
            entries = self._fetch_all(search)
        except MvsepError as error:
            log.warning("leaderboard_fetch_failed", search=search, error=str(error))
            if known is not None:
                return Measurements(search, known.entries, known.fetched_at, str(error))
            return Measurements(search, (), None, str(error))
        fresh = Measurements(search, entries, now)
        with self._lock:
            self._known[search] = fresh
            self._write()
        return fresh

    def _fetch_all(self, search: str) -> tuple[Measurement, ...]:
        from concurrent.futures import ThreadPoolExecutor  # the page's first look, not at start

        with ThreadPoolExecutor(_AT_ONCE, thread_name_prefix="mvsepd-leaderboard") as pool:
            boards = list(pool.map(lambda dataset: self._fetch(dataset, search), DATASET_TYPES))
        found: dict[tuple[str, int | None, str], Measurement] = {}
        for dataset, board in zip(DATASET_TYPES, boards, strict=True):
            for entry in board.entries:
                measurement = _measurement(entry, board.dataset_type or dataset)
                if measurement is not None:
                    # A server that answers an unknown dataset with dataset 0 repeats entries.
                    found.setdefault(
                        (measurement.dataset, measurement.entry_id, measurement.name), measurement
                    )
        return tuple(found.values())

    def _load(self) -> dict[str, Measurements]:
        try:
            stored = json.loads(self._path.read_text(encoding="utf-8"))
            return {
                search: Measurements(
                    search,
                    tuple(
                        Measurement(
                            entry_id=item.get("entry_id"),
                            name=str(item["name"]),
                            dataset=str(item["dataset"]),
                            sdr=tuple((str(stem), float(value)) for stem, value in item["sdr"]),
                            date=item.get("date"),
                        )
                        for item in value["entries"]
                    ),
                    float(value["fetched_at"]),
                )
                for search, value in stored.items()
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return {}

    def _write(self) -> None:
        stored = {
            search: {
                "fetched_at": known.fetched_at,
                "entries": [asdict(entry) for entry in known.entries],
            }
            for search, known in self._known.items()
            if known.fetched_at is not None
        }
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self._path.with_name(f".{self._path.name}.tmp")
            temporary.write_text(json.dumps(stored), encoding="utf-8")
            os.replace(temporary, self._path)
        except OSError as error:
            log.warning("leaderboard_cache_unwritable", path=str(self._path), error=str(error))


def _measurement(entry: QualityEntry, dataset_type: str) -> Measurement | None:
    if not entry.sdr or not entry.algo_name:
        return None
    return Measurement(
        entry_id=entry.id,
        name=entry.algo_name,
        dataset=entry.dataset_name or f"dataset {dataset_type}",
        sdr=tuple(entry.sdr.items()),
        date=entry.date,
    )
