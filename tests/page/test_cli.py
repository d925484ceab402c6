"""``mvsepd open`` and ``mvsepd demo``: the page opened from a terminal, signed in.

The commands run in their own processes, finding the daemon (in this process, serving its
page) through its runtime file as a user's would; ``BROWSER`` names a stand-in browser that
writes down the address it was given.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.integration.support import ROOT, Setup, running_daemon
from tests.page.support import PageSetup


def _mvsepd(setup: Setup, *arguments: str, **environment: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mvsepd", *arguments],
        capture_output=True,
        text=True,
        env={**setup.environment(), **environment},
        timeout=60,
        check=False,
    )


def test_open_print_url_gives_an_address_that_signs_in_once(page: PageSetup) -> None:
    done = _mvsepd(page.setup, "open", "--print-url")
    assert done.returncode == 0, done.stderr
    url = done.stdout.strip()
    assert url.startswith(page.base + "/sign-in?code=") and "\n" not in url
    session = requests.Session()
    assert session.get(url, timeout=10).url == page.base + "/"
    assert requests.get(url, timeout=10).status_code == 401, "once only"


def test_open_starts_the_browser_on_the_address(page: PageSetup, tmp_path: Path) -> None:
    record = tmp_path / "browsed.txt"
    browser = tmp_path / "browser"
    browser.write_text(f'#!/bin/sh\nprintf "%s\\n" "$1" >> "{record}"\n')
    browser.chmod(0o755)
    done = _mvsepd(page.setup, "open", BROWSER=str(browser))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"opened mvsepd's page ({page.base}/) in your browser"
    deadline = time.monotonic() + 10
    while not record.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    url = record.read_text().strip()
    assert url.startswith(page.base + "/sign-in?code=")
    assert requests.get(url, timeout=10).ok


def test_open_says_when_there_is_no_daemon_or_no_page(setup: Setup) -> None:
    done = _mvsepd(setup, "open")
    assert done.returncode == 3
    assert "mvsepd is not running" in done.stderr and "mvsepd run" in done.stderr
    with running_daemon(setup):  # a daemon started without its page
        done = _mvsepd(setup, "open", "--print-url")
    assert done.returncode != 0 and done.stdout == ""
    assert "this daemon serves no page" in done.stderr


def test_demo_prints_its_pages_address_and_keeps_it_open(tmp_path: Path) -> None:
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    environment.pop("MVSEP_API_TOKEN", None)
    demo = subprocess.Popen(
        [sys.executable, "-m", "mvsepd", "demo", "--dir", str(tmp_path), "--keep-running"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
    )
    try:
        assert demo.stdout is not None
        lines = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = demo.stdout.readline()
            lines.append(line)
            if "keeps running until Ctrl+C" in line or not line:
                break
        said = "".join(lines)
        assert "the daemon's page (signs one browser in, within 2 minutes): http://" in said
        url = lines[-1].rsplit(" ", 1)[-1].strip()
        assert "/sign-in?code=" in url, said
        page = requests.Session().get(url, timeout=10)
        assert page.ok and "Demo track.wav" in page.text, "the demo's folder and its stems"
    finally:
        demo.send_signal(signal.SIGINT)
        out, err = demo.communicate(timeout=30)
    assert demo.returncode == 0, err
    assert "stems ready in" in out
