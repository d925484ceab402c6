"""Fetching a finished job's stems into its output folder, with a manifest, then ``done``.

Each stem is downloaded into the job's staging folder (resumable ``.part`` files), then every
stem is moved into place and ``manifest.json`` is written last (``mvsepd.outputs``). A download
that fails part-way resumes where it stopped; results MVSEP has deleted fail the job with the
reason; a result URL that points anywhere but the job's own host is refused.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import functools
import threading
from collections.abc import Callable
from pathlib import Path

import structlog

from mvsepd import errors, outputs
from mvsepd.config.model import FolderConfig
from mvsepd.domain.lifecycle import Outcome
from mvsepd.engine import converting, deliver, placing, stems
from mvsepd.engine.context import RESULT_LIFETIME_SECONDS, Context
from mvsepd.engine.deliver import CONFORMING
from mvsepd.models import (
    DeliveryRecord,
    DeliveryState,
    FailureKind,
    JobRecord,
    JobState,
    RemoteStatus,
    ResultFile,
)
from mvsepd.store import DeliveryKeys

log = structlog.get_logger("mvsepd.engine")

#: Attempts at a result larger than MVSEP announced before the job fails with that reason.
OVERSIZE_ATTEMPTS = 3
_MIN_DOWNLOAD_CAP = 8 * 1024 * 1024


def download(context: Context, job: JobRecord) -> JobRecord:
    """Download and place every result file of a finished job; return the job (done or not)."""
    assert job.separation_hash is not None
    with context.lock:
        status = context.finished_status.pop(job.id, None)
    try:
        if status is None:
            status = context.client.get_separation(job.separation_hash, server=job.server)
        if status.status is RemoteStatus.NOT_FOUND:
            raise errors.NotFoundError("not found", endpoint="/separation/get")
        if status.status is not RemoteStatus.DONE:
            # Should not happen; go back to polling rather than guess.
            return context.store.transition(
                job.id, JobState.SUBMITTED, expected=JobState.DOWNLOADING
            )
        if not status.published:
            # A set that was whole at the last look is not now (a restart in between, another
            # answer): wait for it again rather than place a part of it.
            return context.store.transition(
                job.id,
                JobState.PUBLISHING,
                expected=JobState.DOWNLOADING,
                publish_started_at=context.clock(),
                polls=0,
                next_attempt_at=context.clock(),
            )
        return _place(context, job, status.files, status.algorithm)
    except (errors.LeaseLostError, errors.StoreUnavailableError):
        raise  # studio mode: the job is another host's now, or the database is away
    except Exception as error:  # noqa: BLE001 (every failure is judged and recorded)
        context.clear_live(job.id)
        return _download_failed(context, job, error)


def _place(
    context: Context, job: JobRecord, files: tuple[ResultFile, ...], algorithm: str | None
) -> JobRecord:
    """Fetch what the job's waiting deliveries need, once, and place each of them."""
    deliveries = context.store.deliveries(job.id)
    if not deliveries:
        context.store.add_delivery(
            job.id, DeliveryKeys(job.folder_path, job.source_path, job.preset_name)
        )
        deliveries = context.store.deliveries(job.id)
    # In a studio a delivery in a folder of another host alone waits for that host, which
    # places it once the job is done (late deliveries).
    deliveries = [d for d in deliveries if context.store.reachable(d.folder_path)] or deliveries
    primary = deliveries[0]
    root = context.output_root_of(primary.folder_path)
    downloads = outputs.staging_dir(root, job.id, job.lease_epoch)
    waiting = [d for d in deliveries if d.state is DeliveryState.WAITING]
    placements = [
        placing.place_for(context, job, d, files, primary=d.id == primary.id) for d in waiting
    ]
    needed: set[int] = set()
    for placement in placements:
        needed |= placement.layout.needed | placing.fed_by(placement, files)
    works: dict[int, converting.StemWork] = {}
    conversions = converting.JobConversions(context.conversion_pool())

    def start_works() -> None:
        # Made while the first downloads run: a work checks the source against the job's
        # hash (it reads the whole file) before it converts anything.
        made = _works(context, job, files, downloads, placements, algorithm)
        works.update(made)
        conversions.start(list(made.values()))

    try:
        _fetch(context, job, files, sorted(needed), downloads, placements, conversions, start_works)
        downloaded = context.clock()
        conversions.wait(lambda done, total: context.set_live(job.id, CONFORMING, done, total))
        converted = context.clock()
    except BaseException:
        conversions.abandon()
        raise
    finally:
        context.clear_live(job.id)
    # In a studio, a host that lost the job while downloading (it stalled past its lease and
    # another host took over) places nothing: the other host does.
    context.store.check_lease(job.id)
    for placement in placements:
        deliver.fulfil(
            context,
            job,
            placement,
            files,
            downloads,
            algorithm,
            work=works.get(placement.delivery.id),
        )
    outputs.discard(downloads)
    for earlier in range(1, job.lease_epoch):  # what hosts that lost the job left staged
        outputs.discard(outputs.staging_dir(root, job.id, earlier))
    _after_success(context, job, primary)
    done = context.store.transition(
        job.id,
        JobState.DONE,
        expected=JobState.DOWNLOADING,
        output_dir=context.store.delivery(primary.id).output_dir,
        reason=None,
        timings_json=job.with_timings(
            downloaded=downloaded, converted=converted, placed=context.clock()
        ),
    )
    context.feed.bump()
    return done


def _works(
    context: Context,
    job: JobRecord,
    files: tuple[ResultFile, ...],
    downloads: Path,
    placements: list[placing.Placement],
    algorithm: str | None,
) -> dict[int, converting.StemWork]:
    """The stems each delivery converts, by delivery id (not those whose stems an interrupted
    attempt made ready or placed already)."""
    works: dict[int, converting.StemWork] = {}
    original = None
    for placement in placements:
        plan = placement.plan
        if stems.saved_report(plan) is not None or outputs.already_placed(plan):
            continue
        outputs.prepare(plan)
        if original is None:
            original = (deliver.original_of(context, job),)
        works[placement.delivery.id] = deliver.work_for(
            job, placement, files, downloads, algorithm, original[0]
        )
    return works


def _fetch(
    context: Context,
    job: JobRecord,
    files: tuple[ResultFile, ...],
    needed: list[int],
    downloads: Path,
    placements: list[placing.Placement],
    conversions: converting.JobConversions,
    start_works: Callable[[], None],
) -> None:
    """Download each needed result not fetched yet (resumable ``.part`` files), up to
    ``parallel_downloads`` at once, each handed to ``conversions`` as soon as it is complete;
    the first failure is raised once the others ended (what they fetched stays for the next
    attempt). ``start_works`` runs once the first downloads are under way."""
    outputs.make_staging(downloads)
    names = placements[0].layout.downloads if placements else ()
    wanted = []
    for index in needed:
        if (downloads / names[index]).exists():
            conversions.downloaded(index)  # fetched by an interrupted attempt
        elif not _placed_already(placements, index):
            wanted.append(index)
    if not wanted:
        start_works()
        return
    moved: dict[int, tuple[int, int]] = {}
    lock = threading.Lock()
    total = len(needed)

    def progress(index: int, done: int, size: int) -> None:
        conversions.check()  # a stem that cannot be placed: the take is not fetched on
        with lock:
            moved[index] = (done, size)
            sent = sum(pair[0] for pair in moved.values())
            whole = sum(pair[1] for pair in moved.values())
            finished = total - len(wanted) + sum(1 for d, z in moved.values() if z and d >= z)
        context.set_live(job.id, f"downloading {min(finished + 1, total)}/{total}", sent, whole)

    def fetch_one(index: int) -> None:
        context.client.download_result(
            files[index],
            downloads / names[index],
            server=job.server,
            max_bytes=_download_cap(files[index], job),
            progress=functools.partial(progress, index),
        )
        conversions.downloaded(index)
        context.feed.bump()

    try:
        at_once = max(1, min(context.settings.parallel_downloads, len(wanted)))
        with concurrent.futures.ThreadPoolExecutor(
            max_workers=at_once, thread_name_prefix=f"mvsepd-download-{job.id}"
        ) as pool:
            futures = [pool.submit(fetch_one, index) for index in wanted]
            start_works()
        errors_seen = [future.exception() for future in futures]
        first = next((error for error in errors_seen if error is not None), None)
        if first is not None:
            raise first
    finally:
        context.clear_live(job.id)


def _placed_already(placements: list[placing.Placement], index: int) -> bool:
    """True when every delivery that needs result ``index`` has its stems prepared or placed
    (an interrupted attempt got that far; the download is not needed again)."""
    for placement in placements:
        if index not in placement.layout.needed:
            continue
        if stems.saved_report(placement.plan) is None and not outputs.already_placed(
            placement.plan
        ):
            return False
    return True


def _after_success(context: Context, job: JobRecord, primary: DeliveryRecord) -> None:
    """``after_success: move``, once no job of this folder still needs the original."""
    folder = context.folder_for(primary.folder_path)
    if folder is None or folder.config.after_success != "move" or job.parent_job_id:
        return
    others = context.store.deliveries(
        folder_path=primary.folder_path, source_path=primary.source_path
    )
    if any(d.state is DeliveryState.WAITING and d.job_id != job.id for d in others):
        return  # another preset (fan-out) or a chain step still works on it
    _move_original(folder.config, Path(primary.source_path), job)


def _move_original(folder: FolderConfig, source: Path, job: JobRecord) -> None:
    if folder.move_to is None:
        return
    try:
        moved = outputs.move_original(source, folder.move_to)
        log.info("original_moved", job=job.id, file=Path(job.source_path).name, to=str(moved))
    except errors.OutputError as error:
        # The stems are in place; a failed tidy-up must not fail the job.
        log.warning("original_not_moved", job=job.id, error=str(error))


def _subdir(source: Path, folder: Path) -> str:
    try:
        relative = source.parent.relative_to(folder)
    except ValueError:
        return ""
    return relative.as_posix() if str(relative) != "." else ""


def _download_cap(result: ResultFile, job: JobRecord) -> int:
    approximate = result.approximate_size
    if approximate is not None:
        # MVSEP rounds sizes ("5.84 MB"); allow for that, refuse anything far larger.
        return max(_MIN_DOWNLOAD_CAP, int(approximate * 1.5) + 1024 * 1024)
    # No size given: a stem can be larger than an mp3 source, but not without bound.
    return max(_MIN_DOWNLOAD_CAP, 32 * (job.source_size or 0))


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.datetime.fromtimestamp(moment, tz=datetime.timezone.utc).isoformat()


def _download_failed(context: Context, job: JobRecord, error: BaseException) -> JobRecord:
    now = context.clock()
    if isinstance(error, errors.NotFoundError):
        created = job.upload_started_at or job.created_at
        expired = now - created >= RESULT_LIFETIME_SECONDS
        reason = (
            "MVSEP deleted the results before they were downloaded (kept about 72 hours)"
            if expired
            else "MVSEP no longer has the results"
        )
        return context.fail(
            job, f"{reason}; `mvsepd retry` submits the file again", kind=FailureKind.SERVICE
        )
    verdict = context.judge(error, job.id, job.source_name)
    if verdict.outcome is Outcome.FAIL:
        # MVSEP's results (a stem that is no audio, an address we refuse): another try.
        return context.fail(job, verdict.reason, kind=FailureKind.SERVICE)
    if isinstance(error, errors.OversizeDownloadError):
        # A file far larger than announced is not a passing fault: stop after a few tries.
        tries = job.oversize_downloads + 1
        if tries >= OVERSIZE_ATTEMPTS:
            return context.fail(
                job,
                f"downloading stems failed ({verdict.reason}); gave up after {tries} "
                "attempts. `mvsepd retry` tries again",
                kind=FailureKind.SERVICE,
            )
        job = context.store.update_progress(job.id, oversize_downloads=tries)
    return context.retry_later(
        job,
        resume=JobState.DOWNLOADING,
        words=f"downloading stems failed ({verdict.reason})",
        event="download_retry",
    )
