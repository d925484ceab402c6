"""What a failed request means: requests' and urllib3's exceptions as mvsepd errors.

``translate`` is called by the transport inside its ``except`` blocks (the only place that
catches them) and answers a ``retry.Failure``: the mvsepd error in words a user can read, naming
the host that was tried ("connect to de.mvsep.com timed out", "answer from mvsep.com cut off";
never the path's query, which may hold the token; the library's own text goes to the debug log,
redacted),
whether certainly nothing of the request left this machine (so a create may be sent again), and
whether trying again may help. A create that went out and lost its answer is
``OutcomeUnknownError``: the job may exist.
"""

from __future__ import annotations

import http.client
import logging
import re

import requests
import urllib3.exceptions

from mvsepd.api.redaction import redact_text
from mvsepd.api.retry import Failure
from mvsepd.errors import (
    ConnectionClosedError,
    MvsepError,
    NetworkError,
    OutcomeUnknownError,
    ProtocolError,
)

logger = logging.getLogger(__name__)

_SSL_REASON = re.compile(r"\[SSL: ([A-Z_]+)\] ?([^()'\"\]\[]{0,120})")

_UNSENDABLE = (
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidSchema,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidHeader,
    requests.exceptions.URLRequired,
    urllib3.exceptions.LocationValueError,
)


def translate(
    exc: requests.RequestException | urllib3.exceptions.HTTPError,
    endpoint: str,
    *,
    creates: bool,
    host: str = "the server",
) -> Failure:
    """The one place where requests/urllib3 exceptions become mvsepd errors; ``host`` is the
    one the request went to (``servers.host_of``)."""
    if isinstance(exc, _UNSENDABLE):
        # The request could not even be built (a malformed URL or header from the server).
        detail = f"request could not be sent [{type(exc).__name__}: {redact_text(str(exc))[:300]}]"
        return Failure(ProtocolError(detail, endpoint=endpoint), nothing_sent=True, retriable=False)
    nothing_sent = _nothing_sent(exc)
    retriable = isinstance(
        exc,
        (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
            urllib3.exceptions.ProtocolError,
            urllib3.exceptions.TimeoutError,
        ),
    )
    # Words only: the library's own text ("ChunkedEncodingError: ('Connection broken: ...')")
    # says nothing to a user and goes to the debug log instead.
    detail = _describe(exc, host)
    logger.debug(
        "transport failure on %s: %s: %s", endpoint, type(exc).__name__, redact_text(str(exc))[:300]
    )
    if creates and not nothing_sent:
        # Also when a kept-alive connection was closed under it: a create is never sent again
        # blindly (the transport sends creates on a connection opened for them, so this is
        # rare).
        error: MvsepError = OutcomeUnknownError(
            f"the request was sent but its answer was lost ({detail}); the job may exist",
            endpoint=endpoint,
        )
    elif _closed_before_answer(exc):
        error = ConnectionClosedError(detail, endpoint=endpoint)
    else:
        error = NetworkError(detail, endpoint=endpoint)
    return Failure(error, nothing_sent=nothing_sent, retriable=retriable)


#: What a socket raises when its peer closed it as a request was written or its answer awaited.
_CLOSED = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


def _closed_before_answer(exc: BaseException) -> bool:
    """True when the server closed the connection before any byte of an answer (urllib3's
    "Connection aborted." with a closed socket): the keep-alive race, not a broken answer."""
    cause = exc.args[0] if isinstance(exc, requests.ConnectionError) and exc.args else exc
    if not isinstance(cause, urllib3.exceptions.ProtocolError) or len(cause.args) < 2:
        return False
    return cause.args[0] == "Connection aborted." and isinstance(cause.args[1], _CLOSED)


def _nothing_sent(exc: BaseException) -> bool:
    """True only when the failure certainly happened before any byte of the request left."""
    if isinstance(exc, (requests.exceptions.ConnectTimeout, requests.exceptions.ProxyError)):
        return True
    if isinstance(exc, requests.exceptions.SSLError):
        return True  # the TLS handshake precedes the request
    if isinstance(exc, requests.ConnectionError) and exc.args:
        cause = exc.args[0]
        if isinstance(cause, urllib3.exceptions.MaxRetryError):
            return isinstance(
                cause.reason,
                (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError),
            )
        return isinstance(cause, urllib3.exceptions.NewConnectionError)
    return isinstance(
        exc, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)
    )


def _describe(exc: BaseException, host: str) -> str:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"connect to {host} timed out"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return f"no answer from {host} before the read timeout"
    if isinstance(exc, requests.exceptions.SSLError):
        # OpenSSL's own reason names what to fix (an untrusted certificate, a wrong host name).
        reason = _SSL_REASON.search(str(exc))
        suffix = f": {reason.group(1)} {reason.group(2).strip()}".rstrip() if reason else ""
        return f"TLS with {host} failed (certificate or handshake){suffix}"
    if isinstance(exc, requests.exceptions.ProxyError):
        return f"the proxy to {host} failed"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return f"answer from {host} cut off"
    if _nothing_sent(exc):
        return f"cannot connect to {host} (refused, unreachable or DNS failure)"
    if _closed_before_answer(exc):
        return f"{host} closed the connection before answering"
    if isinstance(exc, requests.ConnectionError):
        return f"connection to {host} dropped"
    return f"request to {host} failed"
