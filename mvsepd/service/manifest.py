"""What ``mvsepd service install`` wrote, so that uninstall removes exactly that and no more.

One small JSON file per scope (``user.json``, ``system.json``) in the user's state folder names
the platform, the name the service tool knows (unit, label or task), the file written and its
SHA-256. Files are written atomically: a temporary file in the same folder, fsync, rename.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from mvsepd.errors import ServiceError

MANIFEST_VERSION = 1


@dataclass(frozen=True)
class Manifest:
    """One installed service."""

    platform: str
    scope: str
    name: str
    file: str
    sha256: str
    config: str
    installed_at: str
    mvsepd_version: str
    manifest_version: int = MANIFEST_VERSION


def manifest_path(directory: Path, scope: str) -> Path:
    """The manifest of ``scope`` (``user`` or ``system``) in ``directory``."""
    return directory / f"{scope}.json"


def read_manifest(path: Path) -> Manifest | None:
    """The manifest at ``path``, or None when nothing was installed."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise ServiceError(
            f"{path} (the record of what `mvsepd service install` wrote) cannot be read: "
            f"{error}; remove it only after removing the service by hand"
        ) from None
    try:
        return Manifest(**data)
    except TypeError:
        raise ServiceError(
            f"{path} is not a record `mvsepd service install` understands; "
            "remove the service by hand, then this file"
        ) from None


def write_manifest(path: Path, manifest: Manifest) -> None:
    """Record ``manifest`` at ``path``."""
    text = json.dumps(asdict(manifest), indent=2, ensure_ascii=False) + "\n"
    atomic_write(path, text.encode("utf-8"), mode=0o600)


def digest(data: bytes) -> str:
    """SHA-256 of ``data`` in hex."""
    return hashlib.sha256(data).hexdigest()


def file_digest(path: Path) -> str | None:
    """SHA-256 of the file at ``path``, or None when there is no readable file."""
    try:
        return digest(path.read_bytes())
    except OSError:
        return None


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` all at once: a reader sees the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if os.name != "nt":
            # The umask may have narrowed the mode; units and plists must be readable.
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
