"""A real browser for the page's tests: Debian's Chromium, headless, driven by its
chromium-driver through Selenium (``scripts/test`` installs both).

Chromium starts with a fresh profile and without its background connections (component
updates, sync, safe-browsing lists, QUIC): the test machine's network refuses them, and a test
must talk to 127.0.0.1 only. Screenshots go to ``test-artifacts/page/``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "page"
WIDTH, HEIGHT = 1280, 800
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
    "--metrics-recording-only",
    "--password-store=basic",
)


def _binaries() -> tuple[str, str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or "/usr/lib/chromium/chromedriver"
    if chromium is None or not Path(driver).exists():
        # The page's browser tests are part of the suite, never skipped for convenience.
        pytest.fail(
            "Chromium and its driver are not installed: run the tests with scripts/test (it "
            "installs Debian's chromium and chromium-driver), or `apt-get install -y chromium "
            "chromium-driver`"
        )
    return chromium, driver


@contextmanager
def chromium(
    flags: tuple[str, ...] = (), preferences: dict[str, Any] | None = None
) -> Iterator[webdriver.Chrome]:
    """One headless Chromium with a fresh profile, at 1280x800 (with more ``flags`` and profile
    ``preferences``, such as a permission granted)."""
    binary, driver = _binaries()
    profile = Path(tempfile.mkdtemp(prefix="mvsepd-chromium-"))
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={WIDTH},{HEIGHT}")
    for flag in flags:
        options.add_argument(flag)
    if preferences:
        options.add_experimental_option("prefs", preferences)
    browser = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    browser.set_page_load_timeout(30)
    try:
        yield browser
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(
    browser: webdriver.Chrome, condition: Callable[[webdriver.Chrome], Any], seconds: float = 10
) -> Any:
    """The condition's first truthy value, within ``seconds`` (an element that went with the
    page it was on, while the browser moves to the next, is asked again)."""
    ignored = (NoSuchElementException, StaleElementReferenceException)
    return WebDriverWait(browser, seconds, poll_frequency=0.05, ignored_exceptions=ignored).until(
        condition
    )


def screenshot(browser: webdriver.Chrome, name: str, *, whole: bool = True) -> Path:
    """Save the page (``whole``: all of it, else the window's view of its top) as
    ``test-artifacts/page/<name>.png``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    size = browser.get_window_size()
    height = browser.execute_script("return document.documentElement.scrollHeight")
    if whole:
        browser.set_window_size(size["width"], max(size["height"], int(height) + 100))
    browser.execute_script("window.scrollTo(0, 0)")
    try:
        browser.save_screenshot(str(path))
    finally:
        browser.set_window_size(size["width"], size["height"])
    return path
