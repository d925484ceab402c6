"""The file operations of the output folders that never overwrite and never half-write:
publishing a staged file under its final name (exclusively), finding a free name, writing a
small file atomically, reading one back, moving a finished original out of the watched tree."""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Literal

from mvsepd.domain import naming
from mvsepd.errors import OutputError

Collision = Literal["unique", "replace", "fail"]
#: errno values of a file system that cannot make hard links (FAT, some SMB servers).
_NO_HARD_LINKS = frozenset(
    {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.ENOSYS, errno.EMLINK}
)


def move_original(source: Path, destination_folder: Path) -> Path:
    """Move a finished original into ``destination_folder`` under a free name; return it."""
    try:
        destination_folder.mkdir(parents=True, exist_ok=True)
        target = free_name(destination_folder / source.name, "unique")
        os.replace(source, target)
    except OSError as error:
        if getattr(error, "errno", None) == 18:  # EXDEV: another file system
            target = free_name(destination_folder / source.name, "unique")
            shutil.copy2(source, target)
            os.remove(source)
            return target
        raise OutputError(f"cannot move {source} to {destination_folder}: {error}") from None
    return target


def publish(staged: Path, final: Path, *, replace: bool) -> None:
    """Give a staged file its final name without ever overwriting a file that appeared there
    (another host of a studio placing the same name on a share, a user's file): the final
    name is created exclusively as a hard link, then the staged name goes. Where the file
    system has no hard links, the name is checked and the file renamed (a narrow window)."""
    if replace:
        os.replace(staged, final)
        return
    try:
        os.link(staged, final)
    except FileExistsError:
        raise
    except OSError as error:
        if error.errno not in _NO_HARD_LINKS:
            raise
        if final.exists():
            raise FileExistsError(final) from None
        os.replace(staged, final)
        return
    staged.unlink()


def same_file(first: Path, second: Path) -> bool:
    try:
        return first.exists() and second.exists() and os.path.samefile(first, second)
    except OSError:
        return False


def free_name(path: Path, on_collision: Collision) -> Path:
    if not path.exists() or on_collision == "replace":
        return path
    if on_collision == "fail":
        raise OutputError(f"{path} already exists (on_collision: fail)")
    stem, suffix = path.stem, path.suffix
    counter = 2
    while True:
        # The number must survive shortening to 255 bytes, or every candidate is the same name.
        candidate = path.with_name(naming.with_addition(stem, f" ({counter})", suffix))
        if not candidate.exists():
            return candidate
        counter += 1


def write_atomically(path: Path, text: str, *, temporary_dir: Path | None = None) -> None:
    """Write ``path`` through a temporary file (in ``temporary_dir``, on the same file system)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".part", dir=temporary_dir or path.parent
    )
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
