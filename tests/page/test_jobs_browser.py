"""The Jobs page in a real browser (Debian's Chromium, headless, through Selenium): files
dropped into a fan-out folder (two presets) and a chain folder go through their phases on the
page without a reload, in the words ``mvsepd status`` uses (upload percent, MVSEP's queue,
processing, the chain's step), a broken file shows why it failed and what to do, and the
filters narrow the list. The emulator is slowed to a real link's pace so every phase lasts.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from mvsepd.emulator import EmulatorServer, EmulatorSettings
from tests.integration.support import Setup
from tests.page.browser import chromium, screenshot, wait_for
from tests.page.support import PageSetup, page_daemon
from tests.page.takes import fan_out_config

PACED = EmulatorSettings(
    publish_seconds=1.0,
    publish_jitter=0.0,
    queue_seconds=1.0,
    processing_seconds=1.5,
    rate_limit=False,
    upload_rate=300_000,
)

CHAIN = """chains:
  clean:
    steps:
      - {id: split, preset: vocals}
      - {id: denoise, from: split/Vocals, sep_type: 47}
"""

#: Records, in the page's window, every phase and summary each job row shows as the live
#: part is replaced (a reload would wipe it).
WATCH = """
window.mvsepdSeen = {};
const record = function () {
  for (const row of document.querySelectorAll("tr.job")) {
    const seen = (window.mvsepdSeen[row.id] = window.mvsepdSeen[row.id] || []);
    const now = row.dataset.phase + " | " + row.querySelector(".summary").textContent;
    if (seen[seen.length - 1] !== now) seen.push(now);
  }
};
new MutationObserver(record).observe(
  document.getElementById("live"), {childList: true, subtree: true}
);
record();
// Every notification the page shows, through the real Notification API.
window.mvsepdShown = [];
const Real = window.Notification;
window.Notification = class extends Real {
  constructor(title, options) {
    super(title, options);
    window.mvsepdShown.push({title: title, body: options.body, tag: options.tag, notice: this});
  }
};
"""
#: The test profile allows the page's notifications (as a user's click on "Allow" does).
NOTIFICATIONS_ALLOWED = {"profile.default_content_setting_values.notifications": 1}


@dataclass
class Stage:
    page: PageSetup
    browser: webdriver.Chrome
    fan_out: Path
    chain: Path


@pytest.fixture(scope="module")
def stage() -> Iterator[Stage]:
    tmp = Path(tempfile.mkdtemp(prefix="mvsepd-page-jobs-"))
    with EmulatorServer(PACED) as server:
        account = server.add_account(plan="premium", credits=200)
        fan_out, chain = tmp / "Music" / "Two models", tmp / "Music" / "Clean vocals"
        fan_out.mkdir(parents=True)
        chain.mkdir(parents=True)
        setup = Setup(tmp=tmp, server=server, token=account.token, hot=fan_out)
        chain_folder = (
            f'  - path: "{chain}"\n    preset: clean\n    existing_files: process\n'
            "    stability_seconds: 0.3\n"
        )
        text = fan_out_config(setup, chains=CHAIN, more_folders=chain_folder)
        with (
            page_daemon(setup, text) as page,
            chromium(preferences=NOTIFICATIONS_ALLOWED) as browser,
        ):
            yield Stage(page, browser, fan_out, chain)


def _noise(folder: Path, name: str, seed: int) -> None:
    """Four seconds of stereo noise (FLAC cannot shrink it: the upload takes a while)."""
    samples = np.random.default_rng(seed).uniform(-0.5, 0.5, (4 * 48000, 2))
    temporary = folder / f".{name}.writing"
    soundfile.write(str(temporary), samples, 48000, subtype="PCM_16", format="WAV")
    os.replace(temporary, folder / name)


def _seen(browser: webdriver.Chrome) -> dict[str, list[str]]:
    return dict(browser.execute_script("return window.mvsepdSeen"))


def _rows(browser: webdriver.Chrome) -> list[dict[str, Any]]:
    return list(
        browser.execute_script(
            "return Array.from(document.querySelectorAll('tr.job')).map(r => ({id: r.id, "
            "phase: r.dataset.phase, text: r.textContent.replace(/\\s+/g, ' ')}))"
        )
    )


def test_jobs_go_through_their_phases_on_the_page_without_a_reload(stage: Stage) -> None:
    page, browser = stage.page, stage.browser
    browser.get(page.base + page.page.sign_in_path("/jobs"))
    wait_for(browser, lambda b: b.title.startswith("Jobs"))
    assert browser.find_element(By.ID, "no-jobs")
    browser.execute_script("window.mvsepdTestMark = 'same page';" + WATCH)
    _noise(stage.fan_out, "Verse.wav", 1)
    _noise(stage.chain, "Lead vocal.wav", 2)
    (stage.fan_out / "Broken.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" + bytes(300))

    # Mid-flight, for the README.
    wait_for(browser, lambda b: any(r["phase"] == "uploading" for r in _rows(b)), 30)
    screenshot(browser, "jobs")

    def finished(b: webdriver.Chrome) -> bool:
        rows = _rows(b)
        done = [row for row in rows if row["phase"] == "done"]
        # Two presets of the fan-out, the chain's one line (its last step).
        return len(done) == 3 and any("step 2 of 2" in row["text"] for row in done)

    wait_for(browser, finished, 90)
    assert browser.execute_script("return window.mvsepdTestMark") == "same page", "no reload"
    seen = _seen(browser)
    phases = {row: [entry.split(" | ")[0] for entry in entries] for row, entries in seen.items()}
    texts = [entry for entries in seen.values() for entry in entries]
    # Every job was seen at work and then done, in order, on the same page.
    worked = [row for row, order in phases.items() if order[-1] == "done"]
    assert len(worked) >= 3, phases
    for row in worked:
        order = phases[row]
        assert len(set(order)) >= 3, (row, order)
        for earlier, later in (("uploading", "done"), ("processing", "done")):
            if earlier in order:
                assert order.index(earlier) < order.index(later), (row, order)
    everything = [phase for order in phases.values() for phase in order]
    assert {"uploading", "processing", "done"} <= set(everything), phases
    assert any(re.search(r"uploading \d+ %", text) for text in texts), texts
    assert any("step 1 of 2: split" in text for text in texts), texts
    assert any("step 2 of 2: denoise" in text for text in texts), texts
    # The broken file: why, and what to do.
    broken = next(row for row in _rows(browser) if "Broken.wav" in row["text"])
    assert broken["phase"] == "failed"
    assert "fix the file" in broken["text"], broken

    # One notification per take whose stems are all placed: the fan-out's (two presets) and
    # the chain's (after its last step), none for the broken file.
    assert browser.execute_script("return Notification.permission") == "granted"
    wait_for(browser, lambda b: len(b.execute_script("return window.mvsepdShown")) >= 2, 10)
    time.sleep(1.0)  # a second notice for either take would come with the next answer
    shown = browser.execute_script(
        "return window.mvsepdShown.map(n => ({title: n.title, body: n.body, tag: n.tag}))"
    )
    assert sorted(notice["body"] for notice in shown) == [
        "Lead vocal.wav: stems ready",
        "Verse.wav: stems ready (2 results)",
    ], shown
    assert {notice["title"] for notice in shown} == {"Stems ready"}
    assert len({notice["tag"] for notice in shown}) == 2
    # A click on one opens its take's page.
    index = next(i for i, notice in enumerate(shown) if notice["body"].startswith("Verse"))
    take = int(shown[index]["tag"].rsplit("-", 1)[1])
    browser.execute_script(
        "window.mvsepdShown[arguments[0]].notice.dispatchEvent(new Event('click'))", index
    )
    wait_for(browser, lambda b: b.current_url == f"{page.base}/takes/{take}")
    wait_for(browser, lambda b: "Verse.wav" in b.title)


def test_the_filters_narrow_the_list(stage: Stage) -> None:
    page, browser = stage.page, stage.browser
    browser.get(page.base + "/jobs")
    Select(browser.find_element(By.ID, "filter-state")).select_by_value("failed")
    wait_for(browser, lambda b: "state=failed" in b.current_url)
    rows = _rows(browser)
    assert rows and all(row["phase"] == "failed" for row in rows), rows
    Select(browser.find_element(By.ID, "filter-state")).select_by_value("")
    wait_for(browser, lambda b: "state=failed" not in b.current_url)
    Select(browser.find_element(By.ID, "filter-folder")).select_by_value(str(stage.chain))
    wait_for(browser, lambda b: "folder=%2F" in b.current_url)
    rows = _rows(browser)
    assert rows and all(str(stage.chain) in row["text"] for row in rows), rows
    browser.find_element(By.ID, "filter-today").click()
    wait_for(browser, lambda b: "today=1" in b.current_url)
    assert _rows(browser), "today's jobs"
    assert page.base in browser.current_url
