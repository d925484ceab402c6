"""``/api/separation/*``: create, get, get-remote, cancel, delete, in MVSEP's wire shapes.

Shapes [REC unless noted]:

- create → ``{"success":true,"data":{"link":<absolute get URL>,"hash":<hash>}}``; URL creates
  answer a short hash and a get-remote link [INF link]. Rejections: see ``admission``. Bad or
  missing token → 401 ``{"success":false,"data":{"message":"Invalid API key"}}`` [INF body].
- get → ``{"success":true,"status":...,"data":{...}}``: ``waiting`` has exactly ``queue_count``
  and ``current_order``; ``done`` has ``algorithm``, ``algorithm_description``, ``size``,
  ``output_format``, ``tags``, ``input_file``, ``files``, ``date`` and ``hash``; ``failed`` and
  the running states carry ``message`` [DOC; texts INF]. Unknown, deleted or expired →
  ``{"success":false,"status":"not_found","data":{"message":"File or File Hash not found"}}``.
- cancel / delete → ``{"success":true,"data":{"message":...}}`` [INF, shaped like QC delete].
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from mvsepd.emulator.accounts import Account
from mvsepd.emulator.admission import REMOTE_TYPES, Order, Rejected
from mvsepd.emulator.context import Context, base_url, site_host
from mvsepd.emulator.jobs import (
    DISTRIBUTING,
    DONE,
    FAILED,
    MERGING,
    PROCESSING,
    WAITING,
    JobSnapshot,
)
from mvsepd.emulator.naming import format_datetime, human_size, input_download_name
from mvsepd.emulator.remote import DOWNLOADING_MESSAGE
from mvsepd.emulator.responses import errors, failure, invalid_token, json_response, params, upload

NOT_FOUND_MESSAGE = "File or File Hash not found"
STATUS_MESSAGES = {
    PROCESSING: "Your file is being processed",
    DISTRIBUTING: "Large file was splitted and distributed to multiple GPUs",
    MERGING: "All parts are processed. Results are being merged",
}
CREATE_PATH = "/api/separation/create"


def create(ctx: Context, request: Request) -> Response:
    fields = params(request)
    account = ctx.accounts.by_token(fields.get("api_token"))
    if account is None:
        return invalid_token(401)
    admission = ctx.admission
    try:
        order = admission.validate(account, fields)
        widget = order.algorithm.widget
        if widget == "no_upload":
            admission.check_capacity(account)
            job = admission.from_text(account, order, fail=ctx.roll_job_failure(CREATE_PATH))
        elif widget == "matchering_upload":
            target = upload(request, "target_audiofile")
            reference = upload(request, "reference_audiofile")
            if target is None:
                raise Rejected("The target audiofile field is required.")
            if reference is None:
                raise Rejected("The reference audiofile field is required.")
            admission.check_size(account, "target_audiofile", target)
            admission.check_size(account, "reference_audiofile", reference)
            admission.check_capacity(account)
            fail = ctx.roll_job_failure(CREATE_PATH)
            job = admission.from_matchering(account, order, target, reference, fail=fail)
        else:
            audio = upload(request, "audiofile")
            url = (fields.get("url") or "").strip()
            if audio is None and url:
                return _create_remote(ctx, request, account, order, fields, url)
            if audio is None:
                raise Rejected("The audiofile field is required when url is not present.")
            admission.check_size(account, "audiofile", audio)
            admission.check_capacity(account)
            job = admission.from_upload(
                account, order, audio, fail=ctx.roll_job_failure(CREATE_PATH)
            )
    except Rejected as rejection:
        ctx.jobs.record_refusal(account.token, rejection.message)
        return errors(rejection.message, rejection.status)
    link = f"{base_url(request)}/api/separation/get?hash={job.hash}"
    return json_response({"success": True, "data": {"link": link, "hash": job.hash}})


def _create_remote(
    ctx: Context,
    request: Request,
    account: Account,
    order: Order,
    fields: dict[str, str],
    url: str,
) -> Response:
    remote_type = (fields.get("remote_type") or "direct").strip().lower()
    if remote_type not in REMOTE_TYPES:
        raise Rejected("The selected remote type is invalid.")
    with ctx.jobs.lock:
        ctx.admission.check_capacity(account)
        fail = ctx.roll_job_failure(CREATE_PATH)
        pending = ctx.remote.create(account, order, url, remote_type, fail=fail)
    link = f"{base_url(request)}/api/separation/get-remote?hash={pending.short_hash}"
    return json_response({"success": True, "data": {"link": link, "hash": pending.short_hash}})


def get(ctx: Context, request: Request) -> Response:
    fields = params(request)
    separation_hash = (fields.get("hash") or "").strip()
    if not separation_hash:
        return failure("The hash field is required.")
    snapshot = ctx.jobs.snapshot(separation_hash)
    if snapshot is None or not snapshot.exists:
        return not_found()
    if (fields.get("mirror") or "0").strip() == "1":
        account = ctx.accounts.by_token(fields.get("api_token"))
        if account is None:
            return invalid_token(401)
        job = ctx.jobs.find(separation_hash)
        cost = ctx.settings.mirror_cost
        if (
            snapshot.status == DONE
            and job is not None
            and not ctx.jobs.charge_mirror(job, account, cost)
        ):
            return failure("Not enough credits to use a mirror")
    return status_response(ctx, request, snapshot)


def get_remote(ctx: Context, request: Request) -> Response:
    short_hash = (params(request).get("hash") or "").strip()
    state = ctx.remote.poll(short_hash) if short_hash else None
    if state is None:
        return not_found()
    if state.phase == "downloading":
        return json_response({"success": False, "data": {"message": DOWNLOADING_MESSAGE}})
    if state.phase == "failed" or state.job_hash is None:
        return _status(FAILED, {"message": state.error or ""})
    snapshot = ctx.jobs.snapshot(state.job_hash)
    if snapshot is None or not snapshot.exists:
        return not_found()
    if snapshot.status == DONE:
        link = f"{base_url(request)}/api/separation/get?hash={snapshot.hash}"
        return _status(DONE, {"hash": snapshot.hash, "link": link})
    return status_response(ctx, request, snapshot)


def cancel(ctx: Context, request: Request) -> Response:
    return _remove(ctx, request, cancel_only=True)


def delete(ctx: Context, request: Request) -> Response:
    return _remove(ctx, request, cancel_only=False)


def _remove(ctx: Context, request: Request, *, cancel_only: bool) -> Response:
    fields = params(request)
    account = ctx.accounts.by_token(fields.get("api_token"))
    if account is None:
        return invalid_token(401)
    job = ctx.jobs.find((fields.get("hash") or "").strip())
    snapshot = None if job is None else ctx.jobs.snapshot(job.hash)
    if job is None or snapshot is None or not snapshot.exists or job.account is not account:
        return failure(NOT_FOUND_MESSAGE)
    if cancel_only:
        if not ctx.jobs.cancel(job):
            return failure("The separation is already being processed and cannot be cancelled")
        return json_response({"success": True, "data": {"message": "successfully cancelled"}})
    if not ctx.jobs.delete(job):
        return failure("The separation is being processed and cannot be deleted now")
    return json_response({"success": True, "data": {"message": "successfully deleted"}})


def not_found() -> Response:
    return json_response(
        {"success": False, "status": "not_found", "data": {"message": NOT_FOUND_MESSAGE}}
    )


def status_response(ctx: Context, request: Request, snapshot: JobSnapshot) -> Response:
    status = snapshot.status
    if status == WAITING:
        data: dict[str, Any] = {
            "queue_count": snapshot.queue_count,
            "current_order": snapshot.current_order,
        }
    elif status == DISTRIBUTING:
        data = {
            "queue_count": snapshot.queue_count,
            "current_order": snapshot.current_order,
            "finished_chunks": snapshot.finished_chunks,
            "all_chunks": snapshot.all_chunks,
            "message": STATUS_MESSAGES[DISTRIBUTING],
        }
    elif status == FAILED:
        data = {"message": snapshot.message or ""}
    elif status == DONE:
        data = _done_data(ctx, request, snapshot)
    else:
        data = {"message": STATUS_MESSAGES.get(status, "")}
    return _status(status, data)


def _status(status: str, data: dict[str, Any]) -> Response:
    return json_response({"success": True, "status": status, "data": data})


def _done_data(ctx: Context, request: Request, snapshot: JobSnapshot) -> dict[str, Any]:
    base = base_url(request)
    job = ctx.jobs.find(snapshot.hash)
    algorithm = job.algorithm if job is not None else None
    files = []
    for target, published in zip(snapshot.files, snapshot.published, strict=True):
        size = target.path.stat().st_size if target.path.exists() else 0
        files.append(
            {
                "type": target.label,
                # Not exported to storage yet: listed, with an empty address [REC ablevsep].
                "url": f"{base}/storage/processed/{target.path.name}" if published else "",
                "size": human_size(size),
                "download": target.download,
            }
        )
    input_file = None
    size = snapshot.input_size
    if snapshot.input_name is not None:
        input_file = {
            "url": f"{base}/storage/temp/{snapshot.input_name}",
            "size": human_size(snapshot.input_size),
            "download": input_download_name(snapshot.hash, site_host(request)),
        }
    elif snapshot.files:
        size = snapshot.files[0].path.stat().st_size if snapshot.files[0].path.exists() else 0
    return {
        "algorithm": snapshot.algorithm_name,
        "algorithm_description": algorithm.description() if algorithm else snapshot.algorithm_name,
        "size": human_size(size),
        "output_format": job.output_format.label if job is not None else "",
        "tags": snapshot.tags or [],
        "input_file": input_file,
        "files": files,
        "date": format_datetime(snapshot.created_at),
        "hash": snapshot.hash,
    }
