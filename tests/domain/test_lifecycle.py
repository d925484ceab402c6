"""The transition table and the retry/poll schedules."""

from __future__ import annotations

import random

import pytest

from mvsepd import errors
from mvsepd.domain import lifecycle
from mvsepd.domain.lifecycle import Outcome
from mvsepd.models import JobState, RemoteStatus

# Every pair the daemon relies on, and a selection that must never happen.
ALLOWED = [
    (JobState.DISCOVERED, JobState.STABLE),
    (JobState.STABLE, JobState.UPLOADING),
    (JobState.STABLE, JobState.WAITING_SLOT),
    (JobState.WAITING_SLOT, JobState.UPLOADING),
    (JobState.UPLOADING, JobState.SUBMITTED),
    (JobState.UPLOADING, JobState.STABLE),
    (JobState.SUBMITTED, JobState.DOWNLOADING),
    (JobState.DOWNLOADING, JobState.DONE),
    (JobState.DOWNLOADING, JobState.SUBMITTED),
    (JobState.RETRY_WAIT, JobState.SUBMITTED),
    (JobState.HELD, JobState.STABLE),
    (JobState.FAILED, JobState.STABLE),
    (JobState.DONE, JobState.STABLE),
    # MVSEP says done before the stems are published; a set that shrank goes back to waiting.
    (JobState.SUBMITTED, JobState.PUBLISHING),
    (JobState.PUBLISHING, JobState.DOWNLOADING),
    (JobState.PUBLISHING, JobState.UNPUBLISHED),
    (JobState.DOWNLOADING, JobState.PUBLISHING),
    # A retry follows a job MVSEP still has, without an upload.
    (JobState.FAILED, JobState.SUBMITTED),
    (JobState.DONE, JobState.SUBMITTED),
    (JobState.UNPUBLISHED, JobState.SUBMITTED),
    (JobState.UNPUBLISHED, JobState.STABLE),
]
FORBIDDEN = [
    (JobState.DISCOVERED, JobState.UPLOADING),
    (JobState.STABLE, JobState.SUBMITTED),
    (JobState.STABLE, JobState.DONE),
    (JobState.SUBMITTED, JobState.UPLOADING),
    (JobState.SUBMITTED, JobState.DONE),
    (JobState.DONE, JobState.UPLOADING),
    (JobState.FAILED, JobState.DOWNLOADING),
    (JobState.CANCELLED, JobState.DONE),
    (JobState.UNPUBLISHED, JobState.DOWNLOADING),
    (JobState.UNPUBLISHED, JobState.FAILED),
    (JobState.PUBLISHING, JobState.UPLOADING),
]


@pytest.mark.parametrize(("source", "target"), ALLOWED)
def test_allowed_transitions(source: JobState, target: JobState) -> None:
    assert lifecycle.can_transition(source, target)


@pytest.mark.parametrize(("source", "target"), FORBIDDEN)
def test_forbidden_transitions(source: JobState, target: JobState) -> None:
    assert not lifecycle.can_transition(source, target)


def test_every_state_has_a_row_and_no_state_goes_to_itself() -> None:
    assert set(lifecycle.TRANSITIONS) == set(JobState)
    for state, targets in lifecycle.TRANSITIONS.items():
        assert state not in targets


def test_every_live_state_can_fail_or_be_cancelled() -> None:
    for state in JobState:
        if state.terminal:
            continue
        assert lifecycle.can_transition(state, JobState.CANCELLED), state
        assert lifecycle.can_transition(state, JobState.FAILED), state


def test_terminal_states_only_restart_on_request() -> None:
    # ``retry`` moves them: to stable (uploaded again) or submitted (followed at MVSEP).
    for state in (JobState.DONE, JobState.FAILED, JobState.CANCELLED, JobState.UNPUBLISHED):
        assert state.terminal
        assert lifecycle.TRANSITIONS[state] == frozenset({JobState.STABLE, JobState.SUBMITTED})


def test_retry_delay_grows_exponentially_up_to_the_cap() -> None:
    rng = random.Random(1)
    delays = [lifecycle.retry_delay(attempt, rng=rng) for attempt in range(1, 12)]
    assert 4.5 <= delays[0] <= 5.5
    assert 9.0 <= delays[1] <= 11.0
    assert all(delay <= lifecycle.RETRY_CAP_SECONDS * 1.1 for delay in delays)
    assert delays[-1] >= lifecycle.RETRY_CAP_SECONDS * 0.9


def test_retry_delay_honours_retry_after() -> None:
    assert lifecycle.retry_delay(1, retry_after=120, rng=random.Random(0)) >= 120


def test_poll_starts_near_five_seconds_and_backs_off_to_thirty() -> None:
    rng = random.Random(2)
    first = lifecycle.poll_delay(0, RemoteStatus.WAITING, queue_position=5, rng=rng)
    assert 4.5 <= first <= 5.5
    later = lifecycle.poll_delay(20, RemoteStatus.WAITING, queue_position=3, rng=rng)
    assert 27 <= later <= 33
    deep = lifecycle.poll_delay(0, RemoteStatus.WAITING, queue_position=40, rng=rng)
    assert deep >= 27


def test_poll_honours_retry_after() -> None:
    assert lifecycle.poll_delay(0, RemoteStatus.WAITING, retry_after=61) >= 61


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (errors.InvalidTokenError("no", endpoint="/app/user", status=401), Outcome.HOLD_TOKEN),
        (errors.OutcomeUnknownError("lost", endpoint="/separation/create"), Outcome.RECONCILE),
        (
            errors.QueueFullError("full", endpoint="/separation/create", status=400),
            Outcome.WAIT_SLOT,
        ),
        (errors.PremiumRequiredError("premium", status=400), Outcome.FAIL),
        (errors.FileTooLargeError("big", status=400), Outcome.FAIL),
        (errors.ServerError("502", status=502), Outcome.RETRY),
        (errors.RateLimitedError("slow down", retry_after=30), Outcome.RETRY),
        (errors.NetworkError("reset"), Outcome.RETRY),
        (errors.InvalidRequestError("bad", status=400), Outcome.FAIL),
        (errors.UnsafeDownloadError("file://"), Outcome.FAIL),
        (errors.DownloadError("short"), Outcome.RETRY),
        (OSError(28, "No space left on device"), Outcome.RETRY),
    ],
)
def test_judge_error(error: BaseException, outcome: Outcome) -> None:
    verdict = lifecycle.judge_error(error)
    assert verdict.outcome is outcome
    assert verdict.reason


def test_judge_error_keeps_the_servers_words() -> None:
    error = errors.InvalidRequestError(
        "rejected",
        endpoint="/separation/create",
        status=400,
        messages=["Seperation type is not set"],
    )
    assert "Seperation type is not set" in lifecycle.judge_error(error).reason


def test_a_job_being_processed_is_polled_soon_and_a_job_first_in_line_is_not_hurried() -> None:
    rng = random.Random(3)
    merging = lifecycle.poll_delay(20, RemoteStatus.MERGING, rng=rng)
    assert merging <= 11
    # Its stems come next: seen within about 10 s of "done", not 30.
    processing = lifecycle.poll_delay(20, RemoteStatus.PROCESSING, rng=rng)
    assert 9 <= processing <= 11
    first_in_line = lifecycle.poll_delay(20, RemoteStatus.WAITING, queue_position=1, rng=rng)
    assert first_in_line >= 27


def _average_wait_to_see_done(processing: float, expected: tuple[float, float] | None) -> float:
    """Follow the schedule from a job's start and average the wait between MVSEP finishing
    at ``processing`` seconds and the first look after it, over many jittered schedules."""
    rng = random.Random(5)
    waits = []
    for _ in range(200):
        elapsed = lifecycle.POLL_NEAR_DONE_SECONDS
        while elapsed < processing:
            elapsed += lifecycle.processing_poll_delay(elapsed, expected, rng=rng)
        waits.append(elapsed - processing)
    return sum(waits) / len(waits)


def _looks(processing: float, expected: tuple[float, float] | None) -> int:
    rng = random.Random(6)
    elapsed, looks = lifecycle.POLL_NEAR_DONE_SECONDS, 1
    while elapsed < processing:
        elapsed += lifecycle.processing_poll_delay(elapsed, expected, rng=rng)
        looks += 1
    return looks


def test_done_is_seen_within_two_seconds_on_average_when_the_end_can_be_expected() -> None:
    history = [(300.0, 55.0, 62.0), (280.0, 50.0, 60.0)]
    expected = lifecycle.expected_processing(history, 300.0)
    assert expected is not None
    earliest, latest = expected
    assert earliest < 50 * 300 / 280 and latest > 62.0
    assert _average_wait_to_see_done(60.0, expected) <= 1.2
    # Ten minutes of processing of a model seen before: looks 30 s apart, closer as its
    # expected end comes, then every 2 s (and the end seen within about a second); fewer
    # looks than the 60 of a 10 s loop.
    long_history = [(300.0, 590.0, 605.0)]
    long_expected = lifecycle.expected_processing(long_history, 300.0)
    assert _average_wait_to_see_done(600.0, long_expected) <= 1.2
    assert _looks(600.0, long_expected) <= 40


def test_a_model_never_seen_finishing_is_looked_at_by_a_twentieth_of_its_time_so_far() -> None:
    assert lifecycle.expected_processing([], 300.0) is None
    # A minute: every 2 s at first, then every 3 s: done seen within 2 s on average.
    assert _average_wait_to_see_done(60.0, None) <= 2.0
    # Ten minutes: the looks thin out to 30 s apart, as many as a fixed 10 s loop makes.
    assert _looks(600.0, None) <= 80
    assert lifecycle.processing_poll_delay(2000.0, None, rng=random.Random(1)) <= 33


def test_a_job_later_than_every_earlier_one_goes_back_to_the_unknown_schedule() -> None:
    expected = lifecycle.expected_processing([(300.0, 50.0, 55.0)], 300.0)
    assert expected is not None
    late = expected[1] + 200
    rng = random.Random(2)
    assert lifecycle.processing_poll_delay(late, expected, rng=rng) >= 0.9 * late / 20


def test_a_job_of_another_length_scales_the_earlier_times() -> None:
    expected = lifecycle.expected_processing([(100.0, 20.0, 24.0)], 150.0)
    assert expected is not None
    assert expected[0] == pytest.approx(20.0 * 1.5 * 0.97)
    # Nothing to go by: a length of zero, or no earlier job.
    assert lifecycle.expected_processing([(100.0, 20.0, 24.0)], None) is None
