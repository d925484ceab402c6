"""mvsepd's page in a real browser: Debian's Chromium, headless, driven by Selenium, against a
daemon on the emulator. One Chromium and one daemon for the module; the tests follow a user
through the page in order: open the one-time address, add a folder with the picker, find a
drums model by typing "drums", pick an option and see its cost and leaderboard figures, use
it for the new folder, sign in with e-mail and password. Each page is saved as a screenshot in
``test-artifacts/page/`` (the README shows them).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.ui import Select

from mvsepd.config.file import parse_config
from mvsepd.emulator import EmulatorServer
from tests.integration.conftest import QUICK
from tests.integration.support import Setup, write_wav
from tests.page.browser import chromium, screenshot, wait_for
from tests.page.support import PageSetup, measure, page_daemon, sends_as

EMAIL, PASSWORD = "producer@example.com", "correct horse"


@pytest.fixture(scope="module")
def journey() -> Iterator[tuple[PageSetup, webdriver.Chrome]]:
    tmp = Path(tempfile.mkdtemp(prefix="mvsepd-page-browser-"))
    with EmulatorServer(QUICK) as server:
        account = server.add_account(plan="free")
        server.add_account(plan="premium", credits=120, email=EMAIL, password=PASSWORD)
        hot = tmp / "Music" / "Exports"
        hot.mkdir(parents=True)
        (tmp / "Music" / "Drum takes").mkdir()
        (tmp / "Music" / "Old bounces").mkdir()
        (tmp / "Music" / "mix.wav").write_bytes(b"RIFF")
        setup = Setup(tmp=tmp, server=server, token=account.token, hot=hot)
        measure(setup, "MVSep Drums SCNet XL (2025)", "12", 230)
        measure(setup, "MVSep Drums BS Roformer (2024)", "12", 60)
        with page_daemon(setup) as page, chromium() as browser:
            yield page, browser


def _text(browser: webdriver.Chrome) -> str:
    return str(browser.find_element(By.TAG_NAME, "body").text)


def _mark(browser: webdriver.Chrome) -> None:
    """Leave a mark in the page's window: a reload (or a new page) would wipe it."""
    browser.execute_script("window.mvsepdTestMark = 'still the same page';")


def _not_reloaded(browser: webdriver.Chrome) -> bool:
    return bool(browser.execute_script("return window.mvsepdTestMark") == "still the same page")


def _card(browser: webdriver.Chrome, folder: str) -> str:
    """The text of the folder's card on the Folders page."""
    for card in browser.find_elements(By.CSS_SELECTOR, "#live section, #live article, #live li"):
        if folder in card.text:
            return str(card.text)
    return ""


def test_the_one_time_address_opens_the_page_signed_in(journey) -> None:
    page, browser = journey
    browser.get(page.sign_in_url())
    wait_for(browser, lambda b: b.title.startswith("Folders"))
    assert browser.current_url == page.base + "/", "a clean address, without the code"
    assert str(page.setup.hot) in _text(browser)
    cookie = browser.get_cookie(f"mvsepd-{page.port}")
    assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert browser.execute_script("return document.cookie") == "", "scripts cannot read it"
    assert not [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def test_a_file_dropped_appears_live_and_its_stems_are_listed(journey) -> None:
    page, browser = journey
    browser.get(page.base + "/")
    _mark(browser)
    write_wav(page.setup.hot / "Groove.wav", 6.0)
    # No reload: the page's long-poll brings the job, then its stems.
    wait_for(browser, lambda b: "Last stems: Groove.wav" in _text(b), 30)
    assert _not_reloaded(browser)


def test_a_folder_is_added_with_the_picker(journey) -> None:
    page, browser = journey
    browser.get(page.base + "/")
    browser.find_element(By.LINK_TEXT, "Add a folder").click()
    wait_for(browser, lambda b: b.title.startswith("Add a folder"))
    browser.find_element(By.CSS_SELECTOR, "[data-pick]").click()
    dialog = browser.find_element(By.ID, "picker")
    home = str(Path.home())
    wait_for(
        browser,
        lambda b: dialog.is_displayed() and b.find_element(By.ID, "picker-path").text == home,
    )
    # The home folder first; a typed path is where the picker starts: the test's own folder.
    browser.find_element(By.ID, "picker-close").click()
    field = browser.find_element(By.ID, "f-path")
    field.send_keys(str(page.setup.tmp / "Music"))
    browser.find_element(By.CSS_SELECTOR, "[data-pick]").click()
    wait_for(browser, lambda b: b.find_element(By.ID, "picker-path").text.endswith("Music"))
    names = [item.text for item in browser.find_elements(By.CSS_SELECTOR, "#picker-list button")]
    # Folders only (no mix.wav), the stems folder of the test before among them.
    assert names == ["Drum takes", "Exports", "Exports stems", "Old bounces"]
    screenshot(browser, "picker")
    browser.find_element(By.XPATH, "//ul[@id='picker-list']//button[text()='Drum takes']").click()
    wait_for(browser, lambda b: b.find_element(By.ID, "picker-path").text.endswith("Drum takes"))
    browser.find_element(By.ID, "picker-choose").click()
    assert field.get_attribute("value") == str(page.setup.tmp / "Music" / "Drum takes")
    browser.find_element(By.CSS_SELECTOR, "input[name=preset][value=four]").click()
    Select(browser.find_element(By.ID, "f-residual")).select_by_value("yes")
    screenshot(browser, "add-folder")
    browser.find_element(By.ID, "save").click()
    wait_for(browser, lambda b: "added" in _text(b))
    folders = parse_config(page.config_path.read_text()).folders
    assert [folder.path.name for folder in folders] == ["Exports", "Drum takes"]
    assert folders[1].residual is True
    assert "Drum takes" in _text(browser)
    screenshot(browser, "folders")


def test_a_file_dropped_into_the_new_folder_is_taken_without_a_restart(journey) -> None:
    page, browser = journey
    browser.get(page.base + "/")
    _mark(browser)
    drums = page.setup.tmp / "Music" / "Drum takes"
    wait_for(browser, lambda b: "not watched yet" not in _card(b, "Drum takes"), 10)
    write_wav(drums / "Kick room.wav", 2.0, seed=7)
    wait_for(browser, lambda b: "Last stems: Kick room.wav" in _card(b, "Drum takes"), 30)
    assert _not_reloaded(browser)
    assert (page.setup.tmp / "Music" / "Drum takes stems" / "Kick room").is_dir()


def test_the_file_edited_on_disk_shows_on_the_open_page_within_two_seconds(journey) -> None:
    page, browser = journey
    browser.get(page.base + "/")
    _mark(browser)
    assert "Old bounces" not in _text(browser)
    text = page.config_path.read_text()
    old = page.setup.tmp / "Music" / "Old bounces"
    page.config_path.write_text(
        text.replace(
            "folders:\n",
            f'folders:\n  - {{path: "{old}", preset: four, existing_files: skip}}\n',
            1,
        )
    )
    try:
        saved = time.monotonic()
        wait_for(browser, lambda b: "Old bounces" in _text(b), 5)
        shown_after = time.monotonic() - saved
        assert shown_after <= 2.0, f"the page showed the edit after {shown_after:.1f} s"
        assert _not_reloaded(browser)
    finally:
        page.config_path.write_text(text)  # as it was, for the tests after this one
    wait_for(browser, lambda b: "Old bounces" not in _text(b), 5)


def test_a_refused_folder_says_why_next_to_the_field(journey) -> None:
    page, browser = journey
    before = page.config_path.read_text()
    browser.get(page.base + "/folders/new")
    browser.find_element(By.ID, "f-path").send_keys(str(page.setup.hot / "inside"))
    browser.find_element(By.CSS_SELECTOR, "input[name=preset][value=four]").click()
    browser.find_element(By.TAG_NAME, "summary").click()
    browser.find_element(By.ID, "f-poll_interval").send_keys("soon")
    browser.find_element(By.ID, "save").click()
    error = wait_for(browser, lambda b: b.find_element(By.ID, "e-poll_interval"))
    assert "line " in error.text and "folders[2].poll_interval" in error.text
    assert "folders[2].path" in browser.find_element(By.ID, "e-path").text
    assert browser.find_element(By.ID, "f-poll_interval").get_attribute("aria-invalid") == "true"
    assert page.config_path.read_text() == before
    screenshot(browser, "folder-refused")


def test_a_drums_model_is_found_by_typing_drums(journey) -> None:
    page, browser = journey
    browser.get(page.base + "/models")
    total = len(browser.find_elements(By.CSS_SELECTOR, "#model-list tbody tr"))
    search = browser.find_element(By.ID, "q")
    search.send_keys("drums")
    wait_for(browser, lambda b: int(b.find_element(By.ID, "shown-count").text) < total)
    shown = [
        row.text
        for row in browser.find_elements(By.CSS_SELECTOR, "#model-list tbody tr")
        if row.is_displayed()
    ]
    assert shown and all("drum" in row.lower() for row in shown), shown
    assert any(row.startswith("MVSep Drums (drums, other)") for row in shown)
    screenshot(browser, "models", whole=False)
    browser.find_element(By.LINK_TEXT, "MVSep Drums (drums, other)").click()
    wait_for(browser, lambda b: b.title.startswith("MVSep Drums"))
    chosen = Select(browser.find_element(By.ID, "o-add_opt1"))
    label = next(option.text for option in chosen.options if not option.is_selected())
    cost = browser.find_element(By.ID, "per-minute")
    chosen.select_by_visible_text(label)  # the form shows the cost of the new choice
    wait_for(browser, staleness_of(cost))
    picked = Select(browser.find_element(By.ID, "o-add_opt1")).first_selected_option.text
    assert picked == label
    assert browser.switch_to.active_element.get_attribute("id") == "o-add_opt1", "focus kept"
    assert "credit per minute" in browser.find_element(By.ID, "per-minute").text
    quality = browser.find_element(By.ID, "quality").find_element(By.XPATH, "..").text
    assert "MVSep Drums SCNet XL (2025)" in quality and "Drums dataset" in quality
    assert "drums" in quality and "SDR" in quality
    screenshot(browser, "model")


def test_use_the_model_for_the_new_folder(journey) -> None:
    page, browser = journey
    Select(browser.find_element(By.ID, "u-folder")).select_by_index(2)
    name = browser.find_element(By.ID, "u-name")
    name.clear()
    name.send_keys("drums")
    browser.find_element(By.ID, "use-it").click()
    wait_for(browser, lambda b: "added preset drums" in _text(b))
    config = parse_config(page.config_path.read_text())
    assert config.presets["drums"].sep_type == 44 and config.folders[1].preset == "drums"


def test_removing_a_folder_asks_first(journey) -> None:
    page, browser = journey
    before = page.config_path.read_text()
    browser.get(page.base + "/")
    browser.find_elements(By.LINK_TEXT, "Remove")[1].click()
    wait_for(browser, lambda b: b.title.startswith("Remove a folder"))
    assert "Drum takes from mvsepd?" in _text(browser)
    assert "Its files and stems stay where they are" in _text(browser)
    screenshot(browser, "remove-folder")
    browser.find_element(By.LINK_TEXT, "Keep it").click()
    wait_for(browser, lambda b: b.title.startswith("Folders"))
    assert page.config_path.read_text() == before


def test_sign_in_with_email_and_password(journey) -> None:
    page, browser = journey
    browser.get(page.base + "/account")
    browser.find_element(By.ID, "email").send_keys(EMAIL)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "sign-in-password").click()
    wait_for(browser, lambda b: "signed in" in _text(b))
    stored = page.setup.paths.token_file.read_text().strip()
    (account,) = [each for each in page.setup.server.state.accounts() if each.email == EMAIL]
    assert stored == account.token and stored not in browser.page_source
    assert sends_as(page, stored)
    screenshot(browser, "account")


def test_the_refused_file_on_disk_is_shown_with_line_and_key(journey) -> None:
    """A file on disk that does not pass: the open page shows the refusal (line and key)
    within 2 s, without a reload, and the folders in force keep working."""
    page, browser = journey
    browser.get(page.base + "/")
    _mark(browser)
    text = page.config_path.read_text()
    page.config_path.write_text(text.replace("sep_type: 20", "sep_type: [20"))
    try:
        saved = time.monotonic()
        alert = wait_for(browser, lambda b: b.find_element(By.CSS_SELECTOR, "#live .alert"), 5)
        assert time.monotonic() - saved <= 2.0
        assert _not_reloaded(browser)
        assert "refused the configuration file" in alert.text and "line " in alert.text
        assert "Drum takes" in _text(browser), "the configuration in force is still listed"
        screenshot(browser, "refused")
        write_wav(page.setup.hot / "While refused.wav", 2.0, seed=8)
        wait_for(browser, lambda b: "Last stems: While refused.wav" in _text(b), 30)
    finally:
        page.config_path.write_text(text)
    wait_for(browser, lambda b: not b.find_elements(By.CSS_SELECTOR, "#live .alert"), 5)


def test_the_keyboard_reaches_everything_and_a_narrow_window_fits(journey) -> None:
    page, browser = journey
    browser.get(page.base + "/models")
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)  # the skip link first
    assert browser.switch_to.active_element.text == "Skip to the content"
    for _ in range(10):
        if browser.switch_to.active_element.get_attribute("id") == "q":
            break
        browser.switch_to.active_element.send_keys(Keys.TAB)
    assert browser.switch_to.active_element.get_attribute("id") == "q"
    browser.switch_to.active_element.send_keys("piano", Keys.TAB, Keys.TAB, Keys.TAB)
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    wait_for(browser, lambda b: "piano" in b.title.lower())
    assert "/models/" in browser.current_url
    browser.set_window_size(420, 800)
    try:
        for name, path in (("narrow-folders", "/"), ("narrow-models", "/models")):
            browser.get(page.base + path)
            time.sleep(0.2)
            width = browser.execute_script("return document.documentElement.scrollWidth")
            assert width <= 420, f"{path} is {width} px wide in a 420 px window"
            screenshot(browser, name, whole=False)
    finally:
        browser.set_window_size(1280, 800)
