"""The one exception tree of mvsepd (leaf layer: imports nothing from the project).

Every error mvsepd raises on purpose is a ``MvsepdError``. The MVSEP web API has its own branch
rooted at ``MvsepError``; each API error carries the endpoint (a path such as
``/separation/create``, never a URL with a query string) and the HTTP status, and none of them
ever carries the API token.

    MvsepdError
    ├── InputError                  bad local input, refused before any network call
    ├── ConfigError                 the configuration file has problems (all of them, listed,
    │                               each a ConfigProblem with its line)
    ├── MissingPartError            an optional part (an extra such as ``tray``) is not installed
    ├── StoreError                  the job store (SQLite) failed or was misused
    │   └── IllegalTransitionError  a job state change the lifecycle table does not allow
    ├── DaemonError
    │   ├── AlreadyRunningError     another daemon holds the state directory's lock
    │   └── DaemonUnreachableError  no daemon answers on the status API
    ├── AudioError                  audio that does not decode, or cannot be written as asked
    ├── PlanUnknownError            the account's plan is needed and not known yet
    ├── OutputError                 stems could not be written (disk full, permissions, ...)
    ├── ServiceError                a service could not be installed, removed or queried
    └── MvsepError                  anything that went wrong talking to MVSEP
        ├── InvalidTokenError       401, or MVSEP's "invalid API key" bodies
        ├── InvalidRequestError     400 with the server's own messages
        │   ├── QueueFullError      free plan: "You already have unprocessed file in queue"
        │   ├── PremiumRequiredError
        │   ├── FileTooLargeError
        │   └── NotFoundError       unknown, deleted or expired hash / entry
        ├── RateLimitedError        429, carries ``retry_after`` seconds
        ├── ServerError             5xx
        ├── NetworkError            connection refused, reset, DNS, timeouts
        │   └── OutcomeUnknownError a create whose answer was lost: the job may exist
        └── ProtocolError           non-JSON, HTML error pages, malformed or unsafe answers
            └── DownloadError       a result file not fetched safely and completely
                ├── OversizeDownloadError  larger than announced
                └── UnsafeDownloadError    a URL we refuse to fetch
            └── DownloadError       a result file that was truncated or the wrong size
                └── UnsafeDownloadError  a result URL that is not http(s) or points elsewhere

``transient`` says whether waiting and trying again can help; the engine relies on it to choose
between ``retry_wait`` and ``failed``.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass


class MvsepdError(Exception):
    """Root of every error mvsepd raises on purpose."""

    #: True when the same action may succeed later without anyone changing anything.
    transient: bool = False


class InputError(MvsepdError, ValueError):
    """Local input that cannot be used: names the field or file and what would be accepted."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ConfigProblem:
    """One problem of a configuration file: its words, which start with the key path
    (``presets.vocals.sep_type: ...``) when there is one, and where it is, when known."""

    text: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        if self.line is None:
            return self.text
        column = f", column {self.column}" if self.column is not None else ""
        return f"line {self.line}{column}: {self.text}"

    def located(self, source: str) -> str:
        """``file:line: words`` (``file:line:column:`` for a YAML error), as compilers say it,
        so that editors and terminals can jump there."""
        if self.line is None:
            return f"{source}: {self.text}"
        column = f"{self.column}:" if self.column is not None else ""
        return f"{source}:{self.line}:{column} {self.text}"


#: Longest line of a configuration error's report; longer problems go on indented lines.
REPORT_WIDTH = 100


class ConfigError(MvsepdError):
    """The configuration has one or more problems; ``problems`` lists every one of them
    (``line N: key: what is wrong; what would be accepted``), ``items`` the same as data."""

    def __init__(self, source: str, problems: Sequence[str | ConfigProblem]) -> None:
        self.source = source
        self.items = tuple(
            problem if isinstance(problem, ConfigProblem) else ConfigProblem(problem)
            for problem in problems
        )
        self.problems = tuple(str(problem) for problem in self.items)
        super().__init__("\n".join(self.report(width=None)))

    def report(self, width: int | None = REPORT_WIDTH) -> list[str]:
        """The report's lines: a heading, then each problem as ``file:line: words``, wrapped
        at ``width`` characters (a long list of accepted values never makes a long line)."""
        count = len(self.items)
        lines = [f"{self.source}: {count} problem{'s' if count != 1 else ''}"]
        for problem in self.items:
            line = problem.located(self.source)
            if width is None:
                lines.append(line)
                continue
            lines.extend(
                textwrap.wrap(
                    line,
                    width=width,
                    subsequent_indent="    ",
                    break_long_words=False,
                    break_on_hyphens=False,
                )
            )
        return lines


class MissingPartError(MvsepdError):
    """An optional part of mvsepd is not installed (its extra): installing it, not a retry,
    helps; the message names the pip command."""


class StoreError(MvsepdError):
    """The job store failed (corrupt database, unknown job id, schema too new)."""


class StoreUnavailableError(StoreError):
    """The studio database cannot be reached now (a transient condition: work waits)."""


class LeaseLostError(StoreError):
    """Studio mode: another host holds this job now; this host must not change it."""

    def __init__(self, job_id: int, owner: str | None) -> None:
        self.job_id = job_id
        self.owner = owner
        super().__init__(f"job {job_id} is no longer this host's (it is {owner or 'nobody'}'s now)")


class IllegalTransitionError(StoreError):
    """A state change that the lifecycle's transition table does not allow."""

    def __init__(self, job_id: int, from_state: str, to_state: str) -> None:
        super().__init__(f"job {job_id}: {from_state} -> {to_state} is not an allowed transition")
        self.job_id = job_id
        self.from_state = from_state
        self.to_state = to_state


class DaemonError(MvsepdError):
    """Problems with the daemon process itself."""


class AlreadyRunningError(DaemonError):
    """Another mvsepd daemon already uses this state directory."""


class DaemonUnreachableError(DaemonError):
    """No daemon answers: not running, or its runtime file is stale."""

    transient = True


class AudioError(MvsepdError):
    """Audio that cannot be read or written as needed: names the file and says why."""


class PlanUnknownError(MvsepdError):
    """A decision needs the account's plan (a file over the free plan's size limit) before
    MVSEP has said which plan it is; it is made again once the account check answered."""

    transient = True


class OutputError(MvsepdError):
    """Stems could not be written into the output folder."""

    transient = True


class NotServedError(MvsepdError):
    """A take, stem or source a browser asked for that the page does not serve (no such
    thing, or not a file the job's manifest lists below its stems folder)."""


class ServiceError(MvsepdError):
    """``mvsepd service`` refused or failed; nothing was left half-done (the message says)."""


class MvsepError(MvsepdError):
    """Something went wrong talking to MVSEP.

    ``endpoint`` is the API path (``/separation/get``), ``status`` the HTTP status when a response
    arrived, ``messages`` the server's own words when it gave any.
    """

    def __init__(
        self,
        message: str,
        *,
        endpoint: str = "",
        status: int | None = None,
        messages: Sequence[str] = (),
    ) -> None:
        self.endpoint = endpoint
        self.status = status
        self.messages = tuple(messages)
        self.detail = message
        where = endpoint or "MVSEP"
        status_text = f" (HTTP {status})" if status is not None else ""
        super().__init__(f"{where}{status_text}: {message}")


class InvalidTokenError(MvsepError):
    """MVSEP refused the API token: every further call with it will fail too."""


class InvalidRequestError(MvsepError):
    """MVSEP refused the request's parameters (HTTP 400 in practice)."""


class QueueFullError(InvalidRequestError):
    """The free plan's one-unfinished-job rule: wait for the running job, then try again."""

    transient = True


class PremiumRequiredError(InvalidRequestError):
    """The algorithm or option needs a premium account."""


class FileTooLargeError(InvalidRequestError):
    """The upload is larger than the account's plan allows."""


class StreamRefusedError(InvalidRequestError):
    """An upload sent without its length in advance (chunked, a FLAC made as it went) was
    refused, in a way a server that does not take such bodies explains: 411, or a 400/401 as
    if nothing had been sent (Apache hands PHP-FPM no body at all). Nothing was created: the
    same upload goes again with its length. ``refusal`` is the error the answer made."""

    def __init__(self, refusal: MvsepError) -> None:
        super().__init__(
            f"the upload without a length was refused ({refusal.detail})",
            endpoint=refusal.endpoint,
            status=refusal.status,
            messages=refusal.messages,
        )
        self.refusal = refusal


class NotFoundError(InvalidRequestError):
    """The hash or entry is unknown, deleted, or its results expired."""


class RateLimitedError(MvsepError):
    """HTTP 429: too many requests; ``retry_after`` says how long MVSEP asked us to wait."""

    transient = True

    def __init__(
        self,
        message: str,
        *,
        endpoint: str = "",
        status: int | None = 429,
        messages: Sequence[str] = (),
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, endpoint=endpoint, status=status, messages=messages)
        self.retry_after = retry_after


class ServerError(MvsepError):
    """MVSEP answered with a 5xx status."""

    transient = True


class NetworkError(MvsepError):
    """No usable answer arrived: refused, reset, timed out, DNS failure."""

    transient = True


class ConnectionClosedError(NetworkError):
    """The server closed the connection as the request went out, before any answer: a
    kept-alive connection it had just timed out for being idle (MVSEP's Apache closes one after
    5 s). A request that changes nothing is sent again at once, on a new connection."""


class OutcomeUnknownError(NetworkError):
    """A create request was sent but its answer was lost: the job may or may not exist.

    Never retry the upload blindly; reconcile against the separation history first.
    """


class ProtocolError(MvsepError):
    """MVSEP answered with something we cannot read: HTML, broken JSON, a malformed shape."""

    transient = True


class DownloadError(ProtocolError):
    """A result file could not be fetched safely and completely."""


class OversizeDownloadError(DownloadError):
    """A result file larger than MVSEP said it would be: tried a few times, then given up."""


class UnsafeDownloadError(DownloadError):
    """A result URL we refuse to fetch: not http(s), or on a host other than the job's."""

    transient = False
