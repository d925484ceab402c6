"""The SHA-256 of a hot folder's files, taken once per version of a file, and early.

A job's identity is the SHA-256 of its file: it must be known before anything is sent, or the
same audio could be paid for twice. Reading an 86 MB export takes a quarter of a second, so
the engine takes it while the file waits out its last second after its writer closed it
(``Engine`` asks for it when intake says a file was closed); when the file is judged ready its
hash is at hand and the upload starts at once. A version is the file's (size, mtime, inode):
a hash taken of a version that changed while it was read is not kept, and one asked for while
another thread reads the same file waits for that read instead of reading it again (a file
dropped for several presets is read once).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from mvsepd.domain.hashing import file_sha256

_Version = tuple[int, int, int]
#: Versions remembered (the newest): far more than files waiting at once.
_KEPT = 256


def _version(path: Path) -> _Version:
    status = os.stat(path)
    return status.st_size, status.st_mtime_ns, status.st_ino


class ContentHashes:
    """Hashes of files by version (see the module docstring). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: OrderedDict[str, tuple[_Version, str]] = OrderedDict()
        self._reading: dict[str, threading.Event] = {}

    def sha256(
        self,
        path: Path,
        *,
        reading: Callable[[Path], contextlib.AbstractContextManager[None]] | None = None,
    ) -> str:
        """The hex SHA-256 of ``path`` as it is now (OSError when it cannot be read);
        ``reading`` wraps the read (intake's note that the open is mvsepd's own)."""
        key = os.fspath(path)
        while True:
            version = _version(path)
            with self._lock:
                known = self._known.get(key)
                if known is not None and known[0] == version:
                    return known[1]
                other = self._reading.get(key)
                if other is None:
                    done = self._reading[key] = threading.Event()
                    break
            other.wait()
        try:
            with reading(path) if reading is not None else contextlib.nullcontext():
                digest = file_sha256(path)
            if _version(path) == version:
                with self._lock:
                    self._known[key] = (version, digest)
                    self._known.move_to_end(key)
                    while len(self._known) > _KEPT:
                        self._known.popitem(last=False)
            return digest
        finally:
            with self._lock:
                del self._reading[key]
            done.set()

    def early(
        self, path: Path, reading: Callable[[Path], contextlib.AbstractContextManager[None]]
    ) -> None:
        """Take ``path``'s hash ahead of need; a file that is gone or unreadable is left for
        the check that comes when it is ready."""
        with contextlib.suppress(OSError):
            self.sha256(path, reading=reading)
