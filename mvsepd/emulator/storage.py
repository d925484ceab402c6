"""The server's files: a private temporary directory, and serving ``/storage/...`` from it.

Layout (all removed when the server stops)::

    <root>/uploads/     multipart file parts, streamed here while the request is parsed
    <root>/temp/        input copies, served as /storage/temp/<hash>            [REC path]
    <root>/processed/   stems, served as /storage/processed/<name>             [REC path]
    <root>/work/        scratch space (decoded inputs, quality-checker zips)

Static files are served without rate limiting, with ``Accept-Ranges: bytes`` and 206 / 416
answers to Range requests when enabled (whether MVSEP honours Range is unknown; clients fall
back to a full download on 200) [INF].
"""

from __future__ import annotations

import mimetypes
import shutil
import tempfile
import threading
from pathlib import Path
from typing import BinaryIO

from werkzeug.utils import send_file
from werkzeug.wrappers import Request, Response

PUBLIC_DIRS = ("temp", "processed")
_MIME_TYPES = {
    ".mp3": "audio/mpeg",
    ".wav": "audio/x-wav",
    ".flac": "audio/flac",
    ".m4a": "audio/mp4",
    ".ogg": "audio/ogg",
}


class Storage:
    """Owns the directory tree above; thread-safe for concurrent readers and writers."""

    def __init__(self, parent: str | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="mvsepd-emulator-", dir=parent))
        for name in ("uploads", "temp", "processed", "work"):
            (self.root / name).mkdir()
        self._lock = threading.Lock()
        self._counter = 0
        self._served: dict[str, int] = {}

    @property
    def uploads(self) -> Path:
        return self.root / "uploads"

    @property
    def temp(self) -> Path:
        return self.root / "temp"

    @property
    def processed(self) -> Path:
        return self.root / "processed"

    def scratch(self, suffix: str = "") -> Path:
        """A fresh path under ``work/`` (not created)."""
        with self._lock:
            self._counter += 1
            return self.root / "work" / f"{self._counter:08d}{suffix}"

    def remove(self, path: Path | None) -> None:
        """Delete a file if it exists (expired or deleted jobs)."""
        if path is not None:
            path.unlink(missing_ok=True)

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def public_path(self, directory: str, name: str) -> Path | None:
        """The file for ``/storage/<directory>/<name>``, or None if there is none."""
        if directory not in PUBLIC_DIRS or not name or "/" in name or "\\" in name:
            return None
        if name in (".", "..") or name.startswith("."):
            return None
        path = self.root / directory / name
        return path if path.is_file() else None

    def served(self) -> dict[str, int]:
        """How often each public file was asked for (GET or HEAD, whole or a range), by name:
        for tests, how many times a client fetched a stem."""
        with self._lock:
            return dict(self._served)

    def serve(self, request: Request, path: Path, *, ranges: bool, server_header: str) -> Response:
        """Stream ``path`` (GET or HEAD), honouring Range when ``ranges``."""
        with self._lock:
            self._served[path.name] = self._served.get(path.name, 0) + 1
        mimetype = _MIME_TYPES.get(path.suffix.lower()) or (
            mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        )
        # Werkzeug's dev server may skip close() on the body when the client has gone away;
        # this wrapper then closes the file when it is collected.
        request.environ["wsgi.file_wrapper"] = _ClosingFile
        response = send_file(
            path,
            request.environ,
            mimetype=mimetype,
            conditional=ranges,
            etag=ranges,
            max_age=None,
        )
        response.headers["Server"] = server_header
        if not ranges:
            response.headers.pop("Accept-Ranges", None)
        return response


class _ClosingFile:
    """A WSGI file wrapper that always closes its file, even if nobody calls close().

    It is its own iterator (Werkzeug's range wrapper seeks on the iterator it gets back).
    """

    def __init__(self, file: BinaryIO, buffer_size: int = 64 * 1024) -> None:
        self._file = file
        self._buffer_size = buffer_size

    def __iter__(self) -> _ClosingFile:
        return self

    def __next__(self) -> bytes:
        block = self._file.read(self._buffer_size)
        if not block:
            self._file.close()
            raise StopIteration
        return block

    def close(self) -> None:
        self._file.close()

    def __del__(self) -> None:
        # Runs when the server dropped the response without close(): no leaked handle.
        self._file.close()

    def seekable(self) -> bool:
        return self._file.seekable()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()
