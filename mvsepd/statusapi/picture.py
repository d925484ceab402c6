"""The status picture: the daemon, the account, the folders and the jobs as plain JSON values.

Everything a client shows comes from here, so this is also where the rules about secrets hold:
the MVSEP API token never appears (the account shows name, plan, credits and whether the token
works); result download URLs never appear; a job's separation hash (enough to fetch its
results) appears only in the detail of one job, never in the picture or the job lists.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mvsepd.domain.chains import ChainPlan
from mvsepd.domain.presets import ResolvedPreset
from mvsepd.engine import Engine
from mvsepd.engine.firstwatch import include_existing_command
from mvsepd.errors import StoreUnavailableError
from mvsepd.models import JobRecord, JobState
from mvsepd.statusapi import words
from mvsepd.statusapi.takes import summarize, take_ids
from mvsepd.statusapi.words import Transfer

#: Version of the JSON shapes below; bumped (with a new path prefix) on incompatible changes.
API_VERSION = 1
#: Finished jobs stay in the picture (and in ``/v1/jobs``) this long.
RECENT_SECONDS = 24 * 3600.0
#: At most this many finished jobs are looked at for the picture (newest first).
RECENT_LIMIT = 500
#: A folder's files skipped as there before its first watch are named up to this many in the
#: picture (all of them when a client asks, ``status(every_name=True)``); the count is exact.
SKIPPED_NAMES = 5
#: The picture's takes, newest first (the tray lists a few, the page asks for its own).
TAKES_LIMIT = 20
_LIVE_STATES = [state for state in JobState if not state.terminal]


@dataclass(frozen=True)
class DaemonFacts:
    """What the picture says about the daemon process itself."""

    version: str
    pid: int
    started_at: float


def local_midnight(now: float) -> float:
    local = time.localtime(now)
    return now - (local.tm_hour * 3600 + local.tm_min * 60 + local.tm_sec) - (now % 1)


class Picture:
    """Builds the JSON values of the status API from a running engine (read-only)."""

    def __init__(
        self,
        engine: Engine,
        facts: DaemonFacts,
        *,
        clock: Callable[[], float] = time.time,
        config_state: Callable[[], dict[str, Any] | None] = lambda: None,
    ) -> None:
        self._engine = engine
        self._context = engine.context
        self._facts = facts
        self._clock = clock
        #: The configuration file the daemon follows and a change of it it refused, as JSON
        #: (handed in by the daemon, which owns it; None when it follows no file).
        self._config_state = config_state

    # --- pieces -----------------------------------------------------------------------------

    def transfers(self) -> dict[int, Transfer]:
        """Uploads and downloads in flight, by job id (a copy)."""
        with self._context.lock:
            return {
                job_id: Transfer(progress.phase, progress.done, progress.total)
                for job_id, progress in self._context.live.items()
            }

    def job(
        self,
        job: JobRecord,
        transfers: dict[int, Transfer] | None = None,
        *,
        paused: bool | None = None,
        dismissed_through: float | None = None,
    ) -> dict[str, Any]:
        """One job as JSON (without its separation hash).

        ``dismissed`` is True for a failure the user has dismissed (``mvsepd dismiss``): still
        listed, no longer an alarm.
        """
        transfers = self.transfers() if transfers is None else transfers
        paused = self._engine.paused if paused is None else paused
        if dismissed_through is None:
            dismissed_through = self._engine.failures_dismissed_through
        transfer = transfers.get(job.id)
        percent = transfer.percent() if transfer is not None else None
        uploading = job.state is JobState.UPLOADING
        downloading = job.state is JobState.DOWNLOADING
        source = Path(str(job.input.get("root_path") or job.source_path))
        folder = Path(job.folder_path)
        try:
            relative = str(source.relative_to(folder))
        except ValueError:
            relative = source.name
        summary = words.summary(job, transfer, paused=paused, now=self._clock())
        chain, step = job.input.get("chain"), job.input.get("step")
        position = self._step_position(str(chain), str(step)) if chain and step else None
        if position is not None:
            summary = f"step {position[0]} of {position[1]}: {step}, {summary}"
        return {
            "id": job.id,
            "folder": job.folder_path,
            "file": job.source_name,
            "relative_path": relative,
            "source_path": str(source),
            "preset": job.preset_name,
            "host": job.owner_host,
            "state": job.state.value,
            "phase": words.phase(job),
            "summary": summary,
            "chain": chain,
            "step": step,
            "remote_status": job.remote_status,
            "current_order": job.current_order,
            "queue_count": job.queue_count,
            "finished_chunks": job.finished_chunks,
            "all_chunks": job.all_chunks,
            "upload_percent": percent if uploading else None,
            "download_percent": percent if downloading else None,
            "credits_estimate": job.credits_estimate,
            "duration_seconds": job.duration_seconds,
            "reason": job.reason,
            "error": job.reason if job.state is JobState.FAILED else None,
            "failure_kind": job.failure_kind.value if job.failure_kind else None,
            "retry_offered": words.retry_offered(job),
            "retry_cost": words.retry_cost(job),
            "advice": words.advice(job),
            "dismissed": job.state in (JobState.FAILED, JobState.UNPUBLISHED)
            and (job.finished_at or job.updated_at) <= dismissed_through,
            "output_dir": job.output_dir,
            "attempts": job.attempts,
            "next_attempt_at": job.next_attempt_at,
            "cancel_requested": job.id in self._context.cancel_requested,
            "created_at": job.created_at,
            "updated_at": job.updated_at,
            "finished_at": job.finished_at,
        }

    def _step_position(self, chain: str, step: str) -> tuple[int, int] | None:
        plan = self._context.chain(chain)
        if not isinstance(plan, ChainPlan):
            return None
        for index, each in enumerate(plan.steps):
            if each.id == step:
                return index + 1, len(plan.steps)
        return None

    def job_detail(self, job_id: int) -> dict[str, Any]:
        """One job with its separation hash and its history. StoreError if there is none."""
        job = self._context.store.get(job_id)
        detail = self.job(job)
        neighbours = {record.id: record for record in self._context.store.recent(RECENT_LIMIT)}
        neighbours[job.id] = job
        detail["take"] = take_ids(neighbours.values(), self._context.store.get)[job.id]
        detail["separation_hash"] = job.separation_hash
        detail["history"] = [
            {"at": at, "from": from_state, "to": to_state, "detail": text}
            for at, from_state, to_state, text in self._context.store.events(job_id)
        ]
        return detail

    def jobs(self, *, include_all: bool = False) -> list[dict[str, Any]]:
        """Unfinished jobs and those finished in the last day (every job with ``include_all``)."""
        store = self._context.store
        transfers = self.transfers()
        paused = self._engine.paused
        through = self._engine.failures_dismissed_through
        if include_all:
            records = store.jobs()
        else:
            since = self._clock() - RECENT_SECONDS
            live = store.jobs(_LIVE_STATES)
            finished = [
                job
                for job in store.recent(RECENT_LIMIT)
                if job.state.terminal and (job.finished_at or job.updated_at) >= since
            ]
            records = sorted([*live, *finished], key=lambda job: job.id)
        takes = take_ids(records, store.get)
        return [
            {
                **self.job(job, transfers, paused=paused, dismissed_through=through),
                "take": takes[job.id],
            }
            for job in records
        ]

    def takes(self, jobs: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
        """The takes of the recent jobs (``statusapi.takes``), newest first."""
        return summarize(self.jobs() if jobs is None else jobs, self._chain_steps)

    def _chain_steps(self, name: str) -> tuple[str, ...] | None:
        plan = self._context.chain(name)
        return tuple(step.id for step in plan.steps) if isinstance(plan, ChainPlan) else None

    def account(self) -> dict[str, Any]:
        """The MVSEP account as far as known: never the token, only whether it works."""
        account = self._context.account
        user = account.user
        return {
            "name": user.name if user is not None else None,
            "plan": None if user is None else ("premium" if user.is_premium else "free"),
            "premium_enabled": user.premium_enabled if user is not None else None,
            "credits": user.credits if user is not None else None,
            "token_valid": account.token_valid,
            "token_problem": account.token_problem,
            "checked_at": account.checked_at,
            "concurrency": self._engine.concurrency(),
        }

    def folders(self, *, every_name: bool = False, with_store: bool = True) -> list[dict[str, Any]]:
        """Each hot folder with its preset, output root, how its watching stands, and the
        files skipped as there before its first watch (a few named, or ``every_name``)."""
        health = {item.path: item for item in self._engine.intake.health()}
        free = self._context.account.is_free()
        listed = []
        for path, runtime in self._context.folders.items():
            state = health.get(path)
            watch: str = state.status if state is not None else "unknown"
            detail = state.detail if state is not None else ""
            if runtime.config.paused:
                watch, detail = "paused", "paused: new files wait there until it is resumed"
            listed.append(
                {
                    "path": str(path),
                    "preset": runtime.config.preset,
                    "output_root": str(runtime.output_root),
                    "watch": watch,
                    "detail": detail,
                    "skipped_existing": (self._skipped(path, every_name) if with_store else None),
                    "needs_premium": self._needs_premium(runtime.config.preset_names)
                    if free
                    else [],
                }
            )
        return listed

    def _needs_premium(self, preset_names: Sequence[str]) -> list[str]:
        """What of a folder's presets a free account's files wait for (the engine holds them
        by the same rule), said with the folder from the start, not once a file is held."""
        found = []
        for name in preset_names:
            preset = self._context.preset(name)
            needs = (
                self._context.premium_needs(preset.sep_type)
                if isinstance(preset, ResolvedPreset)
                else []
            )
            if needs:
                found.append(f"preset {name}: {'; '.join(needs)}")
        return found

    def _skipped(self, folder: Path, every_name: bool) -> dict[str, Any] | None:
        skipped = self._engine.skipped_files(folder, limit=None if every_name else SKIPPED_NAMES)
        if skipped.count == 0:
            return None
        return {
            "count": skipped.count,
            "files": list(skipped.files),
            "message": skipped.message(folder),
            "command": include_existing_command(folder),
        }

    def arrivals(self) -> list[dict[str, Any]]:
        """Files being waited for: still arriving, or reported incomplete with the reason
        (those first, then the longest waiting)."""
        found = sorted(
            self._engine.intake.arrivals(),
            key=lambda item: (not item.incomplete, -item.waiting_seconds, str(item.path)),
        )
        return [
            {
                "path": str(item.path),
                "folder": str(item.folder),
                "relative_path": item.relative_path,
                "state": "incomplete" if item.incomplete else "arriving",
                "waiting_seconds": round(item.waiting_seconds, 1),
                "reason": item.reason or None,
                "summary": words.arrival(
                    item.relative_path,
                    item.waiting_seconds,
                    incomplete=item.incomplete,
                    reason=item.reason,
                ),
            }
            for item in found
        ]

    # --- the whole picture --------------------------------------------------------------------

    def status(self, *, every_name: bool = False) -> dict[str, Any]:
        """Everything a client shows, in one JSON object (see the README, "The status API").

        A chain run is one line: its current step (``/v1/jobs`` lists every step). A folder's
        files skipped as there before its first watch are counted, and named up to
        ``SKIPPED_NAMES`` unless ``every_name``."""
        now = self._clock()
        try:
            return self._status(now, every_name)
        except StoreUnavailableError as error:
            # Studio mode, the database away: what this host knows without it.
            return self._without_store(now, str(error))

    def _daemon(self, now: float, paused: bool | None) -> dict[str, Any]:
        return {
            "version": self._facts.version,
            "pid": self._facts.pid,
            "started_at": self._facts.started_at,
            "uptime_seconds": round(max(0.0, now - self._facts.started_at), 1),
            "paused": paused,
            "server": self._context.client.server,
        }

    def _without_store(self, now: float, problem: str) -> dict[str, Any]:
        context = self._context
        return {
            "service": "mvsepd",
            "api": API_VERSION,
            "version": context.feed.version,
            "daemon": self._daemon(now, None),
            "account": self.account(),
            "folders": self.folders(with_store=False),
            "arriving": [str(path) for path, _first_seen in self._engine.intake.pending()],
            "arrivals": self.arrivals(),
            "counts": {},
            "done_today": 0,
            "jobs": [],
            "takes": [],
            "studio": {
                "host": context.store.host_id,
                "outage": context.studio_outage or problem,
            },
            "config": self._config_state(),
        }

    def _status(self, now: float, every_name: bool) -> dict[str, Any]:
        context = self._context
        every_job = self.jobs()
        jobs = _one_line_per_chain(every_job)
        midnight = local_midnight(now)
        done_today = sum(
            1
            for job in context.store.recent(RECENT_LIMIT)
            if job.state is JobState.DONE and (job.finished_at or 0) >= midnight
        )
        counts = {state.value: count for state, count in context.store.count_by_state().items()}
        return {
            "service": "mvsepd",
            "api": API_VERSION,
            "version": context.feed.version,
            "daemon": self._daemon(now, self._engine.paused),
            "account": self.account(),
            "folders": self.folders(every_name=every_name),
            "arriving": [str(path) for path, _first_seen in self._engine.intake.pending()],
            "arrivals": self.arrivals(),
            "counts": counts,
            "done_today": done_today,
            "jobs": jobs,
            "takes": self.takes(every_job)[:TAKES_LIMIT],
            "studio": _with_outage(context.store.studio(), context.studio_outage),
            "config": self._config_state(),
        }


def _with_outage(studio: dict[str, Any] | None, outage: str | None) -> dict[str, Any] | None:
    if studio is None:
        return None
    return {**studio, "outage": outage}


def _one_line_per_chain(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep, of each chain run's steps, the one at work (else the last one)."""
    runs: dict[tuple[Any, ...], dict[str, Any]] = {}
    kept: list[dict[str, Any]] = []
    for job in jobs:
        if not job.get("chain"):
            kept.append(job)
            continue
        key = (job["folder"], job["chain"], job["source_path"])
        current = runs.get(key)
        if current is None or _ahead(job, current):
            runs[key] = job
    kept.extend(runs.values())
    return sorted(kept, key=lambda job: int(job["id"]))


def _ahead(job: dict[str, Any], current: dict[str, Any]) -> bool:
    """True when ``job`` says more about its run than ``current``: at work beats finished, a
    later step beats an earlier one."""
    working = job["phase"] not in ("done", "cancelled")
    current_working = current["phase"] not in ("done", "cancelled")
    if working != current_working:
        return working
    return int(job["id"]) > int(current["id"])
