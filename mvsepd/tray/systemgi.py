"""The system's PyGObject for the tray, when the interpreter has none of its own.

The tray needs PyGObject (``gi``) for a menu on Linux (pystray's GTK and AppIndicator
backends). pip cannot install it without a compiler and GTK's headers, and a venv does not see
the distribution's packages unless it was made with ``--system-site-packages``. So the tray
uses the interpreter's own ``gi`` when there is one, else the distribution's, from its site
directory for this Python (Debian and Ubuntu ``/usr/lib/python3/dist-packages``, Fedora
``/usr/lib64/python3.X/site-packages``, Arch ``/usr/lib/python3.X/site-packages``), and only
when its compiled part was built for this interpreter (``gi/_gi`` with one of this
interpreter's extension suffixes, e.g. ``.cpython-311-x86_64-linux-gnu.so``); one built for
another Python is named in the reason, never loaded.

Only ``gi`` (and ``cairo``, its optional companion) are taken from there, by a finder at the
end of ``sys.meta_path``: adding the whole directory to ``sys.path`` would let the system's
other packages (its own requests, yaml, numpy ...) stand in for ones this environment lacks.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

#: Where distributions put PyGObject for their own Python ({version} is e.g. 3.11).
SYSTEM_SITE_DIRECTORIES = (
    "/usr/lib/python3/dist-packages",  # Debian, Ubuntu
    "/usr/lib64/python{version}/site-packages",  # Fedora, openSUSE (compiled packages)
    "/usr/lib/python{version}/site-packages",  # Arch, and Fedora's pure-Python ones
)
#: The packages taken from the system directory, and nothing else.
SYSTEM_PACKAGES = ("gi", "cairo")


@dataclass(frozen=True)
class GiSource:
    """Where ``gi`` comes from: ``own``, a system directory, or nowhere (then ``problem``)."""

    where: str
    problem: str = ""

    @property
    def found(self) -> bool:
        """True when ``gi`` can be imported."""
        return not self.problem


def _version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def find_system_gi(
    directories: Sequence[str] = SYSTEM_SITE_DIRECTORIES,
    suffixes: Sequence[str] = tuple(importlib.machinery.EXTENSION_SUFFIXES),
) -> GiSource:
    """The first system site directory whose ``gi`` was built for this interpreter."""
    built_for_others: list[str] = []
    for pattern in directories:
        directory = Path(pattern.format(version=_version()))
        package = directory / "gi"
        if not (package / "__init__.py").is_file():
            continue
        if any((package / f"_gi{suffix}").is_file() for suffix in suffixes):
            return GiSource(str(directory))
        built_for_others.extend(sorted(path.name for path in package.glob("_gi.*")))
    if built_for_others:
        return GiSource(
            "",
            f"the system's PyGObject is for another Python, {', '.join(built_for_others)}, not "
            f"this {_version()}: make the venv with the system's python3",
        )
    return GiSource("", "PyGObject is not installed")


class _SystemPackages(importlib.abc.MetaPathFinder):
    """Finds the named top-level packages in one directory (after every other finder)."""

    def __init__(self, directory: str, names: Sequence[str]) -> None:
        self.directory = directory
        self.names = frozenset(names)

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if path is not None or fullname not in self.names:
            return None  # submodules are found through their package's own __path__
        return importlib.machinery.PathFinder.find_spec(fullname, [self.directory])


def make_gi_importable(
    directories: Sequence[str] = SYSTEM_SITE_DIRECTORIES,
) -> GiSource:
    """Make ``import gi`` work if it can: the interpreter's own, else the system's."""
    for finder in sys.meta_path:
        if isinstance(finder, _SystemPackages):
            return GiSource(finder.directory)
    if importlib.util.find_spec("gi") is not None:
        return GiSource("own")
    source = find_system_gi(directories)
    if source.found:
        sys.meta_path.append(_SystemPackages(source.where, SYSTEM_PACKAGES))
    return source
