"""Reading back what a job placed: its manifest, found in the folder its stems went to.

A manifest's name depends on the job (``manifest.json``, ``manifest - STEP.json`` for a chain
step, ``TRACK.manifest.json`` where a template spreads stems over folders, `` (n)`` when
another job's was in the way), so it is found by the job id written in it; a retried job's
latest attempt wins.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mvsepd.outputs import files

#: Larger JSON files in a stems folder are not a manifest mvsepd wrote.
_MAX_MANIFEST_BYTES = 4 << 20


def find_manifest(directory: Path, job_id: int) -> tuple[Path, dict[str, Any]] | None:
    """The manifest of ``job_id`` in ``directory`` and what it says, or None."""
    best: tuple[int, Path, dict[str, Any]] | None = None
    try:
        candidates = sorted(directory.glob("*manifest*.json"))
    except OSError:
        return None
    for path in candidates:
        try:
            if path.stat().st_size > _MAX_MANIFEST_BYTES:
                continue
        except OSError:
            continue
        document = files.read_json(path)
        if document.get("job_id") != job_id or not isinstance(document.get("outputs"), list):
            continue
        attempt = document.get("attempt")
        rank = attempt if isinstance(attempt, int) else 0
        if best is None or rank > best[0]:
            best = (rank, path, document)
    return None if best is None else (best[1], best[2])
