"""The Account page: who mvsepd is at MVSEP (plan, credits, whether the token works), the
premium switch, today's spend against ``limits.daily_credit_budget``, and signing in, with
MVSEP e-mail and password (MVSEP's own login) or with a pasted API token.

Either way the token goes to ``LiveConfig.sign_in``, which stores it where ``mvsepd login``
does (0600) and uses it from then on. The token never goes the other way: no page, form or
answer carries it (a password or token field is never filled in again).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Response

from mvsepd.api import MvsepClient, Transport, host_of
from mvsepd.engine.maintenance import DAY_SECONDS
from mvsepd.errors import InvalidTokenError, MvsepdError, MvsepError, ProtocolError
from mvsepd.models import Secret
from mvsepd.page import saving
from mvsepd.page.host import PageHost
from mvsepd.page.visit import Visit

if TYPE_CHECKING:
    from mvsepd.config.write import ConfigEdit

#: Where MVSEP shows a signed-in user's API token.
TOKEN_PAGE = "https://mvsep.com/full_api"  # noqa: S105 (a web page, not a credential)


def live_values(host: PageHost) -> dict[str, Any]:
    """What the account part shows now (also what ``/live`` sends)."""
    picture = host.status_api.picture
    account = picture.account()
    config = host.config()
    now = time.time()
    spent = host.daemon.store.credits_committed_since(now - now % DAY_SECONDS)
    plans = config.account.plans
    premium = account.get("plan") == "premium"
    return {
        "version": host.engine.context.feed.version,
        "account": account,
        "spent": spent,
        "budget": config.limits.daily_credit_budget,
        "plan_limits": plans.limits(premium=premium) if account.get("plan") else None,
        "server": host.client.server,
    }


def page(
    visit: Visit, *, status: int = 200, problem: str | None = None, email: str = ""
) -> Response:
    values = live_values(visit.host)
    return visit.render(
        "account.html",
        status=status,
        problem=problem,
        email=email,
        token_page=TOKEN_PAGE,
        editable=visit.host.live_config is not None,
        made_from=saving.current_fingerprint(visit.host),
        **values,
    )


def sign_in_with_password(visit: Visit) -> Response:
    email = visit.form.get("email", "").strip()
    password = visit.form.get("password", "")
    if not email or not password:
        return page(visit, status=422, problem="give your MVSEP e-mail and password", email=email)
    server = visit.host.client.server
    try:
        with (
            Transport(retries=1) as transport,
            MvsepClient(None, server, transport=transport) as client,
        ):
            user = client.login(email, password)
    except (MvsepError, MvsepdError) as error:
        return page(visit, status=422, problem=f"MVSEP refused: {error}", email=email)
    if user.api_token is None or not user.api_token:
        return page(
            visit,
            status=422,
            problem="MVSEP signed you in but sent no API token; copy it from "
            f"{TOKEN_PAGE} and paste it below",
            email=email,
        )
    return _store(visit, user.api_token, email=email)


def sign_in_with_token(visit: Visit) -> Response:
    token = visit.form.get("token", "").strip()
    if not token:
        return page(visit, status=422, problem=f"paste the API token {TOKEN_PAGE} shows")
    return _store(visit, Secret(token))


def _store(visit: Visit, token: Secret, *, email: str = "") -> Response:
    live = visit.host.live_config
    if live is None:
        return page(visit, status=409, problem=saving.NO_LIVE_CONFIG, email=email)
    try:
        live.sign_in(token)
    except InvalidTokenError:
        server = host_of(visit.host.client.server)
        return page(
            visit,
            status=422,
            problem=f"MVSEP ({server}) does not know this API token; copy it again from "
            f"{TOKEN_PAGE}",
            email=email,
        )
    except MvsepdError as error:
        return page(visit, status=422, problem=str(error), email=email)
    visit.host.engine.refresh_account()
    return visit.redirect("/account", "signed in: the new API token is stored and in use")


def set_premium(visit: Visit) -> Response:
    """Premium usage on (the premium queue, spending credits) or off (the free queue)."""
    wanted = visit.form.get("premium") == "on"
    client = visit.host.client
    try:
        answer = client.enable_premium() if wanted else client.disable_premium()
    except (MvsepError, ProtocolError) as error:
        return page(visit, status=502, problem=f"MVSEP did not switch premium usage: {error}")
    visit.host.engine.refresh_account()
    words = (
        "on: jobs go to the premium queue and spend credits"
        if wanted
        else ("off: jobs go to the free queue and spend no credits")
    )
    message = f" (MVSEP: {answer.message})" if answer.message else ""
    return visit.redirect("/account", f"premium usage {words}{message}")


def set_budget(visit: Visit) -> Response:
    text = visit.form.get("budget", "").strip()
    value: object = None
    if text:
        value = int(text) if text.isdigit() else text

    def change(edit: ConfigEdit) -> None:
        edit.set(("limits", "daily_credit_budget"), value)

    saved = saving.save(visit.host, visit.form.get("made_from"), change)
    if not saved.applied:
        words = "; ".join(str(problem) for problem in saved.problems)
        return page(visit, status=422, problem=f"not saved: {words}")
    said = f"{value} credits a day" if value is not None else "none"
    return visit.redirect("/account", f"daily credit budget: {said}")
