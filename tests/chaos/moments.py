"""What a daemon is doing at the instant it is killed: the moments a chaos run aims at.

The moments of the issue, told apart from the outside (job store, emulator, file system):

- ``stability``: a file was dropped after the daemon was ready and has no job yet;
- ``upload``: a job is ``uploading`` with its create request still in flight;
- ``after_create``: MVSEP made a job whose hash the store does not hold yet;
- ``polling``: a job is ``submitted`` (waiting or processing at MVSEP);
- ``download``: a job is ``downloading`` with a stem coming down (its ``.part``) in its staging
  folder, or stems half-fetched there (stems already down are conformed meanwhile);
- ``rename``: a job is ``downloading`` while its stems are being moved into place (some are
  already in the output folder, or the staging folder records moves).

``conform`` (stems being converted to their source's format: hidden ``.part`` files in the
staging folder, no stem coming down any more) lasts milliseconds for the run's short files; it
is reported when caught, and ``test_regressions`` kills a daemon there on purpose.

``reconcile`` (an ``uploading`` job looking for a lost create that MVSEP never made) is
reported too. The store is read the way another process reads it (SQLite WAL).
"""

from __future__ import annotations

import os
from pathlib import Path

from mvsepd.emulator.jobs import JobSnapshot
from mvsepd.errors import StoreError
from mvsepd.models import JobRecord, JobState
from tests.chaos.inputs import InputFile, md5_part
from tests.integration.support import Setup

MOMENTS = ("stability", "upload", "after_create", "polling", "download", "rename")
STAGING = ".mvsepd-staging"
#: Files a staging folder holds besides the stems being fetched.
_BOOKKEEPING = frozenset({"plan.json", "moved.json", "conform.json"})


class Observer:
    """Reads the job store, the emulator and the output folders of one chaos run."""

    def __init__(self, setup: Setup, inputs: list[InputFile]) -> None:
        self.setup = setup
        self.md5_by_sha256 = {item.sha256: item.md5_prefix for item in inputs}

    def jobs(self) -> list[JobRecord]:
        try:
            return self.setup.jobs()
        except StoreError:
            # The daemon holds a write lock for long (a start-up migration): ask again later.
            return []

    def remote_jobs(self) -> list[JobSnapshot]:
        """The emulator's jobs of this run's account."""
        return [job for job in self.setup.server.state.jobs() if job.token == self.setup.token]

    def unrecorded_creates(self, jobs: list[JobRecord]) -> list[JobSnapshot]:
        """Jobs MVSEP made whose hash no job in the store holds yet."""
        recorded = {job.separation_hash for job in jobs if job.separation_hash}
        return [remote for remote in self.remote_jobs() if remote.hash not in recorded]

    def staging(self, job: JobRecord) -> Path:
        return self.setup.outputs / STAGING / f"job-{job.id}"

    def finalizing(self, job: JobRecord) -> bool:
        """True while a downloading job's stems are being moved into their final names."""
        if (self.staging(job) / "moved.json").exists():
            return True
        track = self.setup.outputs / Path(job.source_path).stem
        return track.is_dir() and any(track.iterdir())

    def half_fetched(self, job: JobRecord) -> bool:
        try:
            names = os.listdir(self.staging(job))
        except OSError:
            return False
        return any(name not in _BOOKKEEPING for name in names)

    def fetching(self, job: JobRecord) -> bool:
        """True while a stem of the job is coming down (its download's ``.part``)."""
        try:
            names = os.listdir(self.staging(job))
        except OSError:
            return False
        return any(name.startswith("mvsep-") and name.endswith(".part") for name in names)

    def conforming(self, job: JobRecord) -> bool:
        """True while a job's stems are being written in their source's format."""
        try:
            names = os.listdir(self.staging(job))
        except OSError:
            return False
        return "conform.json" not in names and any(
            name.startswith(".") and name.endswith(".part") for name in names
        )

    def any_conforming(self) -> bool:
        return any(
            job.state is JobState.DOWNLOADING and self.conforming(job) for job in self.jobs()
        )

    def any_finalizing(self) -> bool:
        """A cheap file-system-only check, fast enough to spin on while waiting for a rename."""
        root = self.setup.outputs / STAGING
        try:
            with os.scandir(root) as entries:
                return any(os.path.exists(os.path.join(e.path, "moved.json")) for e in entries)
        except OSError:
            return False

    def moments(self, fresh: list[InputFile]) -> set[str]:
        """Every moment the daemon is in right now; ``fresh``: files dropped while it watched."""
        jobs = self.jobs()
        hit: set[str] = set()
        known = {job.content_sha256 for job in jobs}
        if any(item.sha256 not in known for item in fresh):
            hit.add("stability")
        unrecorded = {md5_part(remote.hash) for remote in self.unrecorded_creates(jobs)}
        if unrecorded:
            hit.add("after_create")
        for job in jobs:
            if job.state is JobState.UPLOADING:
                if self.md5_by_sha256.get(job.content_sha256) in unrecorded:
                    continue  # counted as after_create
                hit.add("upload" if job.reason is None else "reconcile")
            elif job.state is JobState.SUBMITTED:
                hit.add("polling")
            elif job.state is JobState.DOWNLOADING:
                if self.finalizing(job):
                    hit.add("rename")
                elif self.fetching(job):
                    hit.add("download")
                elif self.conforming(job):
                    hit.add("conform")
                elif self.half_fetched(job):
                    hit.add("download")
        return hit

    def live_jobs(self) -> list[JobRecord]:
        """Jobs not finished yet (held, waiting or on their way)."""
        return [job for job in self.jobs() if not job.state.terminal]

    def on_the_way(self, moment: str) -> bool:
        """True if some job can still reach ``moment`` without a new file."""
        before_upload = {
            JobState.DISCOVERED,
            JobState.STABLE,
            JobState.WAITING_SLOT,
            JobState.UPLOADING,
            JobState.RETRY_WAIT,
        }
        live = self.live_jobs()
        if moment in ("upload", "after_create"):
            return any(job.state in before_upload for job in live)
        return bool(live)

    def uploading(self) -> bool:
        return any(job.state is JobState.UPLOADING and job.reason is None for job in self.jobs())

    def submitted(self) -> bool:
        return any(job.state is JobState.SUBMITTED for job in self.jobs())

    def downloading_half_fetched(self) -> bool:
        return any(job.state is JobState.DOWNLOADING and self.fetching(job) for job in self.jobs())

    def create_unrecorded(self) -> bool:
        return bool(self.unrecorded_creates(self.jobs()))
