"""Keeping the API token out of URLs, messages, reprs and third-party debug logs.

The token travels in exactly two places: the ``api_token`` form field of POSTs and the
``api_token`` query parameter of the few GETs that need it (``/app/user``,
``/app/separation_history``, ``/app/queue`` and ``/separation/get`` with ``mirror=1``). Both
carry it as a ``WireToken``, a ``str`` whose ``repr``/``str``/``format`` print ``***`` while
``encode()`` still gives the real bytes to requests and the multipart encoder. So a form dict
or a ``MultipartEncoder`` shown in a log line, an exception or a traceback with locals
(structlog's dict tracebacks show locals) never shows the token.

urllib3 logs each request line at DEBUG, query string included. ``install_log_redaction``
puts a filter on urllib3's loggers that rewrites any record mentioning ``api_token`` with the
value replaced by ``***``; the transport installs it once. ``http.client``'s own
``debuglevel`` prints raw request bytes with ``print`` and cannot be filtered: mvsepd never
sets it, and nobody should with a real token.
"""

from __future__ import annotations

import logging
import re

_TOKEN_VALUE = re.compile(
    r"""(api_token(?:%22|["'])?\s*(?:=|:|%3D)\s*(?:%22|["'])?)([^&\s"'<>;,)]+)""", re.IGNORECASE
)

#: Logger names whose records may contain request URLs.
_URL_LOGGERS = (
    "urllib3",
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.poolmanager",
    "urllib3.response",
    "urllib3.util.retry",
    "requests",
)


class WireToken(str):
    """The token's wire value: the real string for encoders, ``***`` for anything that prints."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'***'"

    def __str__(self) -> str:
        return "***"

    def __format__(self, format_spec: str) -> str:
        return "***"


def redact_text(text: str, *secrets: str) -> str:
    """Return ``text`` with every ``api_token`` value and every given secret replaced by ***."""
    redacted = _TOKEN_VALUE.sub(lambda match: f"{match.group(1)}***", text)
    for secret in secrets:
        if secret:
            redacted = redacted.replace(secret, "***")
    return redacted


def redact_url(url: str) -> str:
    """Return ``url`` with the value of any ``api_token`` query parameter replaced by ***."""
    return redact_text(url)


class RedactingFilter(logging.Filter):
    """Rewrites log records that mention ``api_token`` so that its value reads ``***``."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError, KeyError):
            return True
        if "api_token" in message.lower():
            record.msg = redact_text(message)
            record.args = None
        return True


_FILTER = RedactingFilter("mvsepd-token-redaction")


def install_log_redaction() -> None:
    """Attach the redacting filter to urllib3's and requests' loggers (idempotent)."""
    names = set(_URL_LOGGERS)
    names.update(
        name
        for name in list(logging.root.manager.loggerDict)
        if name.startswith(("urllib3.", "requests."))
    )
    for name in sorted(names):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
