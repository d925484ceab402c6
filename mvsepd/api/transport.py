"""HTTP for the MVSEP client: one requests.Session, timeouts, retries, uploads, downloads.

This is the only module that catches requests' exceptions; ``failures.translate`` turns each
into an mvsepd error, raised outside the ``except`` block so that no requests exception (whose
text holds the full URL) is chained to it. Nothing here knows MVSEP's JSON: answers come back as
``WireResponse`` for ``wire`` to read.

Retries (``retry.RetryPolicy``): GETs and downloads on failures, timeouts, 429 and 5xx, with
backoff and Retry-After; form POSTs only when nothing was sent; multipart uploads never. A
create whose answer was lost after the request went out (reset, dropped, read timeout) raises
``OutcomeUnknownError``; a failure to connect is a plain ``NetworkError``, safe to try again.

An upload whose file part is a stream (``UploadStream``: bytes made as they are sent, a FLAC
encoded on the fly) goes with chunked transfer encoding, its length unknown; everything else
with its length.

Connections are kept alive between requests (MVSEP's server closes them after 5 s idle; a
request that meets one just closed is tried again at once when it changes nothing, see
``retry``), except for creates, which always go on a connection opened for them.

Redirects are never followed for API calls: a redirect could carry the token's query string to
another host. TLS verification is passed as ``verify=True`` on every call, whatever the session
says. The requests session is shared and not meant for concurrent use from several threads.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import requests
import urllib3.exceptions
from requests.adapters import BaseAdapter, HTTPAdapter
from requests_toolbelt import MultipartEncoder, MultipartEncoderMonitor
from urllib3.fields import RequestField

from mvsepd import __version__
from mvsepd.api import download as _download
from mvsepd.api.failures import translate
from mvsepd.api.redaction import install_log_redaction
from mvsepd.api.retry import Failure, RetryPolicy, WireResponse
from mvsepd.api.servers import host_of
from mvsepd.errors import ProtocolError

logger = logging.getLogger(__name__)

#: Biggest API answer read into memory (the 2026 catalog is about 2 MB).
MAX_ANSWER_BYTES = 64 * 1024 * 1024
#: Bytes handed to the socket at a time when sending a request body.
SEND_BLOCK_BYTES = 1024 * 1024
_CHUNK = 256 * 1024

#: An upload part: (file name sent to the server, open binary file, content type).
UploadFile = tuple[str, BinaryIO, str]
#: An upload part made as it is sent: (file name, its bytes chunk by chunk, content type).
UploadStream = tuple[str, Iterable[bytes], str]
Progress = Callable[[int, int], None]

__all__ = [
    "MAX_ANSWER_BYTES",
    "Progress",
    "Transport",
    "UploadFile",
    "UploadStream",
    "WireResponse",
]


class _LargeBlockAdapter(HTTPAdapter):
    """An adapter whose connections send request bodies in 1 MiB blocks.

    urllib3 reads a streamed body 16 KiB at a time, which caps a large upload well below what
    the link carries (213 MiB/s against curl's 345 on loopback); 1 MiB blocks keep memory
    constant and let the upload keep up with curl.
    """

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        pool_kwargs.setdefault("blocksize", SEND_BLOCK_BYTES)
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)


class Transport:
    """Owns the requests session; sends API calls and fetches result files."""

    def __init__(
        self,
        *,
        timeout: tuple[float, float] = (10, 60),
        upload_timeout: tuple[float, float] = (10, 600),
        retries: int = 4,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        user_agent: str = f"mvsepd/{__version__}",
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        if max_answer_bytes <= 0:
            raise ValueError("max_answer_bytes must be positive")
        self._policy = RetryPolicy(
            retries=retries,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            sleep=sleep,
            clock=clock,
        )
        self._timeout = timeout
        self._upload_timeout = upload_timeout
        self._clock = clock
        self._max_answer_bytes = max_answer_bytes
        self._owns_session = session is None
        self._session = session if session is not None else requests.Session()
        # Creates go on connections of their own, opened for each (``_fresh_connection_session``);
        # a session handed in (tests) serves both.
        self._create_session = session if session is not None else requests.Session()
        for owned in (self._session, self._create_session) if session is None else ():
            for prefix in ("http://", "https://"):
                owned.mount(prefix, _LargeBlockAdapter())
        self._session.headers["User-Agent"] = user_agent
        self._create_session.headers["User-Agent"] = user_agent
        install_log_redaction()

    def __repr__(self) -> str:
        return f"Transport(timeout={self._timeout}, retries={self._policy.retries})"

    def mount(self, prefix: str, adapter: BaseAdapter) -> None:
        """Route URLs starting with ``prefix`` through ``adapter`` (tests mount a scripted one)."""
        self._session.mount(prefix, adapter)
        self._create_session.mount(prefix, adapter)

    def close(self) -> None:
        """Close the sessions' connections (only if this transport created them)."""
        if self._owns_session:
            self._session.close()
            self._create_session.close()

    def _fresh_connection_session(self) -> requests.Session:
        """The session a create goes out on, with no idle connection left in its pool.

        MVSEP closes a kept-alive connection after 5 s idle; a request written into one just as
        it closes is lost, and for a create that means looking the job up in the history before
        anything else can happen. So every create goes on a connection opened for it (one more
        handshake per upload); what is in flight on the session is not disturbed.
        """
        if self._owns_session:
            for adapter in self._create_session.adapters.values():
                if isinstance(adapter, HTTPAdapter):
                    adapter.poolmanager.clear()
        return self._create_session

    def __enter__(self) -> Transport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- API calls -------------------------------------------------------------------------

    def get(
        self, url: str, *, endpoint: str, params: Mapping[str, str] | None = None
    ) -> WireResponse:
        """Given a full URL and query, return the answer; retried per the GET policy.

        Raise NetworkError when no answer arrived after the retries.
        """
        return self._policy.run(
            lambda: self._attempt("GET", url, endpoint, params=params, timeout=self._timeout),
            endpoint,
            idempotent=True,
        )

    def post(
        self, url: str, *, endpoint: str, fields: Mapping[str, str], creates: bool = False
    ) -> WireResponse:
        """Given a full URL and form fields, POST them urlencoded and return the answer.

        Retried only when nothing was sent. Raise NetworkError when no answer arrived, or
        OutcomeUnknownError if ``creates`` and the request may have reached the server.
        """
        return self._policy.run(
            lambda: self._attempt(
                "POST", url, endpoint, data=dict(fields), timeout=self._timeout, creates=creates
            ),
            endpoint,
            idempotent=False,
        )

    def upload(
        self,
        url: str,
        *,
        endpoint: str,
        fields: Sequence[tuple[str, str]],
        files: Sequence[tuple[str, UploadFile]] = (),
        progress: Progress | None = None,
        creates: bool = True,
        stream: tuple[str, UploadStream] | None = None,
    ) -> WireResponse:
        """Given form fields and open files, POST them as streamed multipart; return the answer.

        The files are read in chunks as the socket takes them (constant memory); ``progress``
        gets ``(bytes_sent, bytes_total)``. With ``stream`` (a field name and an
        ``UploadStream``), that part follows the files, made as it is sent, and the body goes
        chunked (``progress`` is then the stream's own business). Never retried. Raise
        NetworkError when the connection failed before sending, OutcomeUnknownError (if
        ``creates``) when the answer was lost after the request went out.
        """
        if stream is not None:
            boundary = uuid.uuid4().hex
            outcome = self._attempt(
                "POST",
                url,
                endpoint,
                data=_multipart_chunks(boundary, fields, stream),
                headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
                timeout=self._upload_timeout,
                creates=creates,
            )
            if isinstance(outcome, Failure):
                raise outcome.error
            return outcome
        parts: list[tuple[str, str | UploadFile]] = [*fields, *files]
        encoder = MultipartEncoder(fields=parts)
        callback = None
        if progress is not None:
            report = progress

            def callback(monitor: MultipartEncoderMonitor) -> None:
                report(monitor.bytes_read, monitor.len)

        monitor = MultipartEncoderMonitor(encoder, callback)
        outcome = self._attempt(
            "POST",
            url,
            endpoint,
            data=monitor,
            headers={"Content-Type": monitor.content_type},
            timeout=self._upload_timeout,
            creates=creates,
        )
        if isinstance(outcome, Failure):
            raise outcome.error
        return outcome

    # -- downloads -------------------------------------------------------------------------

    def download(
        self,
        url: str,
        destination: Path,
        *,
        allowed_origins: Collection[tuple[str, str, int]],
        expected_size: int | None = None,
        max_bytes: int | None = None,
        progress: Progress | None = None,
    ) -> Path:
        """Given a file URL and a destination, stream it there (see ``api.download``).

        Network failures, 5xx and 429 are retried like GETs, resuming from the ``.part``.
        """
        return self._policy.call(
            lambda: _download.fetch(
                url,
                destination,
                open_stream=self._open_stream,
                allowed_origins=allowed_origins,
                expected_size=expected_size,
                max_bytes=max_bytes,
                progress=progress,
                now=self._clock,
            ),
            _download.url_endpoint(url),
        )

    def _open_stream(self, url: str, headers: Mapping[str, str]) -> _download.Stream:
        endpoint = _download.url_endpoint(url)
        failure: Failure | None = None
        try:
            response = self._session.get(
                url,
                headers=dict(headers),
                timeout=self._timeout,
                verify=True,
                allow_redirects=False,
                stream=True,
            )
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            failure = translate(exc, endpoint, creates=False, host=host_of(url))
        if failure is not None:
            raise failure.error
        return _ResponseStream(response, endpoint, host_of(url))

    # -- internals -------------------------------------------------------------------------

    def _attempt(
        self,
        method: str,
        url: str,
        endpoint: str,
        *,
        timeout: tuple[float, float],
        params: Mapping[str, str] | None = None,
        data: object = None,
        headers: Mapping[str, str] | None = None,
        creates: bool = False,
    ) -> WireResponse | Failure:
        started = time.monotonic()
        failure: Failure | None = None
        session = self._fresh_connection_session() if creates else self._session
        try:
            response = session.request(
                method,
                url,
                params=params,
                data=data,  # type: ignore[arg-type]  # a MultipartEncoderMonitor streams
                headers=headers,
                timeout=timeout,
                verify=True,
                allow_redirects=False,
                stream=True,
            )
            try:
                body = self._read_answer(response)
            finally:
                response.close()
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            failure = translate(exc, endpoint, creates=creates, host=host_of(url))
        if failure is not None:
            logger.debug("%s %s failed: %s", method, endpoint, failure.error.detail)
            return failure
        if body is None:
            error = ProtocolError(
                f"answer larger than {self._max_answer_bytes} bytes",
                endpoint=endpoint,
                status=response.status_code,
            )
            return Failure(error, nothing_sent=False, retriable=False)
        logger.debug(
            "%s %s -> HTTP %d, %d bytes in %.2fs",
            method,
            endpoint,
            response.status_code,
            len(body),
            time.monotonic() - started,
        )
        return WireResponse(response.status_code, response.headers, body, endpoint)

    def _read_answer(self, response: requests.Response) -> bytes | None:
        buffer = bytearray()
        for chunk in response.iter_content(_CHUNK):
            buffer += chunk
            if len(buffer) > self._max_answer_bytes:
                return None
        return bytes(buffer)


def _multipart_chunks(
    boundary: str, fields: Sequence[tuple[str, str]], stream: tuple[str, UploadStream]
) -> Iterator[bytes]:
    """A multipart/form-data body whose last part is made as it is sent (see ``upload``)."""
    dash = f"--{boundary}\r\n".encode("ascii")
    for name, value in fields:
        field = RequestField(name=name, data=value)
        field.make_multipart()
        # ``encode``, not ``str``: a token's value prints as *** but goes out as it is.
        yield dash + field.render_headers().encode("utf-8") + value.encode("utf-8") + b"\r\n"
    name, (filename, chunks, content_type) = stream
    part = RequestField(name=name, data=b"", filename=filename)
    part.make_multipart(content_type=content_type)
    yield dash + part.render_headers().encode("utf-8")
    for chunk in chunks:
        if chunk:
            yield chunk
    yield f"\r\n--{boundary}--\r\n".encode("ascii")


class _ResponseStream:
    """A streamed download answer whose read errors arrive as mvsepd errors."""

    def __init__(self, response: requests.Response, endpoint: str, host: str) -> None:
        self._response = response
        self._endpoint = endpoint
        self._host = host

    @property
    def status(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    def chunks(self) -> Iterator[bytes]:
        iterator = self._response.iter_content(_CHUNK)
        while True:
            failure: Failure | None = None
            try:
                chunk = next(iterator)
            except StopIteration:
                return
            except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
                failure = translate(exc, self._endpoint, creates=False, host=self._host)
            if failure is not None:
                raise failure.error
            yield chunk

    def close(self) -> None:
        self._response.close()
