"""``/api/app/*``: catalog, news, queue, demo, login, register, user, history and profile toggles.

Shapes [REC unless noted]: algorithms, news and demo are bare arrays; login is
``{"success":true,"data":{profile}}`` (the token is included, as the docs say; the one recording
shows ``null``); Laravel validation failures are 400 ``{"success":false,"message":{field:[...]}}``;
register answers ``{"success":true,"message":"Account verification email sent to <email>"}``;
toggles answer ``{"success":true,"message":"successfully enabled|disabled"}``; history is
``{"success":true,"data":[...]}`` newest first with ``time_left`` = 72 − whole hours since
creation. Queue: ``{"queue":{"in_process","premium","registered","unregistered"}}`` plus
``"plan":{"plan","queue"}`` with a token [3P DOC-zh2 field table]. Invalid token on the
token-only endpoints: 400 ``{"success":false,"data":{"message":"Invalid API key"}}`` [DOC status,
INF body].
"""

from __future__ import annotations

import re
from typing import Any

from werkzeug.wrappers import Request, Response

from mvsepd.emulator import content
from mvsepd.emulator.accounts import Account
from mvsepd.emulator.catalog import parse_scopes
from mvsepd.emulator.context import Context, base_url, int_param
from mvsepd.emulator.jobs import DONE, UNFINISHED
from mvsepd.emulator.naming import format_datetime, format_minute
from mvsepd.emulator.responses import invalid_token, json_response, params

MAX_PAGE = 20
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def algorithms(ctx: Context, request: Request) -> Response:
    scopes = parse_scopes(request.args.get("scopes"))
    return json_response(ctx.catalog.listing(scopes))


def news(ctx: Context, request: Request) -> Response:
    fields = params(request)
    lang = (fields.get("lang") or "en").strip().lower() or "en"
    start = int_param(fields.get("start"), 0)
    limit = int_param(fields.get("limit"), 10, minimum=1, maximum=MAX_PAGE)
    return json_response(content.news(lang, start, limit))


def queue(ctx: Context, request: Request) -> Response:
    counts = ctx.jobs.queue_counts()
    body: dict[str, Any] = {
        "queue": {
            "in_process": counts["in_process"],
            "premium": counts["premium"],
            "registered": counts["registered"],
            "unregistered": 0,
        }
    }
    account = ctx.accounts.by_token(params(request).get("api_token"))
    if account is not None:
        plan = "premium" if account.is_premium else "registered"
        body["plan"] = {"plan": plan, "queue": counts[plan]}
    return json_response(body)


def demo(ctx: Context, request: Request) -> Response:
    fields = params(request)
    start = int_param(fields.get("start"), 0)
    limit = int_param(fields.get("limit"), 10, minimum=1, maximum=MAX_PAGE)
    base = base_url(request)
    entries = []
    for snapshot in reversed(ctx.jobs.snapshots()):
        job = ctx.jobs.find(snapshot.hash)
        if job is None or not snapshot.is_demo or snapshot.status != DONE or not snapshot.exists:
            continue
        entries.append(
            {
                "hash": snapshot.hash,
                "date": format_minute(snapshot.created_at),
                "input_audio": f"{base}/storage/temp/{snapshot.input_name or snapshot.hash}",
                "algorithm": job.algorithm.summary(with_group=False),
            }
        )
    return json_response(entries[start : start + limit])


def login(ctx: Context, request: Request) -> Response:
    fields = params(request)
    email = (fields.get("email") or "").strip()
    password = fields.get("password") or ""
    problems: dict[str, list[str]] = {}
    if not email:
        problems["email"] = ["The email field is required."]
    if not password:
        problems["password"] = ["The password field is required."]
    if problems:
        return json_response({"success": False, "message": problems}, 400)
    account = ctx.accounts.login(email, password)
    if account is None:
        return json_response(
            {"success": False, "message": "These credentials do not match our records."}, 400
        )
    return json_response({"success": True, "data": account.profile()})


def register(ctx: Context, request: Request) -> Response:
    fields = params(request)
    name = (fields.get("name") or "").strip()
    email = (fields.get("email") or "").strip()
    password = fields.get("password") or ""
    problems: dict[str, list[str]] = {}
    if not name:
        problems["name"] = ["The name field is required."]
    if not email:
        problems["email"] = ["The email field is required."]
    elif not _EMAIL.match(email):
        problems["email"] = ["The email field must be a valid email address."]
    elif ctx.accounts.email_taken(email):
        problems["email"] = ["The email has already been taken."]
    if not password:
        problems["password"] = ["The password field is required."]
    elif len(password) < 8:
        problems["password"] = ["The password field must be at least 8 characters."]
    elif password != (fields.get("password_confirmation") or ""):
        problems["password"] = ["The password field confirmation does not match."]
    if problems:
        return json_response({"success": False, "message": problems}, 400)
    ctx.accounts.add(email=email, password=password, name=name)
    return json_response(
        {"success": True, "message": f"Account verification email sent to {email}"}
    )


def user(ctx: Context, request: Request) -> Response:
    account = _account(ctx, request)
    if account is None:
        return invalid_token(400)
    current = sum(
        1
        for snapshot in ctx.jobs.history(account)
        if snapshot.status in UNFINISHED and snapshot.exists
    )
    return json_response({"success": True, "data": account.profile(current_queue=current)})


def separation_history(ctx: Context, request: Request) -> Response:
    account = _account(ctx, request)
    if account is None:
        return invalid_token(400)
    fields = params(request)
    start = int_param(fields.get("start"), 0)
    limit = int_param(fields.get("limit"), 10, minimum=1, maximum=MAX_PAGE)
    now = ctx.clock()
    retention = ctx.settings.retention_hours
    entries = []
    for snapshot in ctx.jobs.history(account)[start : start + limit]:
        job = ctx.jobs.find(snapshot.hash)
        if job is None:
            continue
        stamp = format_datetime(snapshot.created_at)
        entries.append(
            {
                "id": snapshot.history_id,
                "hash": snapshot.hash,
                "created_at": stamp,
                "updated_at": stamp,
                "job_exists": not snapshot.removed,
                "credits": None if snapshot.removed else snapshot.credits,
                "time_left": int(retention) - int((now - snapshot.created_at) / 3600.0),
                "algorithm": job.algorithm.summary(with_group=True),
            }
        )
    return json_response({"success": True, "data": entries})


def enable_premium(ctx: Context, request: Request) -> Response:
    return _toggle(ctx, request, "premium_enabled", True)


def disable_premium(ctx: Context, request: Request) -> Response:
    return _toggle(ctx, request, "premium_enabled", False)


def enable_long_filenames(ctx: Context, request: Request) -> Response:
    return _toggle(ctx, request, "long_filenames", True)


def disable_long_filenames(ctx: Context, request: Request) -> Response:
    return _toggle(ctx, request, "long_filenames", False)


def _toggle(ctx: Context, request: Request, flag: str, value: bool) -> Response:
    account = _account(ctx, request)
    if account is None:
        return invalid_token(400)
    ctx.accounts.set_flag(account, flag, value)
    word = "enabled" if value else "disabled"
    return json_response({"success": True, "message": f"successfully {word}"})


def _account(ctx: Context, request: Request) -> Account | None:
    return ctx.accounts.by_token(params(request).get("api_token"))
