"""Fetching one result file safely: checked hosts, manual redirects, resume, size limits, rename.

This module knows nothing about requests: the transport hands it an ``OpenStream`` callable whose
streams already raise mvsepd errors. The file goes to ``<destination>.part`` and is renamed with
``os.replace`` only when complete, so the destination is either whole or absent.

- Every URL, including each redirect hop (at most ``MAX_REDIRECTS``), must be http(s) and on an
  allowed origin, or ``UnsafeDownloadError`` is raised before anything is fetched from it.
- An existing ``.part`` is resumed with ``Range: bytes=<size>-``. A 206 must carry exactly
  ``Content-Range: bytes <size>-<total-1>/<total>``; anything else (and a 416) discards the
  ``.part`` and starts again from zero once. A 200 is a full download that replaces the ``.part``.
- The size is checked against Content-Length or the Content-Range total, and ``expected_size``
  when given; more bytes than the smallest of those and ``max_bytes`` are never written.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from typing import Protocol
from urllib.parse import urljoin, urlsplit

from mvsepd.api.httputil import header, parse_content_length, parse_content_range, parse_retry_after
from mvsepd.api.redaction import redact_url
from mvsepd.api.servers import host_of, origin_of
from mvsepd.errors import (
    DownloadError,
    NetworkError,
    NotFoundError,
    OutputError,
    OversizeDownloadError,
    RateLimitedError,
    ServerError,
    UnsafeDownloadError,
)

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})

Origin = tuple[str, str, int]
Progress = Callable[[int, int], None]


class Stream(Protocol):
    """One HTTP answer whose body is read in chunks; errors arrive as mvsepd errors."""

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    def chunks(self) -> Iterator[bytes]: ...

    def close(self) -> None: ...


#: Open ``url`` with extra request ``headers``; redirects are not followed.
OpenStream = Callable[[str, Mapping[str, str]], Stream]


class _Restart(Exception):
    """The partial file cannot be trusted: start over from byte zero (internal signal)."""


def part_path(destination: Path) -> Path:
    """Return the temporary path a download of ``destination`` is written to."""
    return destination.with_name(destination.name + ".part")


def url_endpoint(url: str) -> str:
    """Return the path of ``url`` for error messages (no host, no query)."""
    try:
        return urlsplit(url).path or "/"
    except ValueError:
        return "download"


def check_url(url: str, allowed_origins: Collection[Origin], endpoint: str) -> None:
    """Raise UnsafeDownloadError unless ``url`` is http(s) on one of ``allowed_origins``."""
    origin = origin_of(url)
    shown = redact_url(url)[:300]
    if origin is None:
        raise UnsafeDownloadError(
            f"refusing to fetch {shown!r}: only http(s) URLs without credentials are allowed",
            endpoint=endpoint,
        )
    if origin not in allowed_origins:
        allowed = ", ".join(sorted(f"{s}://{h}:{p}" for s, h, p in allowed_origins)) or "none"
        raise UnsafeDownloadError(
            f"refusing to fetch {shown!r}: host is not the job's server (allowed: {allowed})",
            endpoint=endpoint,
        )


def fetch(
    url: str,
    destination: Path,
    *,
    open_stream: OpenStream,
    allowed_origins: Collection[Origin],
    expected_size: int | None = None,
    max_bytes: int | None = None,
    progress: Progress | None = None,
    now: Callable[[], float] | None = None,
) -> Path:
    """Given a result URL and a destination, write the file there and return the destination.

    Raise UnsafeDownloadError for a URL or redirect outside ``allowed_origins``, DownloadError
    for a wrong or inconsistent size, NotFoundError for 404/410, ServerError/RateLimitedError
    for 5xx/429, NetworkError when the connection fails (the ``.part`` is kept for resuming),
    and OutputError when the local file cannot be written.
    """
    endpoint = url_endpoint(url)
    check_url(url, allowed_origins, endpoint)
    part = part_path(destination)
    offset = _existing_size(part)
    limit = min((n for n in (expected_size, max_bytes) if n is not None), default=None)
    if limit is not None and offset > limit:
        _discard(part)
        offset = 0
    for _ in range(2):
        stream = _open_following_redirects(url, open_stream, allowed_origins, endpoint, offset)
        try:
            _receive(
                stream,
                part,
                offset,
                endpoint,
                host=host_of(url),
                expected_size=expected_size,
                max_bytes=max_bytes,
                progress=progress,
                now=now,
            )
        except _Restart as restart:
            logger.info("%s: %s; downloading again from the start", endpoint, restart)
            _discard(part)
            offset = 0
            continue
        finally:
            stream.close()
        try:
            os.replace(part, destination)
        except OSError as error:
            raise OutputError(f"cannot move {part.name} into place: {error.strerror}") from None
        return destination
    raise DownloadError("the server's ranges stayed inconsistent", endpoint=endpoint)


def _open_following_redirects(
    url: str,
    open_stream: OpenStream,
    allowed_origins: Collection[Origin],
    endpoint: str,
    offset: int,
) -> Stream:
    request_headers = {"Accept-Encoding": "identity"}
    if offset > 0:
        request_headers["Range"] = f"bytes={offset}-"
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        check_url(current, allowed_origins, endpoint)
        stream = open_stream(current, request_headers)
        if stream.status not in _REDIRECTS:
            return stream
        location = header(stream.headers, "Location")
        stream.close()
        if not location:
            raise DownloadError(
                f"HTTP {stream.status} redirect without a Location", endpoint=endpoint
            )
        current = urljoin(current, location.strip())
    raise DownloadError(f"more than {MAX_REDIRECTS} redirects", endpoint=endpoint)


def _receive(
    stream: Stream,
    part: Path,
    offset: int,
    endpoint: str,
    *,
    host: str,
    expected_size: int | None,
    max_bytes: int | None,
    progress: Progress | None,
    now: Callable[[], float] | None,
) -> None:
    status = stream.status
    headers = stream.headers
    if status == 416 and offset > 0:
        raise _Restart("the server refused to resume (HTTP 416)")
    if status == 206:
        content_range = parse_content_range(header(headers, "Content-Range"))
        if (
            content_range is None
            or content_range.first != offset
            or content_range.last != content_range.total - 1
        ):
            if offset > 0:
                raise _Restart("the server's Content-Range does not continue the partial file")
            raise DownloadError(
                "HTTP 206 with an unusable Content-Range", endpoint=endpoint, status=206
            )
        length = parse_content_length(header(headers, "Content-Length"))
        if length is not None and length != content_range.total - offset:
            raise _Restart("Content-Length disagrees with Content-Range")
        total: int | None = content_range.total
        start = offset
    elif status == 200:
        encoded = (header(headers, "Content-Encoding") or "identity").strip().lower()
        total = (
            parse_content_length(header(headers, "Content-Length"))
            if encoded == "identity"
            else None
        )
        start = 0
    else:
        raise _status_error(status, headers, endpoint, now)
    content_type = (header(headers, "Content-Type") or "").lower()
    if content_type.startswith(("text/html", "application/xhtml")):
        raise DownloadError(
            "the server sent a web page instead of the file", endpoint=endpoint, status=status
        )
    if total is not None:
        if expected_size is not None and total != expected_size:
            _discard(part)
            raise DownloadError(
                f"the server offers {total} bytes but {expected_size} were expected",
                endpoint=endpoint,
                status=status,
            )
        if max_bytes is not None and total > max_bytes:
            _discard(part)
            raise OversizeDownloadError(
                f"the server offers {megabytes(total)}, more than the limit of "
                f"{megabytes(max_bytes)}",
                endpoint=endpoint,
                status=status,
            )
    ceiling = min((n for n in (total, expected_size, max_bytes) if n is not None), default=None)
    shown_total = total if total is not None else (expected_size or 0)
    written = _write(stream, part, start, ceiling, (endpoint, host), status, progress, shown_total)
    if total is not None and written != total:
        raise DownloadError(
            f"the file ended after {written} of {total} bytes", endpoint=endpoint, status=status
        )
    if expected_size is not None and written != expected_size:
        raise DownloadError(
            f"the file ended after {written} of {expected_size} expected bytes",
            endpoint=endpoint,
            status=status,
        )


def _write(
    stream: Stream,
    part: Path,
    start: int,
    ceiling: int | None,
    where: tuple[str, str],
    status: int,
    progress: Progress | None,
    shown_total: int,
) -> int:
    endpoint, host = where
    written = start
    oversize = False
    try:
        with open(part, "ab" if start > 0 else "wb") as output:
            if progress is not None:
                progress(written, shown_total)
            for chunk in stream.chunks():
                if ceiling is not None and written + len(chunk) > ceiling:
                    oversize = True
                    break
                output.write(chunk)
                written += len(chunk)
                if progress is not None and chunk:
                    progress(written, shown_total)
            output.flush()
            os.fsync(output.fileno())
    except OSError as error:
        raise OutputError(f"cannot write {part.name}: {error.strerror}") from None
    except NetworkError as error:
        # What was written stays in the .part file: the next attempt resumes from there.
        raise NetworkError(
            _broke_after(written, shown_total, host), endpoint=error.endpoint, status=error.status
        ) from None
    if oversize:
        _discard(part)
        raise OversizeDownloadError(
            f"the server sent more than {megabytes(ceiling or 0)}; download cut off",
            endpoint=endpoint,
            status=status,
        )
    return written


def megabytes(size: int) -> str:
    """A byte count as people read it: ``48.0 MB`` (MiB), ``640 kB`` below one."""
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} kB"
    return f"{size / (1024 * 1024):.1f} MB"


def _broke_after(done: int, total: int, host: str) -> str:
    if not total:
        got = megabytes(done)
    elif total >= 1024 * 1024:
        got = f"{done / (1024 * 1024):.1f} of {megabytes(total)}"
    else:
        got = f"{done / 1024:.0f} of {megabytes(total)}"
    return f"the connection to {host} broke after {got}"


def _status_error(
    status: int, headers: Mapping[str, str], endpoint: str, now: Callable[[], float] | None
) -> Exception:
    if status in (404, 410):
        return NotFoundError(
            "the result file is gone (expired or deleted)", endpoint=endpoint, status=status
        )
    if status == 429:
        retry_after = parse_retry_after(header(headers, "Retry-After"), now() if now else None)
        return RateLimitedError(
            "too many requests", endpoint=endpoint, status=status, retry_after=retry_after
        )
    if 500 <= status <= 599:
        return ServerError("the file server failed", endpoint=endpoint, status=status)
    return DownloadError(
        f"unexpected HTTP {status} for a result file", endpoint=endpoint, status=status
    )


def _existing_size(part: Path) -> int:
    try:
        return part.stat().st_size if part.is_file() else 0
    except OSError:
        return 0


def _discard(part: Path) -> None:
    try:
        part.unlink(missing_ok=True)
    except OSError as error:
        raise OutputError(f"cannot remove {part.name}: {error.strerror}") from None
