"""The ``audio`` package's lazy names: each resolves to what its ``TYPE_CHECKING`` block imports,
whatever was asked for first.

A daemon with a ``conform: off`` folder once asked for ``audio.verify`` first; that imported the
submodule then called ``conform.py``, which bound the package attribute ``conform`` to the
module, and every later conforming job failed calling it.
"""

from __future__ import annotations

import ast
import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import mvsepd.audio

PACKAGE_FILE = Path(mvsepd.audio.__file__)


def declared_names() -> dict[str, str]:
    """name -> module, from the ``if TYPE_CHECKING:`` block of the package's ``__init__``."""
    tree = ast.parse(PACKAGE_FILE.read_text(encoding="utf-8"))
    names: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom) and statement.module
                for alias in statement.names:
                    names[alias.asname or alias.name] = statement.module
    return names


def test_every_public_name_is_declared_for_type_checkers() -> None:
    assert sorted(declared_names()) == sorted(mvsepd.audio.__all__)


def test_no_submodule_is_named_like_a_public_name() -> None:
    submodules = {info.name for info in pkgutil.iter_modules([str(PACKAGE_FILE.parent)])}
    assert submodules & set(mvsepd.audio.__all__) == set()


#: Run in a fresh interpreter: for each name, a fresh import of the package, that name asked
#: for first, then every name checked against its declared home.
_PROBE = """
import importlib, json, sys
declared = json.loads(sys.argv[1])
wrong = []
for first in declared:
    for loaded in [m for m in sys.modules if m == "mvsepd.audio" or m.startswith("mvsepd.audio.")]:
        del sys.modules[loaded]
    audio = importlib.import_module("mvsepd.audio")
    getattr(audio, first)
    for name, home in declared.items():
        expected = getattr(importlib.import_module(home), name)
        if getattr(audio, name) is not expected:
            wrong.append(f"{name} after {first}: {type(getattr(audio, name)).__name__}")
print(json.dumps(wrong))
"""


def test_each_name_resolves_to_its_declared_object_whatever_came_first() -> None:
    declared = declared_names()
    finished = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(declared)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(finished.stdout) == []


def test_conform_is_callable_after_verify_in_this_process() -> None:
    """The exact sequence of the defect, in the test process itself."""
    audio = importlib.import_module("mvsepd.audio")
    assert callable(audio.verify)
    assert callable(audio.conform)
