"""Takes: one exported file and everything made from it, as the page, the tray and a
notification speak of it.

A take is a source file's audio as it was dropped into a hot folder (its folder, its path and
its bytes' SHA-256), and every job made from it: each preset of a fan-out, each step of a
chain. It is named by its first job's id (the smallest of its jobs that took the file itself),
so ``/takes/12`` stays the same take while its later jobs come. A take is ``done`` once every
job is done and every step of each of its chains has run: a chain's next step is made only
when the step before it ends, so "all jobs done" alone would call a take done between steps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mvsepd.errors import StoreError
from mvsepd.models import JobRecord, JobState

#: Chain steps are followed up to this many parents (chains are a few steps long).
_MAX_DEPTH = 32
_FAILED = {JobState.FAILED.value, JobState.UNPUBLISHED.value}


def take_ids(records: Iterable[JobRecord], parent: Callable[[int], JobRecord]) -> dict[int, int]:
    """Each job's take (by job id). ``parent`` looks up a job not among ``records`` (a chain
    step's first step, finished long ago); StoreError from it leaves a step as its own take."""
    records = list(records)
    by_id = {record.id: record for record in records}
    roots: dict[int, JobRecord] = {}
    for record in records:
        roots[record.id] = _root(record, by_id, parent)
    first_of: dict[tuple[str, str, str], int] = {}
    for root in roots.values():
        key = _key(root)
        first_of[key] = min(first_of.get(key, root.id), root.id)
    return {job_id: first_of[_key(root)] for job_id, root in roots.items()}


def _root(
    record: JobRecord, by_id: dict[int, JobRecord], parent: Callable[[int], JobRecord]
) -> JobRecord:
    root = record
    for _ in range(_MAX_DEPTH):
        if root.parent_job_id is None:
            return root
        found = by_id.get(root.parent_job_id)
        if found is None:
            try:
                found = parent(root.parent_job_id)
            except StoreError:
                return root
            by_id[found.id] = found
        root = found
    return root


def _key(root: JobRecord) -> tuple[str, str, str]:
    source = str(root.input.get("root_path") or root.source_path)
    return root.folder_path, source, root.content_sha256


def summarize(
    jobs: Sequence[Mapping[str, Any]], chain_steps: Callable[[str], Sequence[str] | None]
) -> list[dict[str, Any]]:
    """Takes of job views (``Picture.job``, each with its ``take``), newest first.
    ``chain_steps`` names a chain's steps (None for a chain no longer configured)."""
    grouped: dict[int, list[Mapping[str, Any]]] = {}
    for job in jobs:
        grouped.setdefault(int(job["take"]), []).append(job)
    takes = [_take(take_id, members, chain_steps) for take_id, members in grouped.items()]
    return sorted(takes, key=lambda take: take["created_at"], reverse=True)


def _take(
    take_id: int,
    members: list[Mapping[str, Any]],
    chain_steps: Callable[[str], Sequence[str] | None],
) -> dict[str, Any]:
    members = sorted(members, key=lambda job: int(job["id"]))
    first = next((job for job in members if int(job["id"]) == take_id), members[0])
    finished = [job["finished_at"] for job in members if job.get("finished_at")]
    phase = _phase(members, chain_steps)
    return {
        "id": take_id,
        "folder": first["folder"],
        "file": Path(str(first["source_path"])).name,
        "relative_path": first["relative_path"],
        "source_path": first["source_path"],
        "phase": phase,
        "jobs": [int(job["id"]) for job in members],
        "presets": sorted({str(job["preset"]) for job in members if not job.get("chain")}),
        "chains": sorted({str(job["chain"]) for job in members if job.get("chain")}),
        "output_dirs": [job["output_dir"] for job in members if job.get("output_dir")],
        "created_at": min(float(job["created_at"]) for job in members),
        "finished_at": max(finished) if phase != "working" and finished else None,
    }


def _phase(
    members: Sequence[Mapping[str, Any]], chain_steps: Callable[[str], Sequence[str] | None]
) -> str:
    """``working``, ``failed`` (a job failed, the others ended), ``cancelled`` (every job) or
    ``done``."""
    states = [str(job["state"]) for job in members]
    if any(not JobState(state).terminal for state in states):
        return "working"
    if any(state in _FAILED for state in states):
        return "failed"
    if all(state == JobState.CANCELLED.value for state in states):
        return "cancelled"
    ran: dict[str, set[str]] = {}
    stopped: set[str] = set()  # a chain with a cancelled step: the steps after it never come
    for job in members:
        if not job.get("chain"):
            continue
        if job["state"] == JobState.DONE.value:
            ran.setdefault(str(job["chain"]), set()).add(str(job["step"]))
        else:
            stopped.add(str(job["chain"]))
    for chain, steps_run in ran.items():
        if chain in stopped:
            continue
        steps = chain_steps(chain)
        if steps is not None and not set(steps) <= steps_run:
            return "working"  # its next step is about to be made
    return "done"
