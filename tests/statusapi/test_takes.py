"""Which jobs make one take, and when a take is done (the rules behind the page's take list, the
tray's last takes and the one notification per take)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from mvsepd.errors import StoreError
from mvsepd.models import JobRecord, JobState
from mvsepd.statusapi.takes import summarize, take_ids
from tests.statusapi.test_words import JOB

FOLDER = "/music/Exports"


def record(job_id: int, **changes: Any) -> JobRecord:
    return dataclasses.replace(JOB, id=job_id, **changes)


def no_parent(job_id: int) -> JobRecord:
    raise StoreError(f"no job {job_id}")


def test_a_fan_out_is_one_take_named_by_its_first_job() -> None:
    jobs = [record(7, preset_name="vocals"), record(8, preset_name="four")]
    assert take_ids(jobs, no_parent) == {7: 7, 8: 7}


def test_the_same_name_with_other_audio_or_in_another_folder_is_another_take() -> None:
    jobs = [
        record(1),
        record(2, content_sha256="1" * 64),  # exported again, different audio
        record(3, folder_path="/music/Other", source_path="/music/Other/Track.wav"),
    ]
    assert take_ids(jobs, no_parent) == {1: 1, 2: 2, 3: 3}


def test_chain_steps_belong_to_the_take_of_the_file_that_started_the_chain() -> None:
    first = record(4, input_json='{"chain": "clean", "step": "split"}')
    second = record(
        9, parent_job_id=4, content_sha256="2" * 64, source_path="/music/Exports stems/x.wav"
    )
    third = record(12, parent_job_id=9, content_sha256="3" * 64)
    # The first step is long finished and no longer among the recent jobs: looked up.
    assert take_ids([second, third], {4: first}.__getitem__) == {9: 4, 12: 4}
    # When it cannot be found, a step is a take of its own rather than an error.
    assert take_ids([second], no_parent) == {9: 9}


def view(job_id: int, state: JobState, take: int = 1, **fields: Any) -> dict[str, Any]:
    return {
        "id": job_id,
        "take": take,
        "folder": FOLDER,
        "source_path": f"{FOLDER}/Track.wav",
        "relative_path": "Track.wav",
        "preset": fields.pop("preset", "four"),
        "chain": fields.pop("chain", None),
        "step": fields.pop("step", None),
        "state": state.value,
        "output_dir": fields.pop("output_dir", None),
        "created_at": float(job_id),
        "finished_at": 100.0 + job_id if state.terminal else None,
        **fields,
    }


STEPS = {"clean": ("split", "dereverb", "denoise")}


@pytest.mark.parametrize(
    ("states", "phase"),
    [
        ((JobState.DONE, JobState.SUBMITTED), "working"),
        ((JobState.DONE, JobState.PUBLISHING), "working"),
        ((JobState.DONE, JobState.DONE), "done"),
        ((JobState.DONE, JobState.FAILED), "failed"),
        ((JobState.DONE, JobState.UNPUBLISHED), "failed"),
        ((JobState.CANCELLED, JobState.CANCELLED), "cancelled"),
        ((JobState.DONE, JobState.CANCELLED), "done"),
    ],
)
def test_a_fan_out_take_is_done_when_every_job_is(
    states: tuple[JobState, JobState], phase: str
) -> None:
    (take,) = summarize([view(1, states[0], preset="vocals"), view(2, states[1])], STEPS.get)
    assert take["phase"] == phase
    assert take["jobs"] == [1, 2] and take["presets"] == ["four", "vocals"]
    assert (take["finished_at"] is None) == (phase == "working")


def chain_view(job_id: int, step: str, state: JobState) -> dict[str, Any]:
    return view(job_id, state, chain="clean", step=step, preset=f"clean/{step}")


def test_a_chain_take_is_not_done_between_two_steps() -> None:
    split_done = [chain_view(1, "split", JobState.DONE)]
    assert summarize(split_done, STEPS.get)[0]["phase"] == "working"
    two_done = [*split_done, chain_view(2, "dereverb", JobState.DONE)]
    assert summarize(two_done, STEPS.get)[0]["phase"] == "working"
    all_done = [*two_done, chain_view(3, "denoise", JobState.DONE)]
    (take,) = summarize(all_done, STEPS.get)
    assert take["phase"] == "done" and take["chains"] == ["clean"] and take["presets"] == []


def test_a_chain_stopped_by_a_cancelled_step_or_no_longer_configured_ends() -> None:
    cancelled = [
        chain_view(1, "split", JobState.DONE),
        chain_view(2, "dereverb", JobState.CANCELLED),
    ]
    assert summarize(cancelled, STEPS.get)[0]["phase"] == "done"
    gone = [chain_view(1, "split", JobState.DONE)]
    assert summarize(gone, lambda _chain: None)[0]["phase"] == "done"


def test_takes_are_newest_first() -> None:
    takes = summarize(
        [
            view(1, JobState.DONE, take=1),
            view(5, JobState.DONE, take=5),
            view(6, JobState.DONE, take=5),
        ],
        STEPS.get,
    )
    assert [take["id"] for take in takes] == [5, 1]
    assert takes[0]["jobs"] == [5, 6]
