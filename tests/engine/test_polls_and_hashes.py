"""Two helpers of the engine: the budget that keeps every job's polls under MVSEP's rate
limit, and the hashes taken once per version of a file (early, while it waits out its last
second; a file read for several presets is read once)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from mvsepd.domain.hashing import file_sha256
from mvsepd.engine.hashes import ContentHashes
from mvsepd.engine.pollbudget import PollBudget


def test_polls_of_every_job_together_stay_under_the_minutes_allowance() -> None:
    budget = PollBudget(per_minute=5)
    planned = [budget.reserve(100.0) for _ in range(12)]
    assert planned[:5] == [100.0] * 5
    assert planned[5:10] == [160.0] * 5 and planned[10:] == [220.0] * 2
    for moment in planned:
        assert sum(1 for other in planned if moment - 60 < other <= moment) <= 5
    # A poll asked for later, where the minute before it has room, is not moved.
    assert budget.reserve(400.0) == 400.0


def test_a_minute_can_be_scaled_with_the_intervals() -> None:
    budget = PollBudget(per_minute=2, minute=0.6)
    assert [budget.reserve(1.0) for _ in range(3)] == [1.0, 1.0, 1.6]


def test_a_hash_is_taken_once_per_version_of_a_file(tmp_path: Path) -> None:
    path = tmp_path / "take.wav"
    path.write_bytes(b"RIFF" + bytes(range(256)) * 1000)
    hashes = ContentHashes()
    reads: list[Path] = []

    class Noted:
        def __init__(self, read: Path) -> None:
            reads.append(read)

        def __enter__(self) -> None:
            return None

        def __exit__(self, *exc: object) -> None:
            return None

    assert hashes.sha256(path, reading=Noted) == file_sha256(path)
    assert hashes.sha256(path, reading=Noted) == file_sha256(path)
    assert reads == [path], "the same version was read twice"
    path.write_bytes(b"RIFF" + bytes(range(255, -1, -1)) * 1000)
    os.utime(path, ns=(1, 2))
    assert hashes.sha256(path, reading=Noted) == file_sha256(path)
    assert len(reads) == 2


def test_a_hash_asked_for_while_it_is_being_taken_waits_for_that_read(tmp_path: Path) -> None:
    path = tmp_path / "take.wav"
    path.write_bytes(b"x" * 4_000_000)
    hashes = ContentHashes()
    reads: list[int] = []
    inside = threading.Event()
    release = threading.Event()

    class Slow:
        def __init__(self, read: Path) -> None:
            reads.append(1)

        def __enter__(self) -> None:
            inside.set()
            release.wait(5)

        def __exit__(self, *exc: object) -> None:
            return None

    early = threading.Thread(target=hashes.early, args=(path, Slow))
    early.start()
    assert inside.wait(5)
    answers: list[str] = []
    later = threading.Thread(target=lambda: answers.append(hashes.sha256(path, reading=Slow)))
    later.start()
    release.set()
    early.join(5)
    later.join(5)
    assert answers == [file_sha256(path)] and reads == [1]
