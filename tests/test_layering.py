"""The layers of DESIGN.md hold: imports point down only, adapters never import each other, and
each foreign library is imported by the one package that owns it.

Layers are stated by package (and the few leaf modules at the top): a new module is placed by
the folder it is in.

    leaf           errors, exits, paths, suggest, models/
    domain         domain/        pure rules
    config         config/        the configuration file, its model and rules
    adapters       api/, store/, intake/, outputs/, audio/   (never each other)
    orchestration  engine/, statusapi/
    process        process/       what only the daemon process needs
    entry          cli/, client/, tray/, service/, page/
    peer           emulator/      imports the leaf at most; only the entry layer imports it
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mvsepd"

# Rank: a module may import packages of a lower rank, and of its own rank too, except that an
# adapter never imports another adapter: each owns one foreign system.
LAYERS: dict[str, tuple[int, str]] = {
    "errors": (0, "leaf"),
    "exits": (0, "leaf"),
    "paths": (0, "leaf"),
    "suggest": (0, "leaf"),
    "models": (0, "leaf"),
    "domain": (1, "domain"),
    "config": (2, "config"),
    "api": (3, "adapter"),
    "store": (3, "adapter"),
    "intake": (3, "adapter"),
    "outputs": (3, "adapter"),
    "audio": (3, "adapter"),
    "engine": (4, "orchestration"),
    "statusapi": (4, "orchestration"),
    "process": (5, "process"),
    "cli": (6, "entry"),
    "client": (6, "entry"),
    "tray": (6, "entry"),
    "service": (6, "entry"),
    "page": (6, "entry"),
    "__main__": (6, "entry"),
    "__init__": (6, "entry"),
}
PEER = "emulator"

LIBRARY_OWNERS = {
    "requests": {"api"},
    "requests_toolbelt": {"api"},
    "urllib3": {"api"},
    "sqlite3": {"store"},
    "psycopg": {"store"},
    "psycopg_pool": {"store"},
    "watchdog": {"intake"},
    "soundfile": {"audio", "emulator"},
    "soxr": {"audio", "emulator"},
    "mutagen": {"audio"},
    "pystray": {"tray"},
    "ruamel": {"config"},
    "jinja2": {"page"},
    "selenium": set(),
}


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _group(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0].removesuffix(".py")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "mvsepd":
                names.extend(f"mvsepd.{alias.name}" for alias in node.names)
            else:
                names.append(node.module)
    return names


def test_every_module_has_a_layer() -> None:
    for path in _modules():
        group = _group(path)
        assert group == PEER or group in LAYERS, f"{path}: add {group!r} to LAYERS"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path: Path) -> None:
    group = _group(path)
    for name in _imports(path):
        top = name.split(".")[0]
        owners = LIBRARY_OWNERS.get(top)
        if owners is not None:
            assert group in owners, f"{path.name} imports {name}; only {owners} may"
        if top != "mvsepd" or name == "mvsepd":
            continue
        target = name.split(".")[1]
        if target == "__version__" or target == group:
            continue
        if group == PEER:
            assert LAYERS[target][1] == "leaf", f"the emulator imports {name}"
            continue
        assert target != PEER or LAYERS[group][1] == "entry", f"{path} imports the emulator"
        if target == PEER:
            continue
        rank, kind = LAYERS[group]
        target_rank, _ = LAYERS[target]
        same_layer_allowed = target_rank == rank and kind != "adapter"
        assert target_rank < rank or same_layer_allowed, (
            f"{path.relative_to(PACKAGE)} ({kind}) imports {name}"
        )


def test_every_module_says_what_it_owns() -> None:
    for path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert ast.get_docstring(tree), f"{path.relative_to(PACKAGE)} has no module docstring"


BENCHMARKS = PACKAGE.parent / "benchmarks"
#: The benchmarks' own layers: plumbing and renderers import no other benchmark, measuring
#: modules only those, ``run`` anything (so no import circle can form among them).
BENCHMARK_LAYERS = {
    "harness": 0,
    "processes": 0,
    "music": 0,
    "report_conform": 0,
    "report_link": 0,
    "report_studio": 0,
    "conform_speed": 1,
    "daemon_figures": 1,
    "download_speed": 1,
    "idle_footprint": 1,
    "studio_figures": 1,
    "time_to_stems": 1,
    "upload_memory": 1,
    "take_page": 1,
    "run": 2,
    "sections": 3,
}


def _benchmark_imports(path: Path) -> set[str]:
    """The benchmark modules ``path`` imports, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module == "benchmarks":
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("benchmarks."):
            found.add((node.module or "").split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(
                alias.name.split(".")[1]
                for alias in node.names
                if alias.name.startswith("benchmarks.")
            )
    return found


def test_benchmark_modules_import_in_layers() -> None:
    modules = {path.stem: path for path in BENCHMARKS.glob("*.py") if path.stem != "__init__"}
    assert set(modules) == set(BENCHMARK_LAYERS), "place every benchmark module in a layer"
    for name, path in modules.items():
        for imported in _benchmark_imports(path):
            assert BENCHMARK_LAYERS[imported] < BENCHMARK_LAYERS[name], (
                f"benchmarks/{name}.py imports benchmarks.{imported} of its own layer or above"
            )
