"""The job state machine: allowed transitions, retry and poll schedules, error outcomes.

Pure rules (domain layer): no I/O, no clock of its own. ``mvsepd.store.JobStore.transition`` is
the one writer of job states and refuses anything ``can_transition`` does not allow.

    discovered -> stable -> uploading -> submitted -> [publishing ->] downloading -> done
                     \\-> waiting_slot -/     \\-> retry_wait -> (back where it was)
    publishing -> unpublished (MVSEP did not publish the stems in time; not a failure)
    any live state -> failed | held | cancelled
    done/failed/cancelled/unpublished -> submitted on ``retry`` while MVSEP has the job (no
    upload), -> stable when it does not (uploaded again)
"""

from __future__ import annotations

import enum
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mvsepd import errors
from mvsepd.models import FailureKind, JobState, RemoteStatus, SeparationStatus

_S = JobState

#: Every allowed change of state. Staying in the same state is not a transition (progress
#: updates such as queue position are written without one).
TRANSITIONS: Mapping[JobState, frozenset[JobState]] = {
    _S.DISCOVERED: frozenset({_S.STABLE, _S.FAILED, _S.CANCELLED}),
    _S.STABLE: frozenset({_S.WAITING_SLOT, _S.UPLOADING, _S.HELD, _S.FAILED, _S.CANCELLED}),
    _S.WAITING_SLOT: frozenset({_S.STABLE, _S.UPLOADING, _S.HELD, _S.FAILED, _S.CANCELLED}),
    # uploading -> submitted also covers a lost answer found again in the separation history.
    _S.UPLOADING: frozenset(
        {_S.SUBMITTED, _S.STABLE, _S.RETRY_WAIT, _S.HELD, _S.FAILED, _S.CANCELLED}
    ),
    _S.SUBMITTED: frozenset(
        {_S.PUBLISHING, _S.DOWNLOADING, _S.RETRY_WAIT, _S.FAILED, _S.CANCELLED}
    ),
    # publishing -> unpublished: MVSEP did not publish the stems in time (not a failure).
    _S.PUBLISHING: frozenset(
        {_S.DOWNLOADING, _S.UNPUBLISHED, _S.RETRY_WAIT, _S.FAILED, _S.CANCELLED}
    ),
    # downloading -> publishing: a set that was complete is not any more (never placed part).
    _S.DOWNLOADING: frozenset(
        {_S.DONE, _S.SUBMITTED, _S.PUBLISHING, _S.RETRY_WAIT, _S.FAILED, _S.CANCELLED}
    ),
    _S.RETRY_WAIT: frozenset(
        {_S.STABLE, _S.UPLOADING, _S.SUBMITTED, _S.DOWNLOADING, _S.HELD, _S.FAILED, _S.CANCELLED}
    ),
    _S.HELD: frozenset({_S.STABLE, _S.FAILED, _S.CANCELLED}),
    # Terminal states change only when the user asks (``mvsepd retry``): ``stable`` uploads
    # again, ``submitted`` follows the job MVSEP still has (no upload, no credits).
    _S.DONE: frozenset({_S.STABLE, _S.SUBMITTED}),
    _S.FAILED: frozenset({_S.STABLE, _S.SUBMITTED}),
    _S.CANCELLED: frozenset({_S.STABLE, _S.SUBMITTED}),
    _S.UNPUBLISHED: frozenset({_S.STABLE, _S.SUBMITTED}),
}

#: States a job may wait in ``retry_wait`` to return to.
RESUMABLE_STATES = frozenset({_S.STABLE, _S.UPLOADING, _S.SUBMITTED, _S.DOWNLOADING})


def can_transition(from_state: JobState, to_state: JobState) -> bool:
    """Return True if the table allows ``from_state`` -> ``to_state``."""
    return to_state in TRANSITIONS[from_state]


# --- schedules -------------------------------------------------------------------------------

#: First retry after a transient failure, in seconds, and the longest wait between retries.
RETRY_BASE_SECONDS = 5.0
RETRY_CAP_SECONDS = 600.0
#: Queue-full answers (another client holds the free slot) back off from here.
QUEUE_FULL_BASE_SECONDS = 30.0
QUEUE_FULL_CAP_SECONDS = 300.0
#: Polling starts near 5 s and backs off to 30 s while the job waits in a long queue.
POLL_FIRST_SECONDS = 5.0
POLL_MAX_SECONDS = 30.0
#: Jitter is a fraction of the delay, both ways, so that many jobs do not poll in lock-step.
JITTER_FRACTION = 0.1


def _jittered(delay: float, rng: random.Random | None) -> float:
    generator = rng or random
    return delay * (1.0 + generator.uniform(-JITTER_FRACTION, JITTER_FRACTION))


def retry_delay(
    attempt: int,
    *,
    retry_after: float | None = None,
    base: float = RETRY_BASE_SECONDS,
    cap: float = RETRY_CAP_SECONDS,
    rng: random.Random | None = None,
) -> float:
    """Given the number of failed attempts so far (1 for the first failure), return seconds to wait.

    Exponential (base, 2x base, 4x base ...) up to ``cap``, with jitter; never shorter than the
    server's ``Retry-After``.
    """
    exponent = max(0, min(attempt - 1, 30))
    delay = _jittered(min(cap, base * (2.0**exponent)), rng)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def poll_delay(
    polls_so_far: int,
    status: RemoteStatus,
    *,
    queue_position: int | None = None,
    retry_after: float | None = None,
    rng: random.Random | None = None,
    first: float = POLL_FIRST_SECONDS,
    maximum: float = POLL_MAX_SECONDS,
) -> float:
    """Return seconds until the next status poll of a submitted job.

    Starts at ``first`` (5 s) and grows by half each poll up to ``maximum`` (30 s); a job
    deep in the queue (tenth place or worse) is polled at the maximum straight away, and a job
    that is being processed or merged (its stems come next) at no more than twice the first
    interval.
    """
    delay = min(maximum, first * (1.5 ** max(0, polls_so_far)))
    if status is RemoteStatus.WAITING and queue_position is not None and queue_position >= 10:
        delay = maximum
    if status in (RemoteStatus.PROCESSING, RemoteStatus.MERGING):
        # A GPU has the job: "done" is the next answer that changes anything, and every
        # second it goes unseen the stems wait (polled at 30 s, on average 15 s each job).
        delay = min(delay, first * 2)
    delay = _jittered(delay, rng)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


#: While a GPU has a job: the spacing of looks where it may finish any moment (half of it is
#: the expected wait between MVSEP finishing and mvsepd seeing it).
POLL_NEAR_DONE_SECONDS = 2.0
#: A job of a model not seen finishing before: looked at every this fraction of the time it
#: has been processed so far (the expected wait to see it done is half of it).
UNKNOWN_PROCESSING_FRACTION = 1 / 20
#: Earlier processing times vary (load, the model's own overhead): the near-done looks begin a
#: little before the quickest of them and go on well after the slowest.
_EARLIER_MARGIN = 0.97
_LATER_MARGIN = 1.1
_LATER_SECONDS = 10.0


def expected_processing(
    history: Sequence[tuple[float, float, float]], audio_seconds: float | None
) -> tuple[float, float] | None:
    """How long MVSEP will process a job of ``audio_seconds``, at the earliest and at the
    latest, from earlier jobs of the same model (``(audio_seconds, shortest, longest)`` each,
    see ``store.timing``): each scaled to this length, those of a similar length (half to
    twice) preferred. None when there is nothing to go by."""
    if not history or not audio_seconds or audio_seconds <= 0:
        return None
    usable = [row for row in history if row[0] > 0]
    similar = [row for row in usable if 0.5 <= audio_seconds / row[0] <= 2.0] or usable
    if not similar:
        return None
    earliest = min(shortest * audio_seconds / length for length, shortest, _ in similar)
    latest = max(longest * audio_seconds / length for length, _, longest in similar)
    return earliest * _EARLIER_MARGIN, latest * _LATER_MARGIN + _LATER_SECONDS


def processing_poll_delay(
    elapsed: float,
    expected: tuple[float, float] | None,
    *,
    rng: random.Random | None = None,
    near: float = POLL_NEAR_DONE_SECONDS,
    maximum: float = POLL_MAX_SECONDS,
) -> float:
    """Seconds until the next look at a job a GPU is processing, ``elapsed`` seconds after it
    may have started at the earliest, expected to take ``expected`` (earliest, latest; None:
    unknown).

    Expected: looks half the time to the earliest expected end apart (at most ``maximum``, so
    a job that ends sooner than the earlier ones is seen about as late as its head start),
    then every ``near`` seconds until the latest; a job later than that, and one of a model
    never seen finishing, is looked at every ``UNKNOWN_PROCESSING_FRACTION`` of its time so far
    (at least ``near``, at most ``maximum`` apart). Seeing "done" takes about half the spacing
    in force.
    """
    if expected is not None:
        earliest, latest = expected
        ahead = earliest - elapsed
        if ahead > near:
            return _jittered(min(maximum, max(near, ahead / 2)), rng)
        if elapsed <= latest:
            return _jittered(near, rng)
    return _jittered(max(near, min(maximum, elapsed * UNKNOWN_PROCESSING_FRACTION)), rng)


def publish_poll_delay(
    polls_so_far: int,
    *,
    rng: random.Random | None = None,
    first: float = POLL_FIRST_SECONDS,
    maximum: float = POLL_MAX_SECONDS,
) -> float:
    """Return seconds until the next look at a job MVSEP finished but has not published.

    Publishing is usually over within seconds and can take minutes under load: start at half
    the first poll interval and grow by half each look up to ``maximum``.
    """
    delay = min(maximum, (first / 2) * (1.5 ** max(0, polls_so_far)))
    return _jittered(delay, rng)


def publication_complete(
    status: SeparationStatus, *, expected: int | None, seen_before: int | None
) -> bool:
    """True when a ``done`` answer's stems may be placed: every result it lists has an
    address, and the list is whole: as many as the algorithm makes (``expected``, from the
    catalog, when known), or as many as the previous look found (``seen_before``).

    MVSEP says ``done`` before every stem is exported to its storage and fills the list in as
    it goes; a list taken at its first look could be a part of the set.
    """
    if not status.published:
        return False
    count = len(status.files)
    return count in (expected, seen_before)


# --- what an error means for a job --------------------------------------------------------------


class Outcome(str, enum.Enum):
    """What the engine does with a job after an error."""

    RETRY = "retry"  # wait (retry_wait) and try the same step again
    FAIL = "fail"  # permanent: failed, with the reason
    HOLD_TOKEN = "hold_token"  # noqa: S105 (a state name) - the token is invalid: hold all
    WAIT_SLOT = "wait_slot"  # the account's slot is taken elsewhere: wait for it
    RECONCILE = "reconcile"  # the create may have happened: look before uploading again


@dataclass(frozen=True)
class ErrorVerdict:
    """The outcome for an error and the words shown to the user."""

    outcome: Outcome
    reason: str
    #: What a job failed by this error needs from the user.
    kind: FailureKind = FailureKind.SERVICE
    #: Not an error of ours (``MvsepdError``) nor of the system (``OSError``): a defect of
    #: mvsepd itself, whose traceback belongs in the log.
    internal: bool = False


def judge_error(error: BaseException) -> ErrorVerdict:
    """Given an error raised while working on a job, return what to do and why, in words."""
    if isinstance(error, errors.InvalidTokenError):
        return ErrorVerdict(Outcome.HOLD_TOKEN, "MVSEP refused the API token")
    if isinstance(error, errors.OutcomeUnknownError):
        return ErrorVerdict(Outcome.RECONCILE, "the upload's answer was lost")
    if isinstance(error, errors.QueueFullError):
        return ErrorVerdict(Outcome.WAIT_SLOT, "another job of this account is still unfinished")
    if isinstance(error, errors.PremiumRequiredError):
        return ErrorVerdict(
            Outcome.FAIL, "this model needs a premium MVSEP account", FailureKind.SETTINGS
        )
    if isinstance(error, errors.FileTooLargeError):
        return ErrorVerdict(
            Outcome.FAIL, "the file is larger than the MVSEP plan allows", FailureKind.FILE
        )
    if isinstance(error, errors.MvsepdError) and error.transient:
        return ErrorVerdict(Outcome.RETRY, _describe(error))
    if isinstance(error, errors.InvalidRequestError | errors.ConfigError):
        # MVSEP refused the request's fields (an option, a model): the preset needs fixing.
        return ErrorVerdict(Outcome.FAIL, _describe(error), FailureKind.SETTINGS)
    if isinstance(error, errors.InputError):
        return ErrorVerdict(Outcome.FAIL, _describe(error), FailureKind.FILE)
    if isinstance(error, errors.MvsepdError):
        return ErrorVerdict(Outcome.FAIL, _describe(error))
    if isinstance(error, OSError):
        # Local file system trouble (disk full, permissions) usually clears once someone acts.
        return ErrorVerdict(Outcome.RETRY, f"file system: {error.strerror or error}")
    return ErrorVerdict(
        Outcome.FAIL, f"internal error: {type(error).__name__}: {error}", internal=True
    )


def _describe(error: errors.MvsepdError) -> str:
    if isinstance(error, errors.MvsepError):
        words = "; ".join(error.messages) if error.messages else error.detail
        return f"{error.endpoint or 'MVSEP'}: {words}" if error.endpoint else words
    return str(error)
