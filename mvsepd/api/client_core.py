"""The plumbing shared by ``MvsepClient``'s endpoint methods.

Holds the token, the server and the transport; builds URLs; sends GET/POST/upload through the
``Transport``; hands answers to ``wire``; and scrubs the token's value from every MvsepError that
leaves the client (a last line of defence behind ``redaction``).
"""

from __future__ import annotations

import contextlib
import mimetypes
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, TypeVar

from mvsepd.api import inputs, wire
from mvsepd.api.redaction import WireToken, redact_text
from mvsepd.api.servers import api_root, resolve_server
from mvsepd.api.transport import Progress, Transport, UploadFile, UploadStream, WireResponse
from mvsepd.errors import (
    FileTooLargeError,
    InputError,
    InvalidTokenError,
    MvsepError,
    OutcomeUnknownError,
    PremiumRequiredError,
    ProtocolError,
    QueueFullError,
    RateLimitedError,
    ServerError,
    StreamRefusedError,
)
from mvsepd.models import ActionResult, Algorithm, AlgorithmScope, OutputFormat, Secret

T = TypeVar("T")
NO_OPTIONS: Mapping[str, str] = {}
CoreT = TypeVar("CoreT", bound="ClientCore")


class ClientCore:
    """Token, server and transport, plus the request helpers the endpoint methods share."""

    def __init__(
        self,
        token: Secret | str | None,
        server: str = "mvsep.com",
        *,
        transport: Transport | None = None,
    ) -> None:
        if isinstance(token, str):
            token = Secret(token)
        if token is not None:
            if not isinstance(token, Secret):
                raise InputError("token: expected text or a Secret", field="token")
            stripped = token.reveal().strip()
            if not stripped:
                raise InputError(
                    "token: the API token is empty; copy it from mvsep.com", field="token"
                )
            token = token if stripped == token.reveal() else Secret(stripped)
        self._token: Secret | None = token
        self._server = resolve_server(server)
        self._owns_transport = transport is None
        self._transport = transport if transport is not None else Transport()

    @property
    def server(self) -> str:
        """The base URL new jobs are created on (``https://mvsep.com``)."""
        return self._server

    def __repr__(self) -> str:
        return f"MvsepClient(server={self._server!r}, token={'set' if self._token else 'none'})"

    def close(self) -> None:
        """Close the transport if this client created it."""
        if self._owns_transport:
            self._transport.close()

    def __enter__(self: CoreT) -> CoreT:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- plumbing --------------------------------------------------------------------------

    def _wire_token(self) -> WireToken:
        if self._token is None:
            raise InputError("token: this call needs an MVSEP API token", field="token")
        return WireToken(self._token.reveal())

    def _url(self, endpoint: str, server: str | None) -> str:
        return api_root(self._server if server is None else resolve_server(server)) + endpoint

    def _create_fields(
        self,
        sep_type: int,
        options: Mapping[str, str],
        output_format: OutputFormat | int,
        is_demo: bool,
        catalog: Sequence[Algorithm] | None,
        scope: AlgorithmScope,
    ) -> list[tuple[str, str]]:
        token = self._wire_token()
        fields = inputs.create_fields(
            sep_type=sep_type,
            options=options,
            output_format=output_format,
            is_demo=is_demo,
            catalog=catalog,
            scope=scope,
        )
        return [("api_token", token), *fields]

    def _get(
        self,
        endpoint: str,
        params: Mapping[str, str],
        parse: Callable[[WireResponse], T],
        server: str | None = None,
    ) -> T:
        url = self._url(endpoint, server)
        with self._scrubbed():
            return parse(self._transport.get(url, endpoint=endpoint, params=params))

    def _post(
        self,
        endpoint: str,
        fields: Mapping[str, str],
        parse: Callable[[WireResponse], T],
        server: str | None = None,
    ) -> T:
        url = self._url(endpoint, server)
        with self._scrubbed():
            return parse(self._transport.post(url, endpoint=endpoint, fields=fields))

    def _post_action(
        self, endpoint: str, fields: Mapping[str, str], server: str | None
    ) -> ActionResult:
        form = {"api_token": self._wire_token(), **fields}
        return self._post(endpoint, form, lambda r: wire.parse_action(*parts(r)), server)

    def _upload(
        self,
        endpoint: str,
        fields: list[tuple[str, str]],
        files: list[tuple[str, UploadFile]],
        progress: Progress | None,
        parse: Callable[[WireResponse], T],
        stream: tuple[str, UploadStream] | None = None,
    ) -> T:
        """Send a create; an answer that may hide a created job raises OutcomeUnknownError.

        Besides a lost answer (the transport's case), that is a 2xx answer that cannot be
        read and a gateway error (502/504: the proxy lost the application's answer). Retrying
        those blindly could pay for the same job twice; the caller reconciles instead.
        A ``stream`` (sent chunked) refused as a server that takes no such body refuses it
        raises StreamRefusedError: nothing was created, the caller sends it with a length.
        """
        url = self._url(endpoint, None)
        with self._scrubbed():
            unknown: OutcomeUnknownError | None = None
            refused: StreamRefusedError | None = None
            try:
                response = self._transport.upload(
                    url,
                    endpoint=endpoint,
                    fields=fields,
                    files=files,
                    progress=progress,
                    creates=True,
                    stream=stream,
                )
                return parse(response)
            except MvsepError as error:
                if stream is not None and _refuses_streams(error):
                    refused = StreamRefusedError(error)
                elif not isinstance(error, ProtocolError | ServerError) or not _may_hide_a_job(
                    error
                ):
                    raise
                else:
                    unknown = OutcomeUnknownError(
                        f"the answer could not be used ({error.detail}); the job may exist",
                        endpoint=error.endpoint,
                        status=error.status,
                        messages=error.messages,
                    )
            if refused is not None:
                raise refused
            assert unknown is not None
            raise unknown

    @contextlib.contextmanager
    def _scrubbed(self) -> Iterator[None]:
        try:
            yield
        except MvsepError as error:
            _scrub(error, self._token)
            raise


#: Refusals about the request itself, whatever a body without a length did.
_REAL_REFUSALS = (QueueFullError, PremiumRequiredError, FileTooLargeError, RateLimitedError)
#: Words of a refusal that says a field never arrived (Laravel's "The audiofile field is
#: required."), as when a server hands its application no body.
_MISSING_FIELD = re.compile(r"\b(is|are) required\b|\bmissing\b", re.IGNORECASE)


def _refuses_streams(error: MvsepError) -> bool:
    """True when a refusal of a chunked create is what a server that takes no chunked body
    answers: 411 Length Required (mod_fcgid); a 401 for the token it never saw, or a 400 that
    says a field is required (Apache with PHP-FPM passes no body: no token, no file). A 400
    about a value that was sent (an option, the queue, the plan, the size) shows that the body
    arrived: it is the answer."""
    if error.status == 411:
        return True
    if isinstance(error, InvalidTokenError):
        return True
    if error.status not in (400, 422) or isinstance(error, _REAL_REFUSALS):
        return False
    return any(_MISSING_FIELD.search(words) for words in (*error.messages, error.detail))


def _may_hide_a_job(error: MvsepError) -> bool:
    if isinstance(error, ServerError):
        return error.status in (502, 504)
    return error.status is None or 200 <= error.status <= 299


def parts(response: WireResponse) -> tuple[str, int, Mapping[str, str], bytes]:
    """Return ``(endpoint, status, headers, body)``: the arguments every wire parser takes."""
    return response.endpoint, response.status, response.headers, response.body


def page(start: int, limit: int) -> dict[str, str]:
    """Return checked ``start``/``limit`` query values; raise InputError for bad ones."""
    return {
        "start": inputs.check_count(start, "start", minimum=0),
        "limit": inputs.check_count(limit, "limit", minimum=1),
    }


def dataset_type_text(value: object) -> str:
    """Return a Quality Checker dataset type ("0", "12") as text; raise InputError otherwise."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not text.isdigit():
        raise InputError(
            f"dataset_type: expected a number such as '0', got {value!r}", field="dataset_type"
        )
    return text


def upload_part(path: Path, handle: BinaryIO, name: str | None = None) -> UploadFile:
    """Return the multipart file part for an open file: its name (``name``, else the file's),
    the file, a content type."""
    sent_name = name or path.name
    content_type = mimetypes.guess_type(sent_name)[0] or "application/octet-stream"
    return (sent_name, handle, content_type)


def _scrub(error: MvsepError, token: Secret | None) -> None:
    """Remove the token's value (and any ``api_token=`` value) from an error's texts."""
    secret = token.reveal() if token is not None else ""
    error.args = tuple(redact_text(a, secret) if isinstance(a, str) else a for a in error.args)
    error.detail = redact_text(error.detail, secret)
    error.messages = tuple(redact_text(message, secret) for message in error.messages)
