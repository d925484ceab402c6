"""How a job stands in words: the same sentences in the CLI, the tray and the JSON."""

from __future__ import annotations

import dataclasses

import pytest

from mvsepd.models import JobRecord, JobState
from mvsepd.statusapi.words import Transfer, ordinal, phase, summary

JOB = JobRecord(
    id=1,
    content_sha256="0" * 64,
    preset_fingerprint="f",
    preset_name="four",
    folder_path="/music/Exports",
    source_path="/music/Exports/Track.wav",
    source_size=1000,
    state=JobState.SUBMITTED,
    resume_state=None,
    reason=None,
    attempts=0,
    next_attempt_at=None,
    sep_type=20,
    options={},
    output_format=1,
    server="https://mvsep.com",
    separation_hash="h",
    upload_started_at=1.0,
    remote_status="waiting",
    queue_count=12,
    current_order=3,
    finished_chunks=None,
    all_chunks=None,
    progress_done=None,
    progress_total=None,
    duration_seconds=60.0,
    credits_estimate=1,
    output_dir=None,
    created_at=0.0,
    updated_at=0.0,
    finished_at=None,
)


def job(**changes: object) -> JobRecord:
    return dataclasses.replace(JOB, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (1, "1st"),
        (2, "2nd"),
        (3, "3rd"),
        (4, "4th"),
        (11, "11th"),
        (12, "12th"),
        (13, "13th"),
        (21, "21st"),
        (22, "22nd"),
        (101, "101st"),
        (111, "111th"),
        (112, "112th"),
    ],
)
def test_ordinals(number: int, expected: str) -> None:
    assert ordinal(number) == expected


def test_waiting_in_the_queue() -> None:
    assert summary(job()) == "waiting, 3rd of 12"
    assert summary(job(current_order=None)) == "waiting at MVSEP"
    assert summary(job(queue_count=None)) == "waiting, 3rd"
    assert phase(job()) == "waiting"


def test_processing_with_and_without_chunks() -> None:
    chunked = job(remote_status="distributing", finished_chunks=4, all_chunks=10)
    assert summary(chunked) == "processing 4/10 chunks"
    assert summary(job(remote_status="processing")) == "processing"
    assert summary(job(remote_status="merging")) == "merging chunks"
    assert phase(chunked) == "processing"


def test_transfers_in_percent_of_the_whole() -> None:
    uploading = job(state=JobState.UPLOADING)
    assert summary(uploading, Transfer("uploading", 42, 100)) == "uploading 42 %"
    assert summary(uploading) == "uploading"
    downloading = job(state=JobState.DOWNLOADING)
    # The second of four files, half done: 37.5 % of the whole download.
    assert Transfer("downloading 2/4", 50, 100).percent() == 37.5
    assert summary(downloading, Transfer("downloading 2/4", 50, 100)) == "downloading 38 %"
    assert Transfer("uploading", 5, 0).percent() is None


def test_local_states_and_endings() -> None:
    assert summary(job(state=JobState.STABLE)) == "ready to submit"
    assert summary(job(state=JobState.STABLE), paused=True) == "ready; submissions are paused"
    assert summary(job(state=JobState.WAITING_SLOT)) == "waiting for a free slot"
    retry = job(state=JobState.RETRY_WAIT, next_attempt_at=130.0, reason="MVSEP answered 503")
    assert summary(retry, now=100.0) == "trying again in 30 s: MVSEP answered 503"
    assert summary(job(state=JobState.FAILED, reason="bad audio")) == "failed: bad audio"
    assert summary(job(state=JobState.DONE)) == "done"
    cancelled = job(state=JobState.CANCELLED, reason="cancelled before it reached MVSEP")
    assert summary(cancelled) == "cancelled before it reached MVSEP"
    assert summary(job(state=JobState.CANCELLED, reason="MVSEP had already finished it")) == (
        "cancelled: MVSEP had already finished it"
    )
    assert [phase(job(state=state)) for state in (JobState.DISCOVERED, JobState.HELD,
            JobState.DOWNLOADING, JobState.DONE, JobState.FAILED, JobState.CANCELLED)] == [
        "checking", "queued", "downloading", "done", "failed", "cancelled"]  # fmt: skip


def test_what_a_retry_costs_is_said_before_it_is_pressed() -> None:
    from mvsepd.models import FailureKind
    from mvsepd.statusapi.words import retry_cost

    failed = dataclasses.replace(
        JOB, state=JobState.FAILED, failure_kind=FailureKind.SERVICE, credits_estimate=2
    )
    assert retry_cost(failed) == (
        "no credits if MVSEP still has it; else uploaded again for about 2 credits"
    )
    never_sent = dataclasses.replace(failed, separation_hash=None, credits_estimate=1)
    assert retry_cost(never_sent) == "uploaded again for about 1 credit"
    unpublished = dataclasses.replace(JOB, state=JobState.UNPUBLISHED)
    assert retry_cost(unpublished) == "no upload, no credits"
    bad_file = dataclasses.replace(failed, failure_kind=FailureKind.FILE)
    assert retry_cost(bad_file) is None, "no retry offered: fix the file"
    assert retry_cost(JOB) is None
