"""``/api/quality_checker/*``: queue, leaderboard, add, entry, delete.

add and delete bodies are recorded [REC PM]; queue is a bare array and leaderboard an object
with ``data``, ``dataset_type``, ``sortables`` and ``sort`` [DOC]; entry answers
``{"success":true,"data":{entry}}`` [INF]. Missing add fields are Laravel validation errors
(400 ``{"success":false,"message":{field:[...]}}``) [INF]; a bad token on add is 401 [DOC].
"""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from mvsepd.emulator.context import Context, base_url, int_param
from mvsepd.emulator.quality import DATASETS
from mvsepd.emulator.responses import failure, invalid_token, json_response, params, upload
from mvsepd.emulator.routes_app import MAX_PAGE


def queue(ctx: Context, request: Request) -> Response:
    fields = params(request)
    start = int_param(fields.get("start"), 0)
    limit = int_param(fields.get("limit"), 10, minimum=1, maximum=MAX_PAGE)
    return json_response(ctx.quality.queue(start, limit))


def leaderboard(ctx: Context, request: Request) -> Response:
    fields = params(request)
    dataset_type = int_param(fields.get("dataset_type"), 0)
    if dataset_type not in DATASETS:
        dataset_type = 0
    start = int_param(fields.get("start"), 0)
    limit = int_param(fields.get("limit"), 10, minimum=1, maximum=MAX_PAGE)
    entries, sortables, sort = ctx.quality.leaderboard(
        dataset_type,
        start,
        limit,
        (fields.get("algo_name_filter") or "").strip(),
        fields.get("sort"),
    )
    return json_response(
        {"data": entries, "dataset_type": dataset_type, "sortables": sortables, "sort": sort}
    )


def add(ctx: Context, request: Request) -> Response:
    fields = params(request)
    if ctx.accounts.by_token(fields.get("api_token")) is None:
        return invalid_token(401)
    archive = upload(request, "zipfile")
    problems: dict[str, list[str]] = {}
    if archive is None:
        problems["zipfile"] = ["The zipfile field is required."]
    for name in ("algo_name", "main_text", "password"):
        if not (fields.get(name) or "").strip():
            problems[name] = [f"The {name.replace('_', ' ')} field is required."]
    dataset_text = (fields.get("dataset_type") or "0").strip()
    if not dataset_text.isdigit() or int(dataset_text) not in DATASETS:
        problems["dataset_type"] = ["The selected dataset type is invalid."]
    ensemble_text = (fields.get("ensemble") or "0").strip()
    if ensemble_text not in ("0", "1"):
        problems["ensemble"] = ["The selected ensemble is invalid."]
    if problems or archive is None:
        return json_response({"success": False, "message": problems}, 400)
    entry = ctx.quality.add(
        zip_path=archive.path,
        algo_name=fields["algo_name"].strip(),
        main_text=fields["main_text"].strip(),
        dataset_type=int(dataset_text),
        ensemble=int(ensemble_text),
        password=fields["password"],
    )
    link = f"{base_url(request)}/api/quality_checker/entry?id={entry.id}"
    return json_response({"success": True, "data": {"id": entry.id, "link": link}})


def entry(ctx: Context, request: Request) -> Response:
    view = ctx.quality.view(int_param(params(request).get("id"), 0))
    if view is None:
        return failure("Entry not found", 404)
    return json_response({"success": True, "data": view})


def delete(ctx: Context, request: Request) -> Response:
    fields = params(request)
    outcome = ctx.quality.delete(int_param(fields.get("id"), 0), fields.get("password") or "")
    if outcome == "not_found":
        return failure("Entry not found", 404)
    if outcome == "wrong_password":
        return failure("Wrong password")
    return json_response({"success": True, "data": {"message": "successfully deleted"}})
