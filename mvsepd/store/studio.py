"""How studio hosts name paths in the shared database.

A share is mounted at a different path on each host (``/mnt/nas``, ``/Volumes/nas``,
``\\\\nas\\studio``), so a path below a share is written as ``share:<id>:<path relative to
the mount>`` and read back below this host's mount of that share. Any other path is this host's
alone and written as ``@<host id>:<path>``: a path another host wrote that way is not reachable
here (it is shown, never acted on). PostgreSQL text cannot hold NUL, which the one-machine
store uses to mark file names that are not UTF-8; here that mark is U+FFFF.
"""

from __future__ import annotations

import ntpath
from collections.abc import Mapping
from pathlib import PurePath, PurePosixPath

from mvsepd.store import records

_SHARE = "share:"
_HOST = "@"
_NUL_MARK = "\0"
_DB_MARK = "\uffff"


class StudioPaths(records.PathCodec):
    """Paths of one host of a studio: ``shares`` maps share ids to this host's mounts."""

    def __init__(self, host_id: str, shares: Mapping[str, str]) -> None:
        self.host_id = host_id
        # Longest mount first: a share mounted inside another one is matched before it.
        self._mounts = sorted(
            ((share, PurePath(mount)) for share, mount in shares.items()),
            key=lambda item: len(item[1].parts),
            reverse=True,
        )

    def to_db(self, path: str) -> str:
        stored = records.path_to_db(path)
        if stored.startswith(_NUL_MARK):  # not UTF-8: kept as bytes, and as this host's
            return f"{_HOST}{self.host_id}:{_DB_MARK}{stored[1:]}"
        candidate = PurePath(path)
        for share, mount in self._mounts:
            if candidate == mount or mount in candidate.parents:
                relative = PurePosixPath(*candidate.relative_to(mount).parts)
                return f"{_SHARE}{share}:{relative.as_posix()}"
        return f"{_HOST}{self.host_id}:{path}"

    def from_db(self, text: str) -> str:
        if text.startswith(_SHARE):
            share, _, relative = text[len(_SHARE) :].partition(":")
            for known, mount in self._mounts:
                if known == share:
                    return str(mount.joinpath(*PurePosixPath(relative).parts))
            return text
        own = f"{_HOST}{self.host_id}:"
        if text.startswith(own):
            rest = text[len(own) :]
            if rest.startswith(_DB_MARK):
                return records.path_from_db(_NUL_MARK + rest[1:])
            return rest
        return text

    def relative_to_db(self, relative: str) -> str:
        stored = records.path_to_db(relative)
        if stored.startswith(_NUL_MARK):
            return _DB_MARK + stored[1:]
        # The same file on a share is one record whichever host (and separator) saw it.
        return relative.replace(ntpath.sep, "/") if ntpath.sep in relative else relative

    def relative_from_db(self, text: str) -> str:
        if text.startswith(_DB_MARK):
            return records.path_from_db(_NUL_MARK + text[1:])
        return text

    def reachable(self, path: str) -> bool:
        return not path.startswith((_SHARE, _HOST))

    def share_prefixes(self) -> list[str]:
        """How stored paths below this host's shares begin."""
        return [f"{_SHARE}{share}:" for share, _mount in self._mounts]

    def own_prefix(self) -> str:
        """How stored paths of this host alone begin."""
        return f"{_HOST}{self.host_id}:"
