"""A desktop for the real-tray tests: Xvfb, trayer (an XEmbed tray host), a session D-Bus, and
what a user does there (look at windows, click, press keys) through python-xlib's XTEST.

The fixtures built on these live in ``conftest.py``; everything here is plain functions.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy
import pytest
from PIL import Image, ImageGrab

XVFB = shutil.which("Xvfb")
TRAYER = shutil.which("trayer")
DBUS_DAEMON = shutil.which("dbus-daemon")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
#: Largest difference of a colour channel between the screen and the drawn badge (Xvfb at
#: 24 bits shows the pixels exactly; a little slack for X servers that do not).
TOLERANCE = 8

Box = tuple[int, int, int, int]


def start_xvfb() -> tuple[subprocess.Popen[bytes], str]:
    """A fresh X server; Xvfb picks a free display number itself (-displayfd)."""
    assert XVFB is not None
    read_end, write_end = os.pipe()
    server = subprocess.Popen(
        [
            XVFB,
            "-displayfd",
            str(write_end),
            "-screen",
            "0",
            "640x480x24",
            "-nolisten",
            "tcp",
            "-noreset",
        ],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    number = b""
    deadline = time.monotonic() + 20
    while not number.endswith(b"\n") and time.monotonic() < deadline:
        chunk = os.read(read_end, 16)
        if not chunk:
            break
        number += chunk
    os.close(read_end)
    if not number.strip():
        server.kill()
        raise AssertionError("Xvfb did not start (no display number on -displayfd)")
    return server, f":{number.decode().strip()}"


def start_trayer(display: str) -> subprocess.Popen[bytes]:
    """trayer docked at the top right, 120 x 32 px, opaque (a screenshot shows the icon)."""
    assert TRAYER is not None
    arguments = "--edge top --align right --widthtype pixel --width 120 --heighttype pixel"
    return subprocess.Popen(
        [TRAYER, *arguments.split(), "--height", "32", "--transparent", "false"],
        env={**os.environ, "DISPLAY": display},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def start_session_bus() -> tuple[subprocess.Popen[bytes], str]:
    """A private session D-Bus (what dbus-run-session starts); returns it and its address."""
    assert DBUS_DAEMON is not None
    bus = subprocess.Popen(
        [DBUS_DAEMON, "--session", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert bus.stdout is not None
    address = bus.stdout.readline().decode().strip()
    if not address:
        bus.kill()
        raise AssertionError("dbus-daemon printed no address")
    return bus, address


def gui_environment(display: str, **extra: str) -> dict[str, str]:
    """The environment of a program in that desktop (no Wayland, no accessibility bus)."""
    environment = {key: value for key, value in os.environ.items() if key != "WAYLAND_DISPLAY"}
    environment.update(DISPLAY=display, NO_AT_BRIDGE="1", **extra)
    return environment


def fake_opener(folder: Path) -> tuple[str, Path]:
    """An ``xdg-open`` that writes down what it was asked to open (one line each).

    Returns a PATH that finds it first, and the file it writes to.
    """
    bin_dir = folder / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    record = folder / "opened.txt"
    script = bin_dir / "xdg-open"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$1" >> "{record}"\n')
    script.chmod(0o755)
    return f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", record


@dataclass
class StartedTray:
    """``mvsepd tray`` started by ``start_tray``."""

    process: subprocess.Popen[bytes]
    #: What it says (its stderr).
    said: Path
    #: What it asked ``xdg-open`` to open (see ``opened``).
    record: Path


def start_tray(display: str, session_bus: str, folder: Path) -> StartedTray:
    """``mvsepd tray`` in that desktop, choosing its backend itself, with ``fake_opener``."""
    path, record = fake_opener(folder)
    environment = gui_environment(display, DBUS_SESSION_BUS_ADDRESS=session_bus, PATH=path)
    environment.pop("PYSTRAY_BACKEND", None)
    said = folder / "tray-stderr.txt"
    with said.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "mvsepd", "tray"],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    return StartedTray(process, said, record)


def opened(record: Path) -> list[str]:
    """What the fake opener was asked to open, in order."""
    return record.read_text().splitlines() if record.exists() else []


def stop(process: subprocess.Popen[bytes]) -> tuple[int, str]:
    """Terminate a program (kill it if it does not end); its exit status and stderr."""
    if process.poll() is None:
        process.terminate()
    try:
        _out, err = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        _out, err = process.communicate()
    return process.returncode, (err or b"").decode(errors="replace")


class BusService:
    """A stand-in desktop service (a module of this folder) on a session bus: it prints
    "ready", then one JSON line per call it receives, collected here as they come."""

    def __init__(self, module: str, address: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", f"tests.tray.{module}"],
            cwd=Path(__file__).resolve().parents[2],
            env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": address},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":
            _out, err = self.process.communicate(timeout=10)
            pytest.fail(f"the stand-in {module} did not start: {err}")
        self._received: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, name=module, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._lock:
                self._received.append(json.loads(line))

    def received(self) -> list[dict[str, Any]]:
        """Every call received so far, in order."""
        with self._lock:
            return list(self._received)

    def wait_for(self, count: int, timeout: float = 30) -> list[dict[str, Any]]:
        """The calls once ``count`` have arrived (AssertionError after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while len(self.received()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.received())} calls after {timeout} s, not {count}")
            time.sleep(0.05)
        return self.received()

    def stop(self) -> None:
        self.process.terminate()
        self.process.communicate(timeout=10)
        self._reader.join(timeout=5)


def gtk_usable(*more: str) -> bool:
    """True when this Python finds PyGObject with GTK 3 (and the ``more`` namespaces, version
    0.1) the way the tray does."""
    probe = "from mvsepd.tray.systemgi import make_gi_importable\nmake_gi_importable()\nimport gi\n"
    probe += "gi.require_version('Gtk', '3.0')\n"
    probe += "".join(f"gi.require_version({name!r}, '0.1')\n" for name in more)
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=60)
    return found.returncode == 0


# --- looking at windows ------------------------------------------------------------------------


def open_display(name: str) -> Any:
    return importlib.import_module("Xlib.display").Display(name)


def windows(window: Any) -> Iterator[Any]:
    """Every window below ``window``; one destroyed while we walk is passed over with its tree.

    Panels and icons create and destroy windows while a test looks (trayer while it lays out,
    pystray while it embeds), so a window listed a moment ago may be gone by its own query.
    """
    bad_window = importlib.import_module("Xlib.error").BadWindow
    try:
        children = window.query_tree().children
    except bad_window:
        return
    for child in children:
        yield child
        yield from windows(child)


def embedded_icon(display: Any, is_ours: Callable[[Any], bool]) -> Any | None:
    """Our icon window, if a tray host has embedded (reparented and mapped) it."""
    root = display.screen().root
    for window in windows(root):
        try:
            if not is_ours(window.get_wm_class()):
                continue
            parent = window.query_tree().parent
            if parent.id != root.id and window.get_attributes().map_state == 2:  # IsViewable
                return window
        except Exception:  # noqa: S112 (a window that went away while we looked)
            continue
    return None


def toplevel(display: Any, window: Any) -> Any:
    root = display.screen().root
    while True:
        parent = window.query_tree().parent
        if parent.id == root.id:
            return window
        window = parent


def on_screen(display: Any, window: Any) -> Box:
    geometry = window.get_geometry()
    origin = window.translate_coords(display.screen().root, 0, 0)
    left, top = -origin.x, -origin.y
    return left, top, left + geometry.width, top + geometry.height


def grab(display_name: str, box: Box) -> Image.Image:
    return ImageGrab.grab(xdisplay=display_name).crop(box)


def save_artifact(display_name: str, box: Box, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    grab(display_name, box).save(path)
    return path


def difference(first: Image.Image, second: Image.Image) -> int:
    delta = numpy.abs(numpy.asarray(first, dtype=int) - numpy.asarray(second, dtype=int))
    return int(delta.max())


# --- what a user does --------------------------------------------------------------------------


def click(display: Any, box: Box, button: int) -> None:
    """Move the pointer to the middle of ``box`` and click ``button`` (XTEST, like a mouse)."""
    x_protocol = importlib.import_module("Xlib.X")
    xtest = importlib.import_module("Xlib.ext.xtest")
    xtest.fake_input(
        display, x_protocol.MotionNotify, x=(box[0] + box[2]) // 2, y=(box[1] + box[3]) // 2
    )
    display.sync()
    time.sleep(0.1)  # the pointer is in the window before the button goes down
    xtest.fake_input(display, x_protocol.ButtonPress, button)
    xtest.fake_input(display, x_protocol.ButtonRelease, button)
    display.sync()


def press(display: Any, key: str) -> None:
    """Press and release a key by its name (``Down``, ``Return``) through XTEST."""
    x_protocol = importlib.import_module("Xlib.X")
    xtest = importlib.import_module("Xlib.ext.xtest")
    keysym = importlib.import_module("Xlib.XK").string_to_keysym(key)
    keycode = display.keysym_to_keycode(keysym)
    xtest.fake_input(display, x_protocol.KeyPress, keycode)
    xtest.fake_input(display, x_protocol.KeyRelease, keycode)
    display.sync()
