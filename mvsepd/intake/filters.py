"""Which names and paths in a hot folder intake considers at all, and the walk that lists them.

Owns the always-ignored names (temporary, hidden, sync-tool, OS and DAW side files), the
always-ignored directories, case-insensitive name patterns, the symlink rule (a link is taken
only when its target stays inside the hot folder; directory links are never followed, so link
loops cannot trap a walk) and the mapping from a watcher's path to a path relative to the folder.

Pattern matching is our own (``fnmatch`` on the case-folded *name*): watchdog 7 changed its
pattern semantics to whole-path matching, and names are what users write patterns for.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from mvsepd.intake.records import FileStat, WatchSpec

#: File names never taken, whatever the patterns say (matched case-insensitively). Hidden names
#: (leading ".") cover ``.DS_Store``, AppleDouble ``._*``, emacs ``.#*``, Syncthing's
#: ``.syncthing.*`` and mvsepd's own ``.mvsepd*`` staging; they are listed for the reader.
ALWAYS_IGNORED_FILE_PATTERNS: tuple[str, ...] = (
    ".*",
    ".ds_store",
    "._*",
    ".#*",
    ".syncthing.*",
    ".mvsepd*",
    # Downloads, copies and editors writing under a temporary name before renaming.
    "*.part",
    "*.partial",
    "*.tmp",
    "*.temp",
    "*.crdownload",
    "*.download",
    "*.swp",
    "*~",
    "~$*",
    "~syncthing~*",
    # Operating-system clutter.
    "thumbs.db",
    "desktop.ini",
    # DAW and editor side files (peaks and analysis): Ableton .asd, REAPER .reapeaks,
    # Cubase/Nuendo .pkf, .peak/.pk (Pro Tools, WaveLab, Audacity), Audition/Sonar .ovw.
    "*.asd",
    "*.reapeaks",
    "*.pkf",
    "*.peak",
    "*.pk",
    "*.ovw",
)

#: Directory names never entered (case-insensitive), besides every hidden directory: sync-tool
#: state and version folders, NAS and OS metadata, archive leftovers, recycle bins.
ALWAYS_IGNORED_DIRECTORY_NAMES: frozenset[str] = frozenset(
    {
        ".stfolder",
        ".stversions",
        "@eadir",
        "__macosx",
        ".trashes",
        ".spotlight-v100",
        ".fseventsd",
        "$recycle.bin",
        "#recycle",
        "#snapshot",
        "system volume information",
    }
)
ALWAYS_IGNORED_DIRECTORY_PATTERNS: tuple[str, ...] = (".*", ".mvsepd*")


def _compile(patterns: Iterable[str]) -> re.Pattern[str] | None:
    translated = [fnmatch.translate(pattern.casefold()) for pattern in patterns]
    if not translated:
        return None
    return re.compile("|".join(f"(?:{item})" for item in translated))


def _name_pattern(pattern: str) -> str:
    # A name never contains a separator, so "**/*.wav" (watchdog 7 style) can only mean "*.wav".
    return pattern.replace("\\", "/").rsplit("/", 1)[-1]


_ALWAYS_IGNORED_FILES = _compile(ALWAYS_IGNORED_FILE_PATTERNS)
_ALWAYS_IGNORED_DIRECTORIES = _compile(ALWAYS_IGNORED_DIRECTORY_PATTERNS)


class NameFilter:
    """The name rules of one hot folder: its patterns and ignores plus the always-ignored."""

    def __init__(self, patterns: Iterable[str], ignore: Iterable[str] = ()) -> None:
        self.patterns = tuple(patterns)
        self.ignore = tuple(ignore)
        self._take = _compile(_name_pattern(pattern) for pattern in self.patterns)
        self._skip = _compile(_name_pattern(pattern) for pattern in self.ignore)
        # The always-ignored and the folder's own ignores in one expression: one match a name.
        self._refuse = _compile(
            [*ALWAYS_IGNORED_FILE_PATTERNS, *(_name_pattern(pattern) for pattern in self.ignore)]
        )

    @classmethod
    def for_spec(cls, spec: WatchSpec) -> NameFilter:
        """The filter a ``WatchSpec`` asks for."""
        return cls(spec.patterns, spec.ignore)

    def accepts_file(self, name: str) -> bool:
        """True when a file of this name may be taken."""
        folded = name.casefold()
        refuse, take = self._refuse, self._take
        if refuse is not None and refuse.match(folded) is not None:
            return False
        return take is not None and take.match(folded) is not None

    def accepts_directory(self, name: str) -> bool:
        """True when a sub-folder of this name may be entered (recursive folders only)."""
        folded = name.casefold()
        if folded in ALWAYS_IGNORED_DIRECTORY_NAMES:
            return False
        return not (_matches(_ALWAYS_IGNORED_DIRECTORIES, folded) or _matches(self._skip, folded))


def _matches(pattern: re.Pattern[str] | None, folded_name: str) -> bool:
    return pattern is not None and pattern.match(folded_name) is not None


def relative_parts(root: str, path: str) -> tuple[str, ...] | None:
    """The components of ``path`` below ``root``; ``()`` for the root itself, None if outside."""
    try:
        relative = os.path.relpath(path, root)
    except ValueError:  # another drive on Windows
        return None
    if relative == os.curdir:
        return ()
    if relative == os.pardir or relative.startswith(os.pardir + os.sep) or os.path.isabs(relative):
        return None
    return tuple(relative.split(os.sep))


def is_within(root: str, path: str) -> bool:
    """True when ``path`` is ``root`` or lies below it (both already resolved)."""
    root_key = os.path.normcase(root)
    path_key = os.path.normcase(path)
    prefix = root_key if root_key.endswith(os.sep) else root_key + os.sep
    return path_key == root_key or path_key.startswith(prefix)


def resolved(path: str) -> str:
    """``path`` with every symlink resolved, as far as it exists."""
    return os.path.realpath(path)


@dataclass(frozen=True)
class FolderView:
    """One hot folder's tree as the filters see it: where it is and which names count."""

    root: str  # absolute, as the engine named it (files are reported under this)
    real_root: str  # the same with symlinks resolved (containment checks use this)
    recursive: bool
    names: NameFilter

    def eligible_parts(self, parts: tuple[str, ...]) -> bool:
        """True when a file at these relative components may be taken, judging by names only."""
        if not parts:
            return False
        if len(parts) > 1 and not self.recursive:
            return False
        if not all(self.names.accepts_directory(part) for part in parts[:-1]):
            return False
        return self.names.accepts_file(parts[-1])

    def link_stays_inside(self, path: str) -> bool:
        """True when following the symlink at ``path`` ends inside the hot folder."""
        return is_within(self.real_root, resolved(path))


class FoundFile(NamedTuple):
    """An eligible regular file found by a walk (a named tuple: one per file per scan)."""

    path: str
    relative_path: str  # "/"-separated
    stat: FileStat


ProblemCallback = Callable[[str, OSError], None]
#: Told once a path is passed over although its name matches: the path, and why in words.
IgnoredCallback = Callable[[str, str], None]


def file_stat_if_regular(
    view: FolderView, path: str, *, on_ignored: IgnoredCallback
) -> FileStat | None:
    """The stat of ``path`` when it is a regular file (or a link to one inside the folder).

    Returns None for directories, special files, dangling or looping links and links that
    leave the folder; each of the last three is told to ``on_ignored`` with the reason, since
    a user who dropped it there wonders why nothing happens. Raises FileNotFoundError when the
    path is gone and OSError when it cannot be examined.
    """
    link_status = os.lstat(path)
    if stat.S_ISLNK(link_status.st_mode):
        if not view.link_stays_inside(path):
            on_ignored(path, "a symlink that leads outside the hot folder")
            return None
        try:
            target_status = os.stat(path)
        except OSError:
            on_ignored(path, "a symlink that leads nowhere (its target is missing, or links loop)")
            return None
        if not stat.S_ISREG(target_status.st_mode):
            on_ignored(path, "a symlink to something that is not a file")
            return None
        return FileStat.of(target_status)
    if not stat.S_ISREG(link_status.st_mode):
        if not stat.S_ISDIR(link_status.st_mode):
            on_ignored(path, "not a regular file (a pipe, socket or device)")
        return None
    # os.stat rather than the lstat above: on Windows only os.stat fills in st_ino.
    return FileStat.of(os.stat(path)) if os.name == "nt" else FileStat.of(link_status)


def changed_before(path: str, moment: float) -> bool:
    """True when ``path``'s content (mtime) and its place (ctime: a rename or copy into the
    folder sets it; on Windows, its creation) are both older than ``moment`` (wall-clock
    seconds); a file that cannot be examined is not."""
    try:
        status = os.stat(path)
    except OSError:
        return False
    return max(status.st_mtime_ns, status.st_ctime_ns) < moment * 1e9


def _listing(
    directory: str, *, raise_problem: bool, on_problem: ProblemCallback
) -> list[os.DirEntry[str]] | None:
    """The entries of ``directory`` in name order; a problem is raised (the walk's own start)
    or told to ``on_problem`` (None then)."""
    try:
        with os.scandir(directory) as scanner:
            return sorted(scanner, key=lambda entry: entry.name)
    except OSError as error:
        if raise_problem:
            raise
        on_problem(directory, error)
        return None


def walk(
    view: FolderView,
    start: str | None = None,
    *,
    on_problem: ProblemCallback,
    on_ignored: IgnoredCallback,
    known: Mapping[str, tuple[int, int]] | None = None,
) -> Iterator[FoundFile]:
    """Every eligible file below ``start`` (default: the root), in name order, depth first;
    a plain file that ``known`` lists (by relative path) with its size and mtime is passed
    over, the common case of a rescan.

    Directory symlinks are never entered. A problem listing the starting directory is raised
    (the caller decides between "missing" and "error"); problems below it go to ``on_problem``
    and the walk goes on.
    """
    first = view.root if start is None else start
    first_parts = relative_parts(view.root, first)
    if first_parts is None:
        return
    names = view.names
    # A rescan of a folder of 10,000 files does this 10,000 times: decisions that hold for a
    # whole directory are made once for it, and a plain file's lstat comes from its entry.
    plain_stat = os.name != "nt"  # on Windows only os.stat fills in st_ino
    stack: list[tuple[str, tuple[str, ...]]] = [(first, first_parts)]
    while stack:
        directory, parts = stack.pop()
        entries = _listing(directory, raise_problem=directory == first, on_problem=on_problem)
        if entries is None:
            continue
        files_here = (not parts or view.recursive) and all(
            names.accepts_directory(part) for part in parts
        )
        prefix = "/".join(parts) + "/" if parts else ""
        accepts = names.accepts_file
        subdirectories: list[tuple[str, tuple[str, ...]]] = []
        for entry in entries:
            name = entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    if view.recursive and names.accepts_directory(name):
                        subdirectories.append((entry.path, (*parts, name)))
                    continue
                if not files_here or not accepts(name):
                    continue
                if plain_stat and not entry.is_symlink():
                    status = entry.stat(follow_symlinks=False)
                    if not stat.S_ISREG(status.st_mode):
                        on_ignored(entry.path, "not a regular file (a pipe, socket or device)")
                        continue
                    if known is not None and known.get(prefix + name) == (
                        status.st_size,
                        status.st_mtime_ns,
                    ):
                        continue
                    found: FileStat | None = FileStat(
                        status.st_size, status.st_mtime_ns, status.st_ino
                    )
                else:
                    found = file_stat_if_regular(view, entry.path, on_ignored=on_ignored)
            except FileNotFoundError:  # removed while we looked
                continue
            except OSError as error:
                on_problem(entry.path, error)
                continue
            if found is not None:
                yield FoundFile(entry.path, prefix + name, found)
        stack.extend(reversed(subdirectories))
