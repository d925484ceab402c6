"""What the upload tests look at: what the emulator kept of an upload, and what is left where
FLACs sent with their length are encoded."""

from __future__ import annotations

from pathlib import Path

from mvsepd.emulator.jobs import JobSnapshot
from tests.integration.support import Setup


def received(setup: Setup) -> tuple[JobSnapshot, Path]:
    """The emulator's one job and the file it received for it."""
    (remote,) = setup.server.state.jobs()
    kept = setup.server.state.received_file(remote.hash)
    assert kept is not None, "the emulator no longer holds what it received"
    return remote, kept


def temporary_files(setup: Setup) -> list[Path]:
    """What is left in the folder where FLACs sent with their length are encoded."""
    uploads = setup.tmp / "cache" / "uploads"
    return sorted(uploads.iterdir()) if uploads.is_dir() else []
