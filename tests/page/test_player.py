"""A take's page in a real browser (Debian's Chromium, headless, through Selenium): the source
and every stem of a fan-out (two presets) as waveforms shaped like the audio, one transport,
solo, mute and "everything but" heard through the page's own audio graph rendered offline, the
live output level through its AnalyserNode, and a switch between the two results while playing
at the same position.

The take is a test signal with one tone per stem (``tests/page/takes.py``): silence for two
seconds, then a bass, vocal, drum and "other" tone at their own frequencies, which the
emulator's band split hands one to each stem.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from mvsepd.emulator import EmulatorServer
from tests.integration.conftest import QUICK
from tests.integration.support import Setup
from tests.page.browser import chromium, screenshot, wait_for
from tests.page.support import PageSetup, page_daemon
from tests.page.takes import RATE, TONES, Take, fan_out_config, wait_for_take, write_source

AUTOPLAY = ("--autoplay-policy=no-user-gesture-required",)


@dataclass
class Stage:
    """The daemon, the take and the browser on its page."""

    page: PageSetup
    take: Take
    browser: webdriver.Chrome


@pytest.fixture(scope="module")
def player() -> Iterator[Stage]:
    tmp = Path(tempfile.mkdtemp(prefix="mvsepd-page-player-"))
    with EmulatorServer(QUICK) as server:
        account = server.add_account(plan="premium", credits=100)
        hot = tmp / "Music" / "Two models"
        hot.mkdir(parents=True)
        setup = Setup(tmp=tmp, server=server, token=account.token, hot=hot)
        with page_daemon(setup, fan_out_config(setup)) as page, chromium(AUTOPLAY) as browser:
            write_source(hot)
            take = wait_for_take(page, 2)
            browser.get(page.base + page.page.sign_in_path(f"/takes/{take.id}"))
            wait_for(browser, lambda b: b.find_element(By.ID, "player").get_attribute("data-ready"))
            yield Stage(page, take, browser)


def _js(browser: webdriver.Chrome, script: str, *arguments: Any) -> Any:
    return browser.execute_script(script, *arguments)


def _tracks(browser: webdriver.Chrome) -> list[dict[str, Any]]:
    return list(
        _js(
            browser,
            "return window.mvsepdPlayer.tracks.map(t => ({id: t.id, job: t.job, label: t.label}))",
        )
    )


def _track(browser: webdriver.Chrome, job: int, label: str) -> str:
    return str(next(t["id"] for t in _tracks(browser) if t["job"] == job and t["label"] == label))


def _heard(browser: webdriver.Chrome, seconds: float = 1.0) -> dict[str, float]:
    """What the page's graph plays from 2.5 s on, rendered offline: the level of each tone."""
    samples = np.array(
        browser.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "window.mvsepdPlayer.render(2.5, arguments[0]).then(done, e => done(String(e)));",
            seconds,
        )
    )
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples)))) / len(samples)
    frequencies = np.fft.rfftfreq(len(samples), 1 / RATE)
    return {
        name: float(spectrum[np.abs(frequencies - tone) < 15].max()) for name, tone in TONES.items()
    }


def _only(levels: dict[str, float], *names: str) -> bool:
    loud = min(levels[name] for name in names)
    quiet = max((level for name, level in levels.items() if name not in names), default=0.0)
    return loud > 0.01 and quiet < loud / 100


def _press(browser: webdriver.Chrome, track: str, action: str) -> None:
    row = browser.find_element(By.CSS_SELECTOR, f'[data-track="{track}"]')
    button = row.find_element(By.CSS_SELECTOR, f'[data-action="{action}"]')
    _js(browser, "arguments[0].scrollIntoView({block: 'center'})", button)
    button.click()


def _clear(browser: webdriver.Chrome) -> None:
    _js(
        browser,
        "const s = window.mvsepdPlayer.state; s.muted.clear(); s.soloed.clear(); s.allBut = null;"
        "s.sourceOnly = false;",
    )


def test_every_stem_is_a_waveform_shaped_like_its_audio(player: Stage) -> None:
    browser = player.browser
    tracks = _tracks(browser)
    # The source and every stem of both results: vocals (2 stems) and four (5 with the
    # instrumental).
    assert tracks[0]["id"] == "source" and len(tracks) == 1 + 2 + 5
    for track in tracks:
        heights = _js(
            browser,
            """
            const canvas = document.querySelector('[data-track="' + arguments[0] + '"] canvas');
            const image = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
            const heights = [];
            for (let x = 0; x < canvas.width; x += 1) {
              let count = 0;
              for (let y = 0; y < canvas.height; y += 1) {
                if (image.data[(y * canvas.width + x) * 4 + 3] > 0) count += 1;
              }
              heights.push(count);
            }
            return heights;
            """,
            track["id"],
        )
        width = len(heights)
        first, second = heights[: width // 4], heights[width // 2 + width // 20 :]
        assert max(first) <= 2, (track, "the silent first half is a flat line")
        assert min(second) >= 3 and sum(second) / len(second) >= 5, (track, "the tone")
    screenshot(browser, "take")


def test_play_moves_the_shared_clock(player: Stage) -> None:
    browser = player.browser
    _clear(browser)
    browser.find_element(By.ID, "play").click()
    wait_for(browser, lambda b: _js(b, "return window.mvsepdPlayer.position()") > 0.3)
    first = _js(
        browser, "return [window.mvsepdPlayer.position(), window.mvsepdPlayer.context.currentTime]"
    )
    time.sleep(0.5)
    later = _js(
        browser, "return [window.mvsepdPlayer.position(), window.mvsepdPlayer.context.currentTime]"
    )
    assert later[0] > first[0] + 0.2 and later[1] > first[1] + 0.2
    assert _js(browser, "return window.mvsepdPlayer.context.state") == "running"
    assert browser.find_element(By.ID, "play").text == "Pause"
    browser.find_element(By.ID, "play").click()
    stopped = _js(browser, "return window.mvsepdPlayer.position()")
    time.sleep(0.3)
    assert _js(browser, "return window.mvsepdPlayer.position()") == stopped


def test_solo_mute_and_everything_but_change_what_is_heard(player: Stage) -> None:
    take, browser = player.take, player.browser
    vocals_job, four_job = take.jobs[0].id, take.jobs[1].id
    _js(browser, "window.mvsepdPlayer.heardJob(arguments[0])", four_job)
    _clear(browser)
    # All of "four": every tone (the instrumental doubles all but the vocal).
    assert _only(_heard(browser), *TONES)
    _press(browser, _track(browser, four_job, "Drums"), "solo")
    assert _only(_heard(browser), "drums")
    _press(browser, _track(browser, four_job, "Bass"), "solo")
    assert _only(_heard(browser), "drums", "bass")
    _clear(browser)
    _press(browser, _track(browser, four_job, "Vocals"), "mute")
    _press(browser, _track(browser, four_job, "Instrumental"), "mute")
    assert _only(_heard(browser), "bass", "drums", "other")
    _clear(browser)
    _press(browser, _track(browser, four_job, "Instrumental"), "but")
    assert _only(_heard(browser), *TONES)  # the stems sum to the source
    _press(browser, _track(browser, four_job, "Vocals"), "but")
    levels = _heard(browser)
    assert levels["vocals"] < max(levels.values()) / 100, "everything but the vocal"
    # A/B: the source alone.
    _clear(browser)
    browser.find_element(By.ID, "hear-source").click()
    assert _js(browser, "return window.mvsepdPlayer.state.sourceOnly")
    assert _only(_heard(browser), *TONES)
    browser.find_element(By.ID, "hear-source").click()
    # The other result: its vocal alone.
    _js(browser, "window.mvsepdPlayer.heardJob(arguments[0])", vocals_job)
    _press(browser, _track(browser, vocals_job, "Vocals"), "solo")
    assert _only(_heard(browser), "vocals")
    _clear(browser)


def test_the_live_output_is_heard_and_silenced_through_its_analyser(player: Stage) -> None:
    browser = player.browser
    _clear(browser)
    _js(browser, "window.mvsepdPlayer.play(2.2)")
    wait_for(browser, lambda b: _js(b, "return window.mvsepdPlayer.levels().peak") > 0.05)
    for track in _tracks(browser):
        _js(browser, "window.mvsepdPlayer.state.muted.add(arguments[0])", track["id"])
    browser.find_element(By.ID, "loop")  # the page is still there
    _js(browser, "window.mvsepdPlayer.heardJob(window.mvsepdPlayer.state.heardJob)")
    wait_for(browser, lambda b: _js(b, "return window.mvsepdPlayer.levels().peak") < 0.001)
    _js(browser, "window.mvsepdPlayer.pause()")
    _clear(browser)


def test_switching_results_while_playing_keeps_the_position(player: Stage) -> None:
    take, browser = player.take, player.browser
    vocals_job, four_job = take.jobs[0].id, take.jobs[1].id
    _clear(browser)
    _js(browser, "window.mvsepdPlayer.heardJob(arguments[0])", vocals_job)
    _js(browser, "window.mvsepdPlayer.play(0.5)")
    wait_for(browser, lambda b: _js(b, "return window.mvsepdPlayer.position()") > 1.0)
    before = _js(browser, "return window.mvsepdPlayer.position()")
    radio = browser.find_element(By.CSS_SELECTOR, f'input[name="heard"][value="{four_job}"]')
    radio.click()
    after = _js(browser, "return window.mvsepdPlayer.position()")
    assert before <= after < before + 0.5, "the same place in the take"
    assert _js(browser, "return window.mvsepdPlayer.playing")
    heard = _js(
        browser,
        "return window.mvsepdPlayer.tracks.filter(t => window.mvsepdPlayer.audible(t))"
        ".map(t => t.job)",
    )
    assert set(heard) == {four_job}
    section = browser.find_element(By.CSS_SELECTOR, f'[data-result="{vocals_job}"]')
    assert "silent" in str(section.get_attribute("class"))
    _js(browser, "window.mvsepdPlayer.pause()")


def test_stems_drag_out_as_files_and_show_in_folder_reveals_them(player: Stage) -> None:
    take, browser = player.take, player.browser
    four = take.jobs[1]
    link = browser.find_element(By.CSS_SELECTOR, f'[data-track="{four.id}:0"] a.stem-name')
    assert link.get_attribute("draggable") == "true"
    dragged = _js(
        browser,
        "const data = new DataTransfer();"
        "arguments[0].dispatchEvent(new DragEvent('dragstart', {dataTransfer: data}));"
        "return data.getData('DownloadURL');",
        link,
    )
    kind, name, address = str(dragged).split(":", 2)
    assert kind == "audio/wav" and name == link.get_attribute("download")
    assert address == f"{player.page.base}/takes/{take.id}/jobs/{four.id}/stems/0"
    shown: list[Path] = []
    player.page.page.app.host.reveal = shown.append
    button = browser.find_element(By.CSS_SELECTOR, f'[data-result="{four.id}"] [data-reveal]')
    _js(browser, "arguments[0].scrollIntoView({block: 'center'})", button)
    button.click()
    wait_for(browser, lambda _b: shown)
    assert four.output_dir is not None and shown == [Path(four.output_dir)]


def test_a_selection_loops(player: Stage) -> None:
    browser = player.browser
    _clear(browser)
    _js(browser, "document.getElementById('loop').checked = true;")
    _js(browser, "window.mvsepdPlayer.setSelection(2.0, 2.8); window.mvsepdPlayer.play(2.0)")
    wait_for(browser, lambda b: _js(b, "return window.mvsepdPlayer.playing"))
    seen = []
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:
        seen.append(float(_js(browser, "return window.mvsepdPlayer.position()")))
        time.sleep(0.05)
    _js(browser, "window.mvsepdPlayer.pause(); document.getElementById('loop').checked = false;")
    _js(browser, "window.mvsepdPlayer.setSelection(null, null)")
    assert min(seen) >= 1.99 and max(seen) < 3.0, "it stays in the selection"
    assert any(later < earlier for earlier, later in itertools.pairwise(seen)), "and starts again"
