"""``/__emulator/*``: inspect and steer an emulator running in another process (loopback only).

- ``GET /__emulator/state``: create counts per token, credits, accounts, jobs, armed faults.
- ``POST /__emulator/faults`` ``{"name","rate"?,"endpoints"?,"count"?,"delay_seconds"?}``;
  ``DELETE /__emulator/faults[?name=...]`` disarms one or all.
- ``POST /__emulator/advance`` ``{"seconds"}``: move a manual clock (409 on a real clock).
- ``POST /__emulator/accounts`` ``{"token"?,"plan"?,"credits"?,"email"?,"password"?,
  "premium_enabled"?}``: add an account; ``POST /__emulator/revoke`` ``{"token"}``.

Plain JSON (not PHP-escaped): this API is the emulator's own, not MVSEP's.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from werkzeug.wrappers import Request, Response

from mvsepd.emulator.context import Context
from mvsepd.emulator.state import EmulatorState


def is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def handle(ctx: Context, state: EmulatorState, request: Request) -> Response:
    if not is_loopback(request.remote_addr):
        return _json({"error": "the admin API answers loopback clients only"}, 403)
    route = (request.path.removeprefix("/__emulator/"), request.method)
    try:
        body = _body(request)
        if route == ("state", "GET"):
            return _json(state.to_json())
        if route == ("faults", "POST"):
            ctx.faults.set(
                str(body["name"]),
                float(body.get("rate", 1.0)),
                endpoints=body.get("endpoints"),
                count=body.get("count"),
                delay_seconds=body.get("delay_seconds"),
            )
            return _json({"ok": True})
        if route == ("faults", "DELETE"):
            ctx.faults.clear(request.args.get("name") or body.get("name"))
            return _json({"ok": True})
        if route == ("advance", "POST"):
            try:
                now = ctx.advance(float(body["seconds"]))
            except RuntimeError as error:
                return _json({"error": str(error)}, 409)
            return _json({"ok": True, "now": now})
        if route == ("accounts", "POST"):
            account = ctx.accounts.add(
                token=body.get("token"),
                plan=str(body.get("plan", "free")),
                credits=int(body.get("credits", 0)),
                email=body.get("email"),
                password=body.get("password"),
                premium_enabled=body.get("premium_enabled"),
            )
            return _json({"ok": True, "token": account.token, "email": account.email})
        if route == ("revoke", "POST"):
            return _json({"ok": ctx.accounts.revoke(str(body["token"]))})
    except (KeyError, TypeError, ValueError) as error:
        return _json({"error": f"bad request: {error}"}, 400)
    return _json({"error": "no such admin endpoint"}, 404)


def _body(request: Request) -> dict[str, Any]:
    text = request.get_data(as_text=True)
    if not text.strip():
        return {}
    parsed = json.loads(text)
    if not isinstance(parsed, dict):
        raise ValueError("the body must be a JSON object")
    return parsed


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")
