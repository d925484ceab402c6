"""When an HTTP exchange is tried again, and how long to wait first (pure: no requests here).

- An idempotent request (GET) is retried after a connection failure, a timeout, or a 429 or
  500/502/503/504 answer; a non-idempotent one (POST) only when nothing was sent. A connection
  the server closed as the request went out (a kept-alive one it had timed out) is tried again
  at once, the first time.
- The wait is ``backoff_base * 2**attempt`` capped at ``backoff_cap``, or exactly the server's
  ``Retry-After`` if that is no longer than ``backoff_cap``. A longer ``Retry-After`` ends the
  retries at once and the answer goes back to the caller, whose scheduler decides.
- Sleeping goes through the injected ``sleep`` and HTTP dates are read against the injected
  ``clock``, so tests never wait.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from mvsepd.api.httputil import header, parse_retry_after
from mvsepd.errors import (
    ConnectionClosedError,
    MvsepError,
    NetworkError,
    RateLimitedError,
    ServerError,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Statuses worth retrying for an idempotent request.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class WireResponse:
    """One complete HTTP answer: status, headers, body bytes, and the API path it answers."""

    status: int
    headers: Mapping[str, str]
    body: bytes = field(repr=False)
    endpoint: str


@dataclass(frozen=True)
class Failure:
    """A request that produced no answer, already translated into an mvsepd error."""

    error: MvsepError
    nothing_sent: bool
    retriable: bool


class RetryPolicy:
    """Retry counts, backoff and Retry-After handling for one transport."""

    def __init__(
        self,
        *,
        retries: int,
        backoff_base: float,
        backoff_cap: float,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
    ) -> None:
        if retries < 0 or backoff_base < 0 or backoff_cap < 0:
            raise ValueError("retries and backoff must not be negative")
        self.retries = retries
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._sleep = sleep
        self._clock = clock

    def delay(self, attempt: int, retry_after: float | None) -> float | None:
        """Return the wait before retry ``attempt + 1``, or None if Retry-After is too long."""
        if retry_after is not None:
            return retry_after if retry_after <= self._backoff_cap else None
        return min(self._backoff_cap, self._backoff_base * (2.0 ** min(attempt, 30)))

    def run(
        self,
        attempt_once: Callable[[], WireResponse | Failure],
        endpoint: str,
        *,
        idempotent: bool,
    ) -> WireResponse:
        """Given one attempt, repeat it per the policy; return the last answer.

        Raise the last attempt's error when no answer arrived.
        """
        attempt = 0
        while True:
            outcome = attempt_once()
            delay: float | None = None
            if isinstance(outcome, WireResponse):
                if idempotent and outcome.status in RETRY_STATUSES and attempt < self.retries:
                    retry_after = parse_retry_after(
                        header(outcome.headers, "Retry-After"), self._clock()
                    )
                    delay = self.delay(attempt, retry_after)
                if delay is None:
                    return outcome
                reason = f"HTTP {outcome.status}"
            else:
                if outcome.retriable and (idempotent or outcome.nothing_sent):
                    delay = self._delay_after(outcome.error, attempt)
                if delay is None:
                    raise outcome.error
                reason = outcome.error.detail
            self._wait(endpoint, reason, attempt, delay)
            attempt += 1

    def call(self, action: Callable[[], T], endpoint: str) -> T:
        """Given an idempotent action that raises mvsepd errors, retry it on transient ones.

        NetworkError, ServerError and RateLimitedError (with its ``retry_after``) are retried;
        anything else, or the last failure, is raised.
        """
        attempt = 0
        while True:
            try:
                return action()
            except (NetworkError, ServerError, RateLimitedError) as error:
                retry_after = error.retry_after if isinstance(error, RateLimitedError) else None
                if retry_after is None:
                    delay = self._delay_after(error, attempt)
                else:
                    delay = self.delay(attempt, retry_after) if attempt < self.retries else None
                if delay is None:
                    raise
                reason = error.detail
            self._wait(endpoint, reason, attempt, delay)
            attempt += 1

    def _delay_after(self, error: MvsepError, attempt: int) -> float | None:
        """The wait before trying again after ``error``, or None when the tries are used up.

        A connection the server closed as the request went out (an idle kept-alive one it had
        just timed out) says nothing about the server: the first such failure is tried again
        at once, on a new connection.
        """
        if attempt >= self.retries:
            return None
        if isinstance(error, ConnectionClosedError) and attempt == 0:
            return 0.0
        return self.delay(attempt, None)

    def _wait(self, endpoint: str, reason: str, attempt: int, delay: float) -> None:
        logger.info(
            "%s: %s; retry %d of %d in %.1fs", endpoint, reason, attempt + 1, self.retries, delay
        )
        self._sleep(delay)
