"""How a job stands, in one coarse phase and in a few words, the same for every client.

The status API puts both into each job of its JSON so that ``mvsepd status``, the tray and
scripts say the same thing ("waiting, 3rd of 12", "processing 4/10 chunks", "downloading
42 %"). Pure functions of a ``JobRecord`` and its live transfer progress; likewise a file
still arriving or reported incomplete ("incomplete: Take 3.wav (12 min, the file is empty)").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mvsepd.models import FailureKind, JobRecord, JobState

#: A job MVSEP finished whose stems it is still exporting (``publishing``), in words.
PUBLISHING_WORDS = "MVSEP is publishing the stems"

#: Coarse phases a client can switch on (the icon, colours); ``state`` has the full detail.
PHASES = (
    "checking",  # discovered: the audio is being probed
    "queued",  # stable, waiting_slot, retry_wait, held: waiting inside mvsepd
    "uploading",
    "waiting",  # at MVSEP, in its queue
    "processing",  # at MVSEP, being separated (or merged)
    "publishing",  # MVSEP says done; its stems are being exported to its storage
    "downloading",
    "done",
    "failed",
    "cancelled",
    "unpublished",  # MVSEP did not publish the stems in time: `mvsepd retry` asks again
)

#: The phases of a job still at work (inside mvsepd or at MVSEP).
WORKING_PHASES = PHASES[:7]

_DOWNLOAD_PHASE = re.compile(r"downloading (\d+)/(\d+)")


@dataclass(frozen=True)
class Transfer:
    """Bytes moved by an upload or download in flight (a copy of the engine's live progress)."""

    phase: str
    done: int
    total: int

    def percent(self) -> float | None:
        """Percent of the whole transfer (every result file of a download), or None if unknown."""
        if self.total <= 0:
            return None
        fraction = min(1.0, max(0.0, self.done / self.total))
        match = _DOWNLOAD_PHASE.fullmatch(self.phase)
        if match is not None:
            index, count = int(match.group(1)), int(match.group(2))
            if count > 0 and 1 <= index <= count:
                fraction = (index - 1 + fraction) / count
        return round(100.0 * fraction, 1)


def duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``2 h 5 min``, ``3 d 4 h``."""
    whole = int(max(0, seconds))
    if whole < 60:
        return f"{whole} s"
    minutes, _ = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def arrival(name: str, waiting_seconds: float, *, incomplete: bool, reason: str) -> str:
    """A file being waited for: ``arriving: Take 3.wav (12 s)``, or once reported
    ``incomplete: cut.wav (10 min, the WAV header says 88244 bytes, the file has 20000)``."""
    waited = duration(waiting_seconds)
    if incomplete:
        return f"incomplete: {name} ({waited}, {reason})" if reason else f"incomplete: {name}"
    return f"arriving: {name} ({waited})"


def ordinal(number: int) -> str:
    """Return ``1st``, ``2nd``, ``3rd``, ``4th``, ``11th``, ``21st``, ..."""
    if 10 <= number % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def phase(job: JobRecord) -> str:
    """Return the job's coarse phase (one of ``PHASES``)."""
    state = job.state
    if state is JobState.DISCOVERED:
        return "checking"
    if state in (JobState.STABLE, JobState.WAITING_SLOT, JobState.RETRY_WAIT, JobState.HELD):
        return "queued"
    if state is JobState.UPLOADING:
        return "uploading"
    if state is JobState.SUBMITTED:
        return "waiting" if job.remote_status in (None, "waiting") else "processing"
    if state is JobState.PUBLISHING:
        return "publishing"
    if state is JobState.UNPUBLISHED:
        return "unpublished"
    if state is JobState.DOWNLOADING:
        return "downloading"
    if state is JobState.DONE:
        return "done"
    if state is JobState.FAILED:
        return "failed"
    return "cancelled"


def summary(
    job: JobRecord,
    transfer: Transfer | None = None,
    *,
    paused: bool = False,
    now: float | None = None,
) -> str:
    """Return what the job is doing, in a few words, for menus, tables and notifications."""
    state = job.state
    if state is JobState.SUBMITTED:
        return _at_mvsep(job)
    if state is JobState.PUBLISHING:
        return _publishing(job)
    if state is JobState.DOWNLOADING and transfer is not None and transfer.phase == "conforming":
        percent = transfer.percent()
        words = "fitting stems to the source"
        return f"{words} {percent:.0f} %" if percent is not None else words
    if state is JobState.UPLOADING and transfer is not None and transfer.phase == "compressing":
        percent = transfer.percent()
        words = "compressing for upload (lossless FLAC)"
        return f"{words} {percent:.0f} %" if percent is not None else words
    if state in (JobState.UPLOADING, JobState.DOWNLOADING):
        verb = "uploading" if state is JobState.UPLOADING else "downloading"
        percent = transfer.percent() if transfer is not None else None
        return f"{verb} {percent:.0f} %" if percent is not None else verb
    if state is JobState.DISCOVERED:
        return "checking the audio"
    if state in (JobState.STABLE, JobState.WAITING_SLOT):
        if paused:
            return "ready; submissions are paused"
        return "ready to submit" if state is JobState.STABLE else "waiting for a free slot"
    if state is JobState.RETRY_WAIT:
        wait = ""
        if now is not None and job.next_attempt_at is not None:
            wait = f" in {max(0, round(job.next_attempt_at - now))} s"
        return _with_reason(f"trying again{wait}", job.reason)
    if state is JobState.HELD:
        return _with_reason("held", job.reason)
    return _ended(job)


def _ended(job: JobRecord) -> str:
    """A job the daemon no longer works on by itself."""
    state = job.state
    if state is JobState.FAILED:
        needs = NEEDS.get(job.failure_kind) if job.failure_kind else None
        return _with_reason(f"failed ({needs})" if needs else "failed", job.reason)
    if state is JobState.CANCELLED:
        if job.reason and job.reason.startswith("cancelled"):
            return job.reason  # "cancelled at MVSEP before it started; ..." says it all
        return _with_reason("cancelled", job.reason)
    if state is JobState.UNPUBLISHED:
        return job.reason or "MVSEP has not published the stems; `mvsepd retry` asks again"
    return "done"


def _at_mvsep(job: JobRecord) -> str:
    remote = job.remote_status or "waiting"
    if remote == "waiting":
        if job.current_order:
            of_count = f" of {job.queue_count}" if job.queue_count else ""
            return f"waiting, {ordinal(job.current_order)}{of_count}"
        return "waiting at MVSEP"
    if remote == "merging":
        return "merging chunks"
    if job.all_chunks and job.all_chunks > 1:
        return f"processing {job.finished_chunks or 0}/{job.all_chunks} chunks"
    return "processing"


#: What a failed job needs, in the words status shows (another try goes without saying).
NEEDS = {FailureKind.FILE: "fix the file", FailureKind.SETTINGS: "fix the settings"}


def retry_offered(job: JobRecord) -> bool:
    """True when trying again can help, so status, the tray and the page offer it: a job that
    failed on MVSEP or the way there (not one whose file or settings need fixing first), or one
    whose stems MVSEP did not publish in time."""
    if job.state is JobState.UNPUBLISHED:
        return True
    return job.state is JobState.FAILED and job.failure_kind in (None, FailureKind.SERVICE)


def retry_cost(job: JobRecord) -> str | None:
    """What a retry of ``job`` will cost, in words (None when no retry is offered): nothing
    when MVSEP still has the job (``mvsepd retry`` asks it first), else the upload's credits
    again."""
    if not retry_offered(job):
        return None
    if job.state is JobState.UNPUBLISHED:
        return "no upload, no credits"
    estimate = job.credits_reserved or job.credits_estimate
    again = (
        f"about {estimate} credit{'s' if estimate != 1 else ''}"
        if estimate is not None
        else "credits"
    )
    if job.separation_hash:
        return f"no credits if MVSEP still has it; else uploaded again for {again}"
    return f"uploaded again for {again}"


def advice(job: JobRecord) -> str | None:
    """What to do about a failed (or unpublished) job, in words; None for other jobs."""
    if job.state is JobState.UNPUBLISHED:
        return f"`mvsepd retry {job.id}` asks MVSEP again (no upload, no credits)"
    if job.state is not JobState.FAILED:
        return None
    if job.failure_kind is FailureKind.FILE:
        return (
            "fix the file: export or copy it into the folder again (new audio is a new job); "
            "retrying the same audio fails the same way"
        )
    if job.failure_kind is FailureKind.SETTINGS:
        return (
            "fix the settings (the folder's preset, or the account at mvsep.com), then "
            f"`mvsepd retry {job.id}`"
        )
    return f"`mvsepd retry {job.id}` tries again"


def _publishing(job: JobRecord) -> str:
    listed, published = job.progress_total, job.progress_done
    if listed:
        return f"{PUBLISHING_WORDS} ({published or 0} of {listed} ready)"
    return PUBLISHING_WORDS


def _with_reason(words: str, reason: str | None) -> str:
    return f"{words}: {reason}" if reason else words
