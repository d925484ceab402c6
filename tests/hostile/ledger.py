"""The ledger: proof that a row wrote nothing outside the output root and lost nothing.

It takes a snapshot of the row's whole temporary tree before the daemon starts; afterwards
every path that appeared, changed or vanished must lie in the output root or mvsepd's own
folders, or be something the test itself made. Originals must keep their bytes. It also
watches the places an escaping path would reach (``~/.bashrc``, ``/etc/passwd``, ``/.bashrc``,
the folder above the test's).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from pathlib import Path
from typing import Any

from tests.integration.support import Setup


def _entry(path: Path) -> tuple[Any, ...]:
    status = os.lstat(path)
    if stat.S_ISLNK(status.st_mode):
        return ("link", os.readlink(path))
    if stat.S_ISDIR(status.st_mode):
        return ("directory",)
    return ("file", stat.S_IFMT(status.st_mode), status.st_size, status.st_mtime_ns)


def snapshot(root: Path) -> dict[Path, tuple[Any, ...]]:
    """Every path below ``root`` (links not followed) with its kind, size and mtime."""
    found: dict[Path, tuple[Any, ...]] = {}
    for directory, directories, files in os.walk(root, followlinks=False):
        for name in [*directories, *files]:
            path = Path(directory) / name
            with contextlib.suppress(FileNotFoundError):
                found[path] = _entry(path)
    return found


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sentinel(path: Path) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_size, status.st_mtime_ns


class Ledger:
    """What a test may change below its temporary folder, and a check that nothing else did."""

    def __init__(self, setup: Setup) -> None:
        self.root = setup.tmp
        paths = setup.paths
        self._allowed: list[Path] = [
            setup.outputs,
            paths.config_dir,
            paths.state_dir,
            paths.cache_dir,
            paths.log_dir,
            paths.runtime_dir,
            setup.tmp / "config.yaml",
            setup.tmp / "daemon.log",
        ]
        self._written: set[Path] = set()
        self._originals: dict[Path, str] = {}
        self._kept: dict[Path, tuple[Any, ...]] = {}
        self._before = snapshot(self.root)
        self._neighbours = set(os.listdir(self.root.parent))
        self._sentinels = {
            path: _sentinel(path)
            for path in (
                Path("/etc/passwd"),
                Path.home() / ".bashrc",
                Path("/.bashrc"),
                self.root.parent / ".bashrc",
            )
        }

    def allow(self, path: Path) -> None:
        """Let the test (not mvsepd) create or change ``path`` and everything below it."""
        self._allowed.append(path)

    def original(self, path: Path) -> None:
        """``path`` holds an original the test just wrote: it must keep these bytes."""
        self._written.add(path)
        self._originals[path] = sha256(path)

    def placed(self, path: Path) -> None:
        """``path`` is a link or a special file the test made: it must still be there as made.

        (Its content is never read: a pipe would block, a link loop fails.)
        """
        self._written.add(path)
        self._kept[path] = _entry(path)

    def forget_original(self, path: Path) -> None:
        """The test itself changes or removes ``path`` from now on."""
        self._originals.pop(path, None)
        self._kept.pop(path, None)
        self._written.add(path)

    def _may_change(self, path: Path) -> bool:
        if path in self._written:
            return True
        return any(path == allowed or allowed in path.parents for allowed in self._allowed)

    def problems(self) -> list[str]:
        found: list[str] = []
        after = snapshot(self.root)
        for path, entry in sorted(after.items()):
            if self._before.get(path) != entry and not self._may_change(path):
                found.append(f"written outside the output root: {path} {entry}")
        for path in sorted(self._before.keys() - after.keys()):
            if not self._may_change(path):
                found.append(f"removed: {path}")
        for path, digest in sorted(self._originals.items()):
            if not path.exists():
                found.append(f"original lost: {path}")
            elif sha256(path) != digest:
                found.append(f"original changed: {path}")
        for path, made in sorted(self._kept.items()):
            try:
                now = _entry(path)
            except FileNotFoundError:
                now = ("gone",)
            if now != made:
                found.append(f"changed: {path} {made} -> {now}")
        for path, before in self._sentinels.items():
            if _sentinel(path) != before:
                found.append(f"{path} changed")
        new_neighbours = set(os.listdir(self.root.parent)) - self._neighbours
        if new_neighbours:
            found.append(f"written next to the test's folder: {sorted(new_neighbours)}")
        return found

    def check(self) -> None:
        problems = self.problems()
        assert not problems, "\n".join(problems)
