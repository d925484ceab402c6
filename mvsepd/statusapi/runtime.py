"""The runtime file: how clients find the running daemon's status API and prove they may use it.

The daemon writes ``statusapi.json`` into the user runtime directory (0700) with mode 0600:
its version, pid, host, port, start time and a random token. Clients (``mvsepd status``, the
tray) read it; whoever can read it is the user, which is the whole access model. The file is
written atomically (a temporary file renamed over it) so a client never reads half of it, and
removed when the daemon stops, unless a newer daemon has replaced it meanwhile.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mvsepd.errors import DaemonUnreachableError
from mvsepd.models import Secret
from mvsepd.paths import ensure_private_directory

#: Bytes of randomness in a status token (``secrets.token_urlsafe`` gives ~1.3 characters each).
TOKEN_BYTES = 32


def new_token() -> Secret:
    """Return a fresh random status API token."""
    return Secret(secrets.token_urlsafe(TOKEN_BYTES))


@dataclass(frozen=True)
class RuntimeInfo:
    """What the runtime file says about the daemon that wrote it."""

    version: str
    pid: int
    host: str
    port: int
    token: Secret
    started_at: float
    #: Whether the daemon serves mvsepd's page (on the same host and port).
    page: bool = False

    def to_json(self) -> dict[str, Any]:
        """The file's content (the only place the status token is revealed, besides the wire)."""
        return {
            "version": self.version,
            "pid": self.pid,
            "host": self.host,
            "port": self.port,
            "token": self.token.reveal(),
            "started_at": self.started_at,
            "page": self.page,
        }

    @classmethod
    def from_json(cls, value: Any, *, source: Path) -> RuntimeInfo:
        """Parse the file's content; raise DaemonUnreachableError saying what is wrong."""
        try:
            if not isinstance(value, dict):
                raise TypeError("not a JSON object")
            token = value["token"]
            host = value["host"]
            if not isinstance(token, str) or not token or not isinstance(host, str):
                raise TypeError("token and host must be text")
            return cls(
                version=str(value.get("version", "unknown")),
                pid=int(value["pid"]),
                host=host,
                port=int(value["port"]),
                token=Secret(token),
                started_at=float(value.get("started_at", 0.0)),
                page=value.get("page") is True,
            )
        except (KeyError, TypeError, ValueError) as error:
            raise DaemonUnreachableError(
                f"mvsepd is not running: its runtime file {source} is unreadable ({error}); "
                "start it with `mvsepd run`"
            ) from None


def write_runtime_file(path: Path, info: RuntimeInfo) -> None:
    """Write ``info`` to ``path`` atomically, readable only by the user."""
    ensure_private_directory(path.parent)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    # O_EXCL with 0600 from the start: the token is never readable by others, not even briefly.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(info.to_json(), handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def read_runtime_file(path: Path) -> RuntimeInfo:
    """Read the runtime file; raise DaemonUnreachableError when there is none or it is unusable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DaemonUnreachableError(
            f"mvsepd is not running (no runtime file at {path}); start it with `mvsepd run`"
        ) from None
    except OSError as error:
        raise DaemonUnreachableError(
            f"mvsepd's runtime file {path} cannot be read ({error.strerror or error})"
        ) from None
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    return RuntimeInfo.from_json(value, source=path)


def remove_runtime_file(path: Path, token: Secret) -> bool:
    """Remove the runtime file if it is still the one holding ``token``; True if removed.

    A daemon that stops must not delete the file of another daemon that started since.
    """
    try:
        current = read_runtime_file(path)
    except DaemonUnreachableError:
        return False
    if current.token.reveal() != token.reveal():
        return False
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return True
