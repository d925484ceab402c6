"""The pystray glue: refusing clearly where no tray can be shown, choosing the backend, the
system's PyGObject, and the menu built from real pystray items (on pystray's dummy backend)."""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from mvsepd.exits import ExitStatus
from mvsepd.paths import AppPaths
from mvsepd.tray.backend import backend_name, menu_items
from mvsepd.tray.badge import IconState, render
from mvsepd.tray.choice import (
    MENU_PACKAGES,
    Backend,
    Probes,
    TrayUnavailableError,
    check_display,
    choose_backend,
    wait_for_x11_tray_host,
)
from mvsepd.tray.systemgi import find_system_gi
from mvsepd.tray.view import menu


def test_no_display_is_refused_with_a_reason() -> None:
    with pytest.raises(TrayUnavailableError, match="no graphical display"):
        check_display({}, "linux")
    check_display({"DISPLAY": ":0"}, "linux")
    check_display({"WAYLAND_DISPLAY": "wayland-0"}, "linux")
    check_display({}, "win32")
    check_display({}, "darwin")


def test_no_tray_host_is_refused_after_a_short_wait() -> None:
    started = time.monotonic()
    with pytest.raises(TrayUnavailableError, match="no system tray host"):
        wait_for_x11_tray_host(0.3, probe=lambda: False)
    assert time.monotonic() - started < 2

    answers = iter([False, False, True])
    wait_for_x11_tray_host(5, probe=lambda: next(answers))

    def broken() -> bool:
        raise ConnectionResetError("X server gone")

    with pytest.raises(TrayUnavailableError, match="X server gone"):
        wait_for_x11_tray_host(5, probe=broken)


def _headless_environment(paths: AppPaths) -> dict[str, str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DISPLAY", "WAYLAND_DISPLAY", "PYSTRAY_BACKEND")
    }
    environment["MVSEPD_RUNTIME_DIR"] = str(paths.runtime_dir)
    return environment


def test_mvsepd_tray_without_a_display_exits_at_once(user_paths: AppPaths) -> None:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "mvsepd", "tray"],
        env=_headless_environment(user_paths),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().startswith("mvsepd: no graphical display")
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started < 20


def test_run_with_tray_without_a_display_does_not_start_the_daemon(
    user_paths: AppPaths, tmp_path: Path
) -> None:
    hot = tmp_path / "hot"
    hot.mkdir()
    config = tmp_path / "config.yaml"
    config.write_text(
        'account:\n  server: "http://127.0.0.1:9"\npresets:\n  four:\n    sep_type: 20\n'
        f'folders:\n  - path: "{hot}"\n    preset: four\n'
    )
    environment = _headless_environment(user_paths)
    environment["MVSEP_API_TOKEN"] = "t" * 30
    result = subprocess.run(
        [sys.executable, "-m", "mvsepd", "run", "--tray", "--config", str(config)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "no graphical display" in result.stderr
    assert not user_paths.runtime_file.exists()
    assert "ready: watching" not in result.stderr  # the daemon never started


@pytest.fixture
def dummy_pystray(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The real pystray package, on its dummy backend (pystray picks it when imported)."""
    monkeypatch.setenv("PYSTRAY_BACKEND", "dummy")
    pystray = importlib.import_module("pystray")
    assert backend_name(pystray) == "dummy", "pystray was imported with another backend here"
    return pystray


def _job(job_id: int, phase: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": job_id,
        "file": f"Take {job_id}.wav",
        "folder": "/music/Exports",
        "phase": phase,
        "summary": phase,
        "output_dir": None,
        "finished_at": None,
        **fields,
    }


#: A picture with something for every kind of menu entry.
PICTURE = {
    "daemon": {"paused": False},
    "account": {"token_valid": True},
    "done_today": 1,
    "arriving": [],
    "jobs": [
        _job(1, "waiting", current_order=3, queue_count=9, summary="waiting, 3rd of 9"),
        _job(2, "done", output_dir="/music/Exports stems/Take 2", finished_at=20.0),
        _job(
            3,
            "failed",
            finished_at=30.0,
            error="MVSEP could not process the file",
            dismissed=False,
            retry_offered=True,
        ),
    ],
}


def test_every_menu_entry_is_a_real_pystray_item_and_activates(
    dummy_pystray: ModuleType,
) -> None:
    entries = menu(PICTURE, owns_daemon=True, status_line=True)
    clicked: list[Any] = []
    items = menu_items(dummy_pystray, entries, clicked.append)
    built = dummy_pystray.Menu(*items)
    icon = dummy_pystray.Icon("mvsepd", render(IconState("idle", "idle")), "title", menu=built)

    for entry, item in zip(entries, items, strict=True):
        if entry.separator:
            assert item is dummy_pystray.Menu.SEPARATOR
            continue
        assert isinstance(item, dummy_pystray.MenuItem)
        assert (item.text, item.enabled, item.default) == (entry.text, entry.enabled, entry.default)
        item(icon)  # what every backend does when the entry is chosen

    assert clicked == [entry for entry in entries if entry.action]
    assert {entry.action for entry in clicked} == {
        "open_page", "open_latest", "open", "pause", "retry_failed", "dismiss_failed",
        "open_log", "open_config", "quit_tray", "quit_daemon",
    }  # fmt: skip
    assert len(list(built)) == len(entries)  # pystray keeps every line (no empty groups)

    # A left click (where the backend delivers one) runs the default item: the page.
    clicked.clear()
    built(icon)
    assert [(entry.action, entry.text) for entry in clicked] == [("open_page", "Open mvsepd")]


def test_backend_name_comes_from_the_icon_class() -> None:
    module = ModuleType("pystray")
    module.Icon = type("Icon", (), {"__module__": "pystray._xorg"})  # type: ignore[attr-defined]
    assert backend_name(module) == "xorg"


# --- choosing the backend -----------------------------------------------------------------------


def _probes(
    gtk_problem: str = "",
    appindicator: bool = True,
    sni: Any = False,
    xembed: Any = False,
) -> Probes:
    def answer(value: Any) -> Any:
        if callable(value):
            return value
        return lambda: value

    return Probes(
        gtk_problem=lambda: gtk_problem,
        appindicator=lambda: appindicator,
        sni_host=answer(sni),
        xembed_host=answer(xembed),
    )


X11 = {"DISPLAY": ":0"}


def test_a_backend_with_a_menu_is_preferred_on_linux() -> None:
    def choose(probes: Probes) -> Backend:
        return choose_backend(wait_seconds=0, environ=X11, platform="linux", probes=probes)

    assert choose(_probes(sni=True, xembed=True)).name == "appindicator"
    assert choose(_probes(sni=True, appindicator=False, xembed=True)).name == "gtk"
    assert choose(_probes(xembed=True)).name == "gtk"
    without = choose(_probes(gtk_problem="PyGObject is not installed", sni=True, xembed=True))
    assert (without.name, without.why) == ("xorg", "PyGObject is not installed")
    windows = choose_backend(environ={}, platform="win32", probes=_probes())
    assert (windows.name, windows.shows_tooltip) == ("win32", True)


def test_a_tray_host_that_comes_late_is_waited_for_and_none_is_said() -> None:
    answers = iter([False, False, True])
    late = _probes(xembed=lambda: next(answers))
    started = time.monotonic()
    assert choose_backend(wait_seconds=5, environ=X11, platform="linux", probes=late).name == "gtk"
    assert time.monotonic() - started < 2

    with pytest.raises(TrayUnavailableError, match="no system tray host appeared") as raised:
        choose_backend(wait_seconds=0.3, environ=X11, platform="linux", probes=_probes())
    assert "AppIndicator extension" in str(raised.value)
    with pytest.raises(TrayUnavailableError, match="GTK cannot be used: no session D-Bus"):
        choose_backend(
            wait_seconds=0, environ=X11, platform="linux", probes=_probes("no session D-Bus")
        )


def test_pystray_backend_named_by_the_user_is_used_or_refused_with_a_reason() -> None:
    def requested(name: str, probes: Probes) -> Backend:
        environment = {**X11, "PYSTRAY_BACKEND": name}
        return choose_backend(wait_seconds=0, environ=environment, platform="linux", probes=probes)

    assert requested("xorg", _probes(xembed=True)).name == "xorg"
    assert requested("appindicator", _probes()).name == "appindicator"
    with pytest.raises(TrayUnavailableError, match="dummy shows nothing"):
        requested("dummy", _probes())
    with pytest.raises(TrayUnavailableError, match="PyGObject is not installed") as raised:
        requested("gtk", _probes(gtk_problem="PyGObject is not installed", xembed=True))
    assert "python3-gi gir1.2-gtk-3.0" in str(raised.value)


def test_the_start_line_says_what_the_backend_lacks_and_how_to_get_a_menu() -> None:
    xorg = Backend("xorg", why="PyGObject is not installed").line("notify-send")
    assert xorg.startswith(
        "mvsepd tray: plain X11 icon of pystray's xorg backend (PyGObject is not installed): "
        "no menu and no tooltip, a left click opens mvsepd's page; notifications by "
        "notify-send; for a menu: "
    )
    for packages in (
        "sudo apt install python3-gi gir1.2-gtk-3.0 gir1.2-ayatanaappindicator3-0.1",
        "sudo dnf install python3-gobject gtk3 libayatana-appindicator-gtk3",
        "sudo pacman -S python-gobject gtk3 libayatana-appindicator",
    ):
        assert packages in xorg and packages in MENU_PACKAGES
    assert "\n" not in xorg
    assert "no tooltip and no left-click action" in Backend("appindicator").line("notify-send")
    assert Backend("gtk").line("").endswith("left click: mvsepd's page; no notifications")


# --- the system's PyGObject ----------------------------------------------------------------------


def _fake_site(root: Path, built_for: str) -> Path:
    site = root / "dist-packages"
    (site / "gi").mkdir(parents=True)
    (site / "gi" / "__init__.py").write_text("WHERE = 'the system'\n")
    (site / "gi" / f"_gi{built_for}").write_bytes(b"")
    (site / "yaml").mkdir()
    (site / "yaml" / "__init__.py").write_text("WHERE = 'the system'\n")
    return site


def test_the_systems_gi_is_used_only_when_built_for_this_python(tmp_path: Path) -> None:
    this_python = importlib.machinery.EXTENSION_SUFFIXES[0]
    matching = _fake_site(tmp_path / "same", this_python)
    other = _fake_site(tmp_path / "other", ".cpython-39-x86_64-linux-gnu.so")

    assert find_system_gi([str(matching)]).where == str(matching)
    refused = find_system_gi([str(other)])
    assert not refused.found
    assert "_gi.cpython-39-x86_64-linux-gnu.so" in refused.problem
    assert "make the venv with the system's python3" in refused.problem
    assert find_system_gi([str(tmp_path / "nothing")]).problem == "PyGObject is not installed"

    # In a fresh interpreter without a gi of its own: gi comes from there, nothing else does.
    script = (
        "import importlib.util, sys\n"
        "from mvsepd.tray.systemgi import make_gi_importable\n"
        f"source = make_gi_importable([{str(matching)!r}])\n"
        "import gi\n"
        "print(source.where, gi.WHERE)\n"
        "yaml = importlib.util.find_spec('yaml')\n"
        "print(yaml is None or 'dist-packages' not in str(yaml.origin))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    if "own" in result.stdout:
        pytest.fail("this interpreter has a gi of its own: the fallback cannot be seen here")
    assert result.stdout.splitlines() == [f"{matching} the system", "True"], result.stderr


def test_the_extra_missing_is_one_line_and_exit_78(user_paths: AppPaths) -> None:
    # Pillow and pystray reported absent by the import system, as in `pip install .`.
    script = (
        "import sys\n"
        "sys.modules['PIL'] = None\n"
        "sys.modules['pystray'] = None\n"
        "from mvsepd.cli import main\n"
        "sys.exit(main(['tray']))\n"
    )
    environment = {**_headless_environment(user_paths), "DISPLAY": ":0"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == ExitStatus.CONFIG
    assert int(ExitStatus.CONFIG) == 78
    assert result.stderr == (
        "mvsepd: the tray icon is not installed (Pillow and pystray missing): "
        "pip install 'mvsepd[tray]'\n"
    )
