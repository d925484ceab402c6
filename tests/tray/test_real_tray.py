"""A real tray: Xvfb, a real system tray host (trayer), and ``mvsepd tray`` in its own process,
on pystray's xorg backend (what a pip venv without PyGObject gets).

The icon must be embedded in the tray (XEmbed), show the files still to come as drawn by
``mvsepd.tray.badge``, keep its size and its place through every state (no docking again at
each new image), turn red for a failure until ``mvsepd dismiss``, and open mvsepd's page,
signed in, on a left click. Screenshots of the tray area are saved in ``test-artifacts/``.
Also: without a tray host, ``mvsepd tray`` says so and exits non-zero; ``mvsepd run --tray``
shows the icon and stops cleanly on SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from mvsepd.tray.badge import IconState, number_state, render
from tests.statusapi.conftest import MakeHarness
from tests.statusapi.harness import MVSEP_TOKEN, Harness, wait_until, wav_bytes
from tests.tray.desktop import (
    ARTIFACTS,
    TOLERANCE,
    TRAYER,
    XVFB,
    Box,
    click,
    difference,
    embedded_icon,
    fake_opener,
    grab,
    gui_environment,
    on_screen,
    open_display,
    opened,
    save_artifact,
    stop,
    toplevel,
)

pytestmark = pytest.mark.skipif(
    XVFB is None or TRAYER is None,
    reason="!!! THE REAL TRAY TEST DID NOT RUN: it needs Xvfb and trayer (Debian packages "
    "'xvfb' and 'trayer'; scripts/test installs them with apt-get, or run "
    "`apt-get install -y xvfb trayer`) !!!",
)

ICON_CLASS = ("mvsepdSystemTrayIcon", "mvsepd")


def _ours(wm_class: Any) -> bool:
    return bool(wm_class == ICON_CLASS)


def _xorg_environment(display: str, **extra: str) -> dict[str, str]:
    return gui_environment(display, PYSTRAY_BACKEND="xorg", **extra)


def _expected_icon(size: tuple[int, int], state: IconState) -> Image.Image:
    # What pystray's xorg backend paints: the image scaled to the window, alpha dropped.
    return render(state).resize(size, Image.Resampling.LANCZOS).convert("RGB")


@dataclass(frozen=True)
class Shown:
    """The embedded icon as it was seen showing a state."""

    tooltip: str
    pixels: Image.Image
    box: Box
    #: The window that embeds it (trayer's socket): a new one means it was docked again.
    socket: int


def _wait_until_shown(
    display_name: str, state: IconState, artifact: str, tooltip: str | None = None
) -> Shown:
    """Wait until the embedded icon shows ``state`` (and ``tooltip``, if given); the tray area
    is saved as ``test-artifacts/<artifact>.png`` (the expected icon next to it), shown or not."""
    display = open_display(display_name)
    try:
        icon = wait_until(lambda: embedded_icon(display, _ours), 20, "the icon embedded")
        assert toplevel(display, icon).get_wm_class() == ("panel", "trayer")
        box = on_screen(display, icon)
        expected = _expected_icon((box[2] - box[0], box[3] - box[1]), state)

        def painted() -> Image.Image | None:
            nonlocal icon, box, expected
            # Looked up each time: the tray host moves (and may resize) the icon while it
            # lays the panel out after embedding it.
            found = embedded_icon(display, _ours)
            if found is None:
                return None
            try:
                where = on_screen(display, found)
            except Exception:  # the window went away while we looked
                return None
            if where != box:
                print(f"the icon is at {where} now (was {box})")  # shown with a failure
                icon, box = found, where
                expected = _expected_icon((box[2] - box[0], box[3] - box[1]), state)
            if tooltip is not None and str(found.get_wm_name()) != tooltip:
                return None
            shown = grab(display_name, box)
            return shown if difference(shown, expected) <= TOLERANCE else None

        try:
            pixels: Image.Image = wait_until(painted, 20, f"{state} painted")
        finally:
            save_artifact(display_name, on_screen(display, toplevel(display, icon)), artifact)
            expected.save(ARTIFACTS / f"{artifact}-expected-icon.png")
        socket = icon.query_tree().parent.id
        return Shown(str(icon.get_wm_name()), pixels, box, socket)
    finally:
        display.close()


def _start_tray(environment: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "mvsepd", "tray"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_mvsepd_tray_shows_the_files_to_come_in_a_real_tray(
    display: str, tray_host: subprocess.Popen[bytes], harness: Harness
) -> None:
    harness.jobs_of_someone_else(1)
    for name in ("Night Drive.wav", "Dawn.wav", "Dusk.wav"):
        harness.drop(name)
    harness.wait_for_jobs(
        lambda jobs: sorted(job["current_order"] or 0 for job in jobs) == [2, 3, 4],
        "three jobs waiting, 2nd to 4th in the queue",
    )
    tray = _start_tray(_xorg_environment(display))
    try:
        shown = _wait_until_shown(display, number_state(3), "tray")
    finally:
        code, err = stop(tray)
        print(f"mvsepd tray ended with {code}; it said:\n{err}")  # shown with a failure
    assert shown.tooltip == "3 waiting (next: 2nd of 4) · 0 done today"
    for other in (2, 4, 8):  # 2 is the first one's place in the queue: not what is counted
        assert difference(shown.pixels, _expected_icon(shown.pixels.size, number_state(other))) > 64
    assert (ARTIFACTS / "tray.png").exists()
    assert MVSEP_TOKEN not in err
    assert code in (0, -signal.SIGTERM), err


def test_the_icon_keeps_its_size_and_place_in_every_state_and_dismiss_clears_red(
    display: str,
    tray_host: subprocess.Popen[bytes],
    make_harness: MakeHarness,
    tmp_path: Path,
) -> None:
    harness = make_harness(queue_seconds=0.3, processing_seconds=0.3)
    path, record = fake_opener(tmp_path)
    tray = _start_tray(_xorg_environment(display, PATH=path))
    seen: dict[str, Shown] = {}

    def shows(state: IconState, name: str) -> None:
        seen[name] = _wait_until_shown(display, state, f"tray-state-{name}")

    try:
        shows(IconState("idle", "idle"), "idle")
        harness.client().pause()
        shows(IconState("paused", "paused"), "paused")
        harness.drop("Take 1.wav")
        shows(number_state(1, "paused"), "paused-1-to-come")
        harness.client().resume()
        # Through uploading, MVSEP's queue, processing and the download, in quick changes.
        done = harness.wait_for_jobs(lambda jobs: jobs[0]["phase"] == "done", "Take 1 done")
        shows(IconState("idle", "idle"), "done")
        harness.drop_bytes("lyrics.wav", b"these are lyrics, not audio\n" * 40)
        shows(IconState("error", "error"), "failed")
        dismissed = subprocess.run(
            [sys.executable, "-m", "mvsepd", "dismiss"], capture_output=True, text=True, check=False
        )
        assert dismissed.returncode == 0, dismissed.stderr
        assert dismissed.stdout.startswith("dismissed 1 failure: the tray is no longer red")
        shows(IconState("idle", "idle"), "dismissed")

        display_connection = open_display(display)
        try:
            click(display_connection, seen["dismissed"].box, 1)
        finally:
            display_connection.close()
        wait_until(lambda: opened(record), 10, "the left click to open the page")
        assert opened(record)[0].startswith(harness.url + "/sign-in?code=")
        assert done[0]["output_dir"]

        harness.stop_daemon()
        shows(IconState("offline", "offline"), "offline")
    finally:
        code, err = stop(tray)
        print(f"mvsepd tray ended with {code}; it said:\n{err}")  # shown with a failure
    first = seen["idle"]
    for name, shown in seen.items():
        assert shown.box == first.box, f"{name}: the icon moved or changed size"
        assert shown.socket == first.socket, f"{name}: the icon was docked again"
    assert first.box[2] - first.box[0] >= 16, "a real icon, not a sliver"
    assert code in (0, -signal.SIGTERM), err


def test_without_a_tray_host_mvsepd_tray_says_so_and_exits(display: str) -> None:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "mvsepd", "tray"],
        env=_xorg_environment(display),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "no system tray host" in result.stderr
    assert time.monotonic() - started < 30


def test_run_with_tray_is_one_process_that_stops_on_sigterm(
    display: str, tray_host: subprocess.Popen[bytes], harness: Harness, tmp_path: Path
) -> None:
    own = tmp_path / "own"
    config = own / "config.yaml"
    own.mkdir()
    hot = own / "Bounces"
    hot.mkdir()
    config.write_text(
        f'account:\n  server: "{harness.server.url}"\npresets:\n  four:\n    sep_type: 20\n'
        f'folders:\n  - path: "{hot}"\n    preset: four\n    stability_seconds: 0.3\n'
        "daemon:\n  poll_first_seconds: 0.5\n  poll_max_seconds: 1\n"
    )
    environment = _xorg_environment(
        display,
        MVSEP_API_TOKEN=MVSEP_TOKEN,
        MVSEPD_STATE_DIR=str(own / "state"),
        MVSEPD_RUNTIME_DIR=str(own / "run"),
        MVSEPD_CACHE_DIR=str(own / "cache"),
        PYTHONFAULTHANDLER="1",
    )
    harness.jobs_of_someone_else(1)
    daemon = subprocess.Popen(
        [sys.executable, "-m", "mvsepd", "run", "--tray", "--config", str(config)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until(lambda: (own / "run" / "statusapi.json").exists(), 20, "the daemon's status API")
        staging = own / ".rendering.wav"
        staging.write_bytes(wav_bytes(0.5, seed=4242))
        os.replace(staging, hot / "Take 2.wav")
        waiting = "1 waiting (next: 2nd of 2) · 0 done today"
        _wait_until_shown(display, number_state(1), "tray-run", tooltip=waiting)
        signalled = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        try:
            _out, err_bytes = daemon.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            daemon.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack

            _out, err_bytes = daemon.communicate()
            pytest.fail("mvsepd run --tray did not stop on SIGTERM: " + err_bytes.decode()[-3000:])
        err = err_bytes.decode(errors="replace")
        code = daemon.returncode
    finally:
        if daemon.poll() is None:
            daemon.kill()
        # Reaps it and closes its pipes, also when the test failed (its words then shown).
        print(daemon.communicate()[1].decode(errors="replace")[-3000:])
    assert code == 0, err
    assert time.monotonic() - signalled < 12, "one signal stops it within the grace period"
    assert "second_signal" not in err
    assert "mvsepd tray: plain X11 icon" in err
    assert not (own / "run" / "statusapi.json").exists()
    assert MVSEP_TOKEN not in err
