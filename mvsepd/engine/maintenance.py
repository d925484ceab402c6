"""Periodic upkeep of the engine: the account (plan, credits, token), the catalog, the day.

Account and catalog checks run in a worker, never on the engine's thread (MVSEP may be slow or
down); a refused token is checked again every few minutes; a new UTC day releases the jobs the
daily budget held.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from mvsepd import errors
from mvsepd.engine.context import Context
from mvsepd.engine.workers import Workers

log = structlog.get_logger("mvsepd.engine")

DAY_SECONDS = 86400.0
#: A failed catalog fetch is tried again after this long, not on every tick.
CATALOG_RETRY_SECONDS = 60.0


class Maintenance:
    """Decides, each tick, which upkeep is due, and runs it in the background."""

    def __init__(self, context: Context, workers: Workers, on_new_day: Callable[[], None]) -> None:
        #: The presets last said to need premium (None: not said yet).
        self._premium_said: frozenset[str] | None = None
        self._context = context
        self._workers = workers
        self._on_new_day = on_new_day
        self._day: float | None = None
        self._catalog_attempted_at: float | None = None

    @property
    def day_start(self) -> float | None:
        """Start (epoch seconds, UTC) of the day the engine is in; None before the first tick."""
        return self._day

    def tick(self) -> None:
        """Start whatever upkeep is due now."""
        now = self._context.clock()
        day_start = now - now % DAY_SECONDS
        if self._day is None:
            self._day = day_start
        elif day_start > self._day:
            self._day = day_start
            self._on_new_day()
        if self._account_check_due(now):
            self._workers.submit_task("account", self.refresh_account)
        if self._context.catalog.needs_refresh() and self._catalog_retry_due(now):
            self._workers.submit_task("catalog", self.refresh_catalog)

    def next_deadline(self) -> float:
        """Clock time of the next upkeep: an account or token check, a catalog fetch (or its
        retry), the next UTC day. The engine may sleep until then."""
        context = self._context
        account = context.account
        settings = context.settings
        deadlines = []
        if self._workers.task_running("account"):
            pass  # its end wakes the engine
        elif account.token_checked_at is None:
            deadlines.append(float("-inf"))
        elif not account.token_valid:
            deadlines.append(account.token_checked_at + settings.token_recheck_seconds)
        else:
            checked = account.checked_at or account.token_checked_at
            deadlines.append(checked + settings.account_refresh_seconds)
        catalog_due = context.catalog.refresh_due_at()
        if self._catalog_attempted_at is not None:
            catalog_due = max(catalog_due, self._catalog_attempted_at + CATALOG_RETRY_SECONDS)
        deadlines.append(catalog_due)
        if self._day is not None:
            deadlines.append(self._day + DAY_SECONDS)
        return min(deadlines)

    def _account_check_due(self, now: float) -> bool:
        account = self._context.account
        settings = self._context.settings
        if account.token_checked_at is None:
            return True
        if not account.token_valid:
            return now - account.token_checked_at >= settings.token_recheck_seconds
        checked = account.checked_at or account.token_checked_at
        return now - checked >= settings.account_refresh_seconds

    def _catalog_retry_due(self, now: float) -> bool:
        attempted = self._catalog_attempted_at
        if attempted is not None and now - attempted < CATALOG_RETRY_SECONDS:
            return False
        self._catalog_attempted_at = now
        return True

    def refresh_account(self) -> None:
        """Ask MVSEP who we are (plan, credits) and whether the token works."""
        context = self._context
        now = context.clock()
        try:
            user = context.client.user()
        except errors.InvalidTokenError as error:
            if context.account.update(token_problem=str(error), now=now):
                log.error("token_invalid", detail=str(error), note="holding every submission")
            context.feed.bump()
            return
        except errors.MvsepError as error:
            log.warning("account_check_failed", error=str(error))
            context.account.update(token_problem=context.account.token_problem, now=now)
            return
        if context.account.update(user=user, token_problem=None, now=now):
            log.info("token_valid_again", note="releasing held submissions")
        self._say_premium_needs()
        context.feed.bump()

    def _say_premium_needs(self) -> None:
        """On a free account, say once (again when it changes) which folders' presets need
        premium: their files wait, held, instead of being refused by MVSEP after the upload."""
        context = self._context
        needs = context.presets_needing_premium() if context.account.is_free() else {}
        said = frozenset(needs)
        if said == self._premium_said:
            return
        self._premium_said = said
        for preset, words in needs.items():
            log.error(
                "preset_needs_premium",
                preset=preset,
                problem="; ".join(words),
                note="this account is on the free plan: files of a premium-only model are held "
                "until premium usage is on at mvsep.com (with credits)",
            )

    def refresh_catalog(self) -> None:
        """Fetch the catalog; resolve the presets again when a new one arrives."""
        if self._context.catalog.refresh():
            self._context.resolve_presets()
            self._say_premium_needs()
            self._context.feed.bump()
