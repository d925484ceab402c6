"""The folder picker: this machine's directories, browsed from the server's side (a browser
cannot hand a page an absolute path).

Only directories are listed, by name and path, never a file, never a file's content: the page
serves no file by path. A path that is a file, is missing, or that the user running mvsepd
cannot read and enter is refused with the reason. Hidden directories are left out unless asked
for; a directory with very many sub-directories lists the first ``MAX_LISTED`` by name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: Sub-directories listed at most (by name), so a huge directory cannot stall the page.
MAX_LISTED = 500


@dataclass(frozen=True)
class Listing:
    """A directory's sub-directories, or why it cannot be listed."""

    path: str
    parent: str | None = None
    folders: tuple[tuple[str, str, bool], ...] = ()
    truncated: bool = False
    problem: str | None = None
    #: The HTTP status the answer carries (403: not readable; 400: not a directory).
    status: int = 200

    def as_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "parent": self.parent,
            "folders": [
                {"name": name, "path": path, "readable": readable}
                for name, path, readable in self.folders
            ],
            "truncated": self.truncated,
            "problem": self.problem,
        }


def readable_directory(path: Path) -> bool:
    """True for a directory this process may list and enter."""
    return path.is_dir() and os.access(path, os.R_OK | os.X_OK)


def browse(wanted: str | None, *, show_hidden: bool = False) -> Listing:
    """List the directories in ``wanted`` (an absolute path, ``~`` allowed; the home folder
    when empty)."""
    text = (wanted or "").strip() or "~"
    path = Path(os.path.normpath(Path(text).expanduser()))
    if not path.is_absolute():
        return Listing(
            text, problem=f"{text} is not a full path (start it with / or ~)", status=400
        )
    shown = str(path)
    parent = str(path.parent) if path.parent != path else None
    if not path.exists():
        return Listing(shown, parent, problem=f"{shown} does not exist", status=404)
    if not path.is_dir():
        return Listing(shown, parent, problem=f"{shown} is a file; choose a folder", status=400)
    if not readable_directory(path):
        return Listing(
            shown, parent, problem=f"you cannot open {shown} (no permission)", status=403
        )
    found: list[tuple[str, str, bool]] = []
    try:
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.name.startswith(".") and not show_hidden:
                    continue
                try:
                    if not entry.is_dir(follow_symlinks=True):
                        continue
                except OSError:
                    continue
                child = Path(entry.path)
                found.append((entry.name, str(child), readable_directory(child)))
    except OSError as error:
        return Listing(
            shown, parent, problem=f"{shown} cannot be listed ({error.strerror})", status=403
        )
    found.sort(key=lambda item: item[0].casefold())
    return Listing(
        shown,
        parent,
        tuple(found[:MAX_LISTED]),
        truncated=len(found) > MAX_LISTED,
    )
