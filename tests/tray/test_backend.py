"""The pystray glue: refusing clearly where no tray can be shown, and the menu it builds."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from mvsepd.paths import AppPaths
from mvsepd.tray.backend import (
    PystrayIcon,
    TrayUnavailableError,
    backend_name,
    check_display,
    wait_for_x11_tray_host,
)
from mvsepd.tray.view import SEPARATOR, MenuEntry


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


class _Item:
    def __init__(self, text: str, action: Any, *, enabled: bool, default: bool) -> None:
        self.text, self.action, self.enabled, self.default = text, action, enabled, default


class _Menu:
    SEPARATOR = object()

    def __init__(self, *items: Any) -> None:
        self.items = items


class _Icon:
    HAS_MENU = True
    HAS_NOTIFICATION = False

    def __init__(self, name: str, image: Image.Image, title: str, menu: _Menu) -> None:
        self.name, self.icon, self.title, self.menu = name, image, title, menu
        self.menu_updates = 0

    def update_menu(self) -> None:
        self.menu_updates += 1


def _fake_pystray() -> types.ModuleType:
    module = types.ModuleType("pystray")
    module.Icon = _Icon  # type: ignore[attr-defined]
    module.Menu = _Menu  # type: ignore[attr-defined]
    module.MenuItem = _Item  # type: ignore[attr-defined]
    return module


def test_menu_entries_become_pystray_items() -> None:
    clicked: list[MenuEntry] = []
    fake = _fake_pystray()
    icon = PystrayIcon(fake, Image.new("RGBA", (64, 64)), "title", clicked.append)
    entries = (
        MenuEntry("Track.wav: waiting, 3rd of 12", enabled=False),
        SEPARATOR,
        MenuEntry("Track.wav: stems ready", "open", "/out", default=True),
        MenuEntry("Pause", "pause"),
    )
    icon.set_menu(entries)
    pystray_icon: Any = icon._icon
    generate: Callable[[], list[Any]] = pystray_icon.menu.items[0]
    items = generate()
    assert items[1] is _Menu.SEPARATOR
    assert [(item.text, item.enabled, item.default) for item in (items[0], items[2], items[3])] == [
        ("Track.wav: waiting, 3rd of 12", False, False),
        ("Track.wav: stems ready", True, True),
        ("Pause", True, False),
    ]
    assert items[0].action is None
    items[3].action(pystray_icon, items[3])
    assert clicked == [entries[3]]
    assert pystray_icon.menu_updates == 1
    assert (icon.supports_menu, icon.supports_notifications) == (True, False)
    icon.notify("not", "shown")  # no notification support: nothing happens, nothing fails


def test_backend_name_comes_from_the_icon_class() -> None:
    module = types.ModuleType("pystray")
    module.Icon = type("Icon", (), {"__module__": "pystray._xorg"})  # type: ignore[attr-defined]
    assert backend_name(module) == "xorg"
