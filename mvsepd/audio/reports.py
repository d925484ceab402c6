"""What conform tells a job's manifest: per stem what MVSEP sent and what was written, and
per job the target format, the lag found, the null figures, the timestamp, the tags copied and
any notes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESIDUAL_LABEL = "Residual"


@dataclass(frozen=True)
class StemFile:
    """One audio stem of a job: MVSEP's file as downloaded, and where its conformed copy goes
    (None: read for the null figure and the start, not written; a chain step's unkept stem)."""

    label: str
    downloaded: Path
    output: Path | None
    name: str


@dataclass
class StemReport:
    """What MVSEP sent for one stem and what was written."""

    label: str
    mvsep: dict[str, Any]
    written: dict[str, Any] | None = None
    clipped_samples: int = 0
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The manifest's entry."""
        entry: dict[str, Any] = {"label": self.label, "mvsep": self.mvsep}
        if self.written is not None:
            entry["written"] = self.written
            entry["clipped_samples"] = self.clipped_samples
        if self.notes:
            entry["notes"] = self.notes
        return entry


@dataclass
class ConformReport:
    """What conform did to one job's stems, for its manifest."""

    mode: str
    stems: list[StemReport]
    target: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    lag_samples: int | None = None
    lag_confidence: float | None = None
    null_db: float | None = None
    best_null: dict[str, Any] | None = None
    timestamp: dict[str, Any] | None = None
    tags: dict[str, Any] | None = None
    residual: StemReport | None = None

    def to_json(self) -> dict[str, Any]:
        """The manifest's ``conform`` section."""
        document: dict[str, Any] = {"mode": self.mode}
        for key in ("target", "lag_samples", "lag_confidence", "null_db", "best_null"):
            value = getattr(self, key)
            if value is not None:
                document[key] = value
        if self.timestamp is not None:
            document["timestamp"] = self.timestamp
        if self.tags is not None:
            document["tags"] = self.tags
        if self.notes:
            document["notes"] = self.notes
        document["stems"] = [stem.to_json() for stem in self.stems]
        if self.residual is not None:
            document["residual"] = self.residual.to_json()
        return document
