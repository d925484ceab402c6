"""Quality Checker entries: add, process into metrics, list, rank, delete.

Recorded [REC PM]: add answers ``{"success":true,"data":{"id":N,"link":".../entry?id=N"}}``;
delete answers ``{"success":true,"data":{"message":"successfully deleted"}}``. The entry fields
(``id``, ``dataset_type``, ``date``, ``algo_name``, ``main_text``, ``proc``, ``proc_remote_date``,
``msg``, ``metrics``, ``sdr_*``, ``dataset_name``) are the API page's [DOC]; their values, the
dataset table and the SDR figures (derived from the zip's bytes) are invented [INF].
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mvsepd.emulator.naming import format_datetime

DATASETS: dict[int, tuple[str, tuple[str, ...]]] = {
    0: ("Multisong dataset (vocals, instrumental)", ("vocals", "instrum")),
    1: ("Synth dataset (vocals, instrumental)", ("vocals", "instrum")),
    2: ("Multisong dataset (bass, drums, other, vocals)", ("bass", "drums", "other", "vocals")),
    3: ("Piano dataset", ("piano", "other")),
    4: ("Guitar dataset", ("guitar", "other")),
    5: ("DrumSep dataset", ("kick", "snare", "toms", "cymbals")),
    6: ("Lead/back vocals dataset", ("lead", "back")),
    7: ("DnR dataset (speech, music, sfx)", ("speech", "music", "sfx")),
    8: ("Strings dataset", ("strings", "other")),
    9: ("Wind dataset", ("wind", "other")),
    10: ("Male/female dataset", ("male", "female")),
    11: ("Bass dataset", ("bass", "other")),
    12: ("Drums dataset", ("drums", "other")),
}


@dataclasses.dataclass
class Entry:
    id: int
    dataset_type: int
    algo_name: str
    main_text: str
    ensemble: int
    password: str
    created_at: float
    zip_ok: bool
    digest: bytes
    processed_at: float | None = None

    def view(self, now: float, processing_seconds: float) -> dict[str, Any]:
        """The entry as the API shows it; metrics appear once processing time has passed."""
        name, stems = DATASETS[self.dataset_type]
        done = now >= self.created_at + processing_seconds
        data: dict[str, Any] = {
            "id": self.id,
            "dataset_type": self.dataset_type,
            "date": format_datetime(self.created_at),
            "algo_name": self.algo_name,
            "main_text": self.main_text,
            "ensemble": self.ensemble,
            "proc": 1 if done else 0,
            "proc_remote_date": int(self.created_at + processing_seconds) if done else None,
            "msg": ("OK" if self.zip_ok else "Wrong archive: not a zip file") if done else "",
            "metrics": None,
            "dataset_name": name,
        }
        for index, stem in enumerate(stems):
            value = None
            if done and self.zip_ok:
                value = round(4.0 + (self.digest[index] / 255.0) * 14.0, 4)
            data[f"sdr_{stem}"] = value
        if done and self.zip_ok:
            data["metrics"] = {f"sdr_{stem}": data[f"sdr_{stem}"] for stem in stems}
        return data


class QualityChecker:
    """All entries. Thread-safe."""

    def __init__(self, clock: Callable[[], float], processing_seconds: float) -> None:
        self._clock = clock
        self._processing_seconds = processing_seconds
        self._lock = threading.Lock()
        self._entries: dict[int, Entry] = {}
        self._next_id = 1

    def add(
        self,
        *,
        zip_path: Path,
        algo_name: str,
        main_text: str,
        dataset_type: int,
        ensemble: int,
        password: str,
    ) -> Entry:
        digest = hashlib.sha256()
        with zip_path.open("rb") as handle:
            while chunk := handle.read(1024 * 1024):
                digest.update(chunk)
        with self._lock:
            entry = Entry(
                id=self._next_id,
                dataset_type=dataset_type,
                algo_name=algo_name,
                main_text=main_text,
                ensemble=ensemble,
                password=password,
                created_at=self._clock(),
                zip_ok=zipfile.is_zipfile(zip_path),
                digest=digest.digest(),
            )
            self._entries[entry.id] = entry
            self._next_id += 1
            return entry

    def view(self, entry_id: int) -> dict[str, Any] | None:
        with self._lock:
            entry = self._entries.get(entry_id)
            return None if entry is None else entry.view(self._clock(), self._processing_seconds)

    def queue(self, start: int, limit: int) -> list[dict[str, Any]]:
        """Entries newest first."""
        now = self._clock()
        with self._lock:
            entries = sorted(self._entries.values(), key=lambda e: e.id, reverse=True)
            return [e.view(now, self._processing_seconds) for e in entries[start : start + limit]]

    def leaderboard(
        self, dataset_type: int, start: int, limit: int, name_filter: str, sort: str | None
    ) -> tuple[list[dict[str, Any]], list[str], str]:
        """(entries, sortables, sort) for one dataset: processed, valid entries, best first."""
        sortables = [f"sdr_{stem}" for stem in DATASETS[dataset_type][1]]
        sort_key = sort if sort in sortables else sortables[0]
        now = self._clock()
        with self._lock:
            views = [
                e.view(now, self._processing_seconds)
                for e in self._entries.values()
                if e.dataset_type == dataset_type and name_filter.lower() in e.algo_name.lower()
            ]
        ranked = [v for v in views if v["proc"] == 1 and v["msg"] == "OK"]
        ranked.sort(key=lambda v: (-(v[sort_key] or 0.0), v["id"]))
        return ranked[start : start + limit], sortables, sort_key

    def delete(self, entry_id: int, password: str) -> str:
        """``deleted``, ``not_found`` or ``wrong_password``."""
        with self._lock:
            entry = self._entries.get(entry_id)
            if entry is None:
                return "not_found"
            if entry.password != password:
                return "wrong_password"
            del self._entries[entry_id]
            return "deleted"
