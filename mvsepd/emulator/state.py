"""Read access to an emulator's state for tests and the admin API (``server.state``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from mvsepd.emulator.accounts import AccountInfo, AccountStore
from mvsepd.emulator.faults import Faults
from mvsepd.emulator.jobs import JobSnapshot, JobStore
from mvsepd.emulator.storage import Storage


class EmulatorState:
    """What happened so far: creates per token, jobs, credits."""

    def __init__(
        self, accounts: AccountStore, jobs: JobStore, faults: Faults, storage: Storage
    ) -> None:
        self._accounts = accounts
        self._jobs = jobs
        self._faults = faults
        self._storage = storage

    def files_served(self) -> dict[str, int]:
        """How often each result (or kept input) file was requested, by file name."""
        return self._storage.served()

    def create_count(self, token: str | None = None) -> int:
        """Successful creates (jobs that exist or existed) for ``token``, or for everyone."""
        return self._jobs.create_count(token)

    def refusals(self, token: str) -> dict[str, int]:
        """Refused creates of ``token``'s account, counted by MVSEP's message."""
        return self._jobs.refusals(token)

    def peak_unfinished(self, token: str) -> int:
        """The most unfinished jobs ``token``'s account had at once."""
        return self._jobs.peak_unfinished(token)

    def jobs(self) -> list[JobSnapshot]:
        """Every job, oldest first, as of now."""
        return self._jobs.snapshots()

    def job(self, separation_hash: str) -> JobSnapshot | None:
        return self._jobs.snapshot(separation_hash)

    def received_file(self, separation_hash: str) -> Path | None:
        """The bytes the job's create received, while the emulator keeps them (None after)."""
        return self._jobs.received_file(separation_hash)

    def credits(self, token: str) -> int:
        """The credit balance (``premium_minutes``) of a token's account; KeyError if unknown."""
        for account in self._accounts.all():
            if account.token == token:
                return account.credits
        raise KeyError("no account with this token")

    def account(self, token: str) -> AccountInfo | None:
        for account in self._accounts.all():
            if account.token == token:
                return account.snapshot()
        return None

    def accounts(self) -> list[AccountInfo]:
        return [account.snapshot() for account in self._accounts.all()]

    def wait_until_idle(self, timeout: float = 10.0) -> bool:
        """Wait (real time) until no job is rendering; True if that happened in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._jobs.rendering():
                return True
            time.sleep(0.01)
        return False

    def to_json(self) -> dict[str, Any]:
        """The admin API's ``GET /__emulator/state`` body."""
        return {
            "create_counts": self._jobs.create_counts(),
            "total_creates": self._jobs.create_count(),
            "credits": {account.token: account.credits for account in self._accounts.all()},
            "accounts": [
                {
                    "token": info.token,
                    "email": info.email,
                    "plan": info.plan,
                    "credits": info.credits,
                    "premium_enabled": info.premium_enabled,
                    "long_filenames": info.long_filenames,
                    "revoked": info.revoked,
                }
                for info in self.accounts()
            ],
            "jobs": [
                {
                    "hash": job.hash,
                    "token": job.token,
                    "status": job.status,
                    "sep_type": job.sep_type,
                    "options": job.options,
                    "output_format": job.output_format,
                    "created_at": job.created_at,
                    "credits": job.credits,
                    "exists": job.exists,
                }
                for job in self.jobs()
            ],
            "faults": [
                {"name": f.name, "rate": f.rate, "endpoints": f.endpoints, "count": f.count}
                for f in self._faults.armed()
            ],
            "fired": self._faults.fired(),
        }
