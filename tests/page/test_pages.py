"""What the page does, over HTTP as a browser's forms do it: folders added, changed, paused and
removed through the configuration (comments and order kept); models found by stem with their
cost and leaderboard figures; signing in and the premium switch.

A daemon serving its page on the emulator; the configuration saved through the test
``LiveConfig`` (checked like ``mvsepd config check``, written to the test's file).
"""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import requests

from mvsepd.config.file import parse_config
from mvsepd.engine.leaderboard import search_name
from tests.integration.support import Setup, wait_until, write_wav
from tests.page.support import PAGE_DAEMON, PageSetup, measure, page_daemon, post, sends_as

USERS_CONFIG = """# Studio config, with the user's own comments.
account:
  server: "{server}"     # the emulator
presets:
  four:                  # four stems
    sep_type: 20
    output_format: wav16
folders:
  # Ableton renders here
  - path: "{hot}"
    preset: four
    existing_files: process
    stability_seconds: 0.3
daemon:
  {daemon}
"""


def users_config(setup: Setup) -> str:
    return USERS_CONFIG.format(server=setup.server.url, hot=setup.hot, daemon=PAGE_DAEMON)


def _text(html: str) -> str:
    """A page's words, without its tags."""
    inline = re.sub(r"</?(?:strong|span|a|em|code)\b[^>]*>", "", html)
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", inline)))


def test_a_folder_added_from_the_page_is_saved_with_the_users_comments(
    setup: Setup, tmp_path: Path
) -> None:
    new = tmp_path / "Drum takes"
    new.mkdir()
    with page_daemon(setup, users_config(setup)) as page:
        session = page.session()
        before = page.config_path.read_text()
        answer = post(
            session,
            page,
            "/folders/new",
            {
                "path": str(new),
                "preset": "four",
                "existing_files": "skip",
                "patterns": "*.wav, *.aif",
                "residual": "yes",
            },
        )
        assert answer.status_code == 200 and answer.url == page.base + "/"
        assert f"added {new}" in answer.text
        after = page.config_path.read_text()
        assert after.startswith(before.split("daemon:")[0]), "everything before stays as written"
        assert "# Ableton renders here" in after and "# the emulator" in after
        added = parse_config(after).folders[1]
        assert added.path == new and added.patterns == ("*.wav", "*.aif") and added.residual
        # The folder is listed, with what the daemon knows of it.
        listed = _text(session.get(page.base + "/", timeout=10).text)
        assert str(new) in listed and "preset four" in listed


def test_a_refused_folder_says_why_next_to_the_field_and_saves_nothing(page: PageSetup) -> None:
    session = page.session()
    before = page.config_path.read_text()
    answer = post(
        session,
        page,
        "/folders/new",
        {"path": str(page.setup.hot / "inside"), "preset": "", "poll_interval": "soon"},
    )
    assert answer.status_code == 422
    assert page.config_path.read_text() == before
    # Each problem next to its field (with the file's line), the form keeps what was typed.
    preset = re.search(r'<p class="error" id="e-preset">(.*?)</p>', answer.text, re.S)
    assert preset and "folders[1].preset" in preset.group(1)
    interval = re.search(r'<p class="error" id="e-poll_interval">(.*?)</p>', answer.text, re.S)
    assert interval and "line " in interval.group(1) and "number" in interval.group(1)
    assert 'value="soon"' in answer.text and 'aria-invalid="true"' in answer.text
    # A folder inside another hot folder: said next to the path.
    nested = post(
        session, page, "/folders/new", {"path": str(page.setup.hot / "inside"), "preset": "four"}
    )
    assert nested.status_code == 422 and page.config_path.read_text() == before
    path = re.search(r'<p class="error" id="e-path">(.*?)</p>', nested.text, re.S)
    assert path and "folders[1].path" in path.group(1), nested.text


def test_a_folder_changed_paused_and_removed(setup: Setup) -> None:
    with page_daemon(setup, users_config(setup)) as page:
        session = page.session()
        form = session.get(page.base + "/folders/0", timeout=10).text
        assert 'value="process" selected' in form, "the form shows the folder as it is"
        made_from = re.search(r'name="made_from" value="([0-9a-f]+)"', form)
        assert made_from
        answer = post(
            session,
            page,
            "/folders/0",
            {
                "path": str(setup.hot),
                "preset": "four",
                "existing_files": "process",
                "after_success": "keep",
                "conform": "off",
                "made_from": made_from.group(1),
            },
        )
        assert answer.ok and "saved" in answer.text
        text = page.config_path.read_text()
        assert "    conform: off\n" in text and "# Ableton renders here" in text
        assert parse_config(text).folders[0].stability_seconds is None, "left empty: default"
        # The form's fingerprint is of the text before: a second save from it is refused.
        stale = post(
            session,
            page,
            "/folders/0",
            {"path": str(setup.hot), "preset": "four", "made_from": made_from.group(1)},
        )
        assert stale.status_code == 422 and "changed since this page was shown" in stale.text
        paused = post(session, page, "/folders/0/pause", {})
        assert "paused: new files wait" in paused.text
        assert parse_config(page.config_path.read_text()).folders[0].paused
        assert "    paused: true\n" in page.config_path.read_text()
        resumed = post(session, page, "/folders/0/resume", {})
        assert "resumed" in resumed.text and "paused:" not in page.config_path.read_text()
        confirm = session.get(page.base + "/folders/0/remove", timeout=10).text
        assert "Its files and stems stay where they are" in confirm
        removed = post(session, page, "/folders/0/remove", {})
        assert "removed" in removed.text
        remaining = page.config_path.read_text()
        assert parse_config(remaining).folders == ()
        assert "# Studio config" in remaining and "# four stems" in remaining


def test_a_paused_folder_takes_no_new_files(setup: Setup) -> None:
    text = users_config(setup).replace("    existing_files: process\n", "    paused: true\n")
    with page_daemon(setup, text) as page:
        write_wav(setup.hot / "take.wav", 0.2)
        session = page.session()
        listed = _text(session.get(page.base + "/", timeout=10).text)
        assert "paused" in listed and "Resume" in listed
        status = page.daemon.status_api
        assert status is not None
        assert status.picture.folders()[0]["watch"] == "paused"
        page.daemon.engine.rescan()
        wait_until(lambda: page.daemon.engine.context.feed.version > 0, 5)
        assert page.daemon.store.jobs() == [], "nothing taken from a paused folder"


def test_the_folders_page_shows_jobs_live_and_the_engines_controls(page: PageSetup) -> None:
    session = page.session()
    version = page.daemon.engine.context.feed.version
    write_wav(page.setup.hot / "Song.wav", 0.3)
    answer = session.get(
        page.base + "/live", params={"view": "folders", "since": str(version)}, timeout=40
    )
    assert answer.ok and answer.json()["version"] > version
    wait_until(lambda: page.running.done(1), 30, message="the stems")
    live = session.get(page.base + "/live", params={"view": "folders"}, timeout=10).json()
    assert "Last stems" in live["html"] and "Song.wav" in live["html"]
    assert post(session, page, "/pause", {}).ok and page.daemon.engine.paused
    assert "Resume submissions" in session.get(page.base + "/", timeout=10).text
    assert post(session, page, "/resume", {}).ok and not page.daemon.engine.paused


def test_an_unchanged_page_waits_instead_of_answering(page: PageSetup) -> None:
    """The live part is a long-poll: with nothing new the request is held (no polling), and
    it is answered as soon as something changes."""
    import threading
    import time

    session = page.session()
    feed = page.daemon.engine.context.feed
    # A daemon just started still has news (the account, the catalog): wait for a quiet feed.
    wait_until(lambda: page.daemon.context.account.user is not None, 10, message="the account")
    version = -1
    while version != feed.version:
        version = feed.version
        time.sleep(1.0)
    answers: list[tuple[float, requests.Response]] = []

    def ask() -> None:
        answer = session.get(
            page.base + "/live", params={"view": "account", "since": str(version)}, timeout=40
        )
        answers.append((time.monotonic(), answer))

    asking = threading.Thread(target=ask)
    asking.start()
    time.sleep(1.0)
    assert not answers, "answered although nothing changed"
    changed_at = time.monotonic()
    feed.bump()
    asking.join(timeout=10)
    answered_at, answer = answers[0]
    assert answer.ok and answer.json()["version"] > version
    assert answered_at - changed_at < 2


def test_models_are_found_by_stem_with_cost_and_leaderboard_figures(page: PageSetup) -> None:
    setup = page.setup
    measure(setup, "MVSep Drums SCNet XL (2025)", "12", 200)
    measure(setup, "MVSep Drums BS Roformer", "12", 90)
    session = page.session()
    listing = session.get(page.base + "/models", params={"q": "drums"}, timeout=30).text
    shown = re.findall(r'<tr data-search="[^"]*"(?: data-group="[^"]*")?>\s*<td', listing)
    assert shown, "some models match"
    visible = re.findall(r'<tr data-search="([^"]*)" data-group="[^"]*">', listing)
    assert visible and all("drums" in words for words in visible)
    assert "MVSep Drums (drums, other)" in listing and "★ 4.8" in listing
    usage = [
        int(number.replace(",", ""))
        for number in re.findall(r'data-label="Used this month" class="num">([\d,]+)<', listing)
    ]
    assert usage == sorted(usage, reverse=True), "most used first"
    detail = session.get(page.base + "/models/44", params={"add_opt1": "0"}, timeout=30).text
    words = _text(detail)
    assert "1 credit per minute" in words
    assert "Drums dataset" in words and "MVSep Drums SCNet XL (2025)" in words
    assert "drums 18.00" in words or re.search(r"drums \d+\.\d\d", words)
    assert search_name("MVSep Drums (drums, other)") == "MVSep Drums"
    # A model nobody measured says so; nothing is invented.
    other = _text(session.get(page.base + "/models/131", timeout=30).text)
    assert "No measurements" in other


def test_the_folders_last_file_is_priced_with_the_chosen_options(page: PageSetup) -> None:
    write_wav(page.setup.hot / "Long take.wav", 2.0)
    wait_until(lambda: page.running.done(1), 30, message="the stems")
    session = page.session()
    # BS Roformer's 87.5 % overlap (add_opt2 key 8) costs double.
    words = _text(session.get(page.base + "/models/40", params={"add_opt2": "8"}, timeout=30).text)
    assert "2 credits per minute" in words
    assert (
        "The folder's last file, Long take.wav, would have cost 1 credit "
        "(2.0 s at 2 credits a minute, at least 1)" in words
    )


def test_use_for_a_folder_adds_a_preset_and_gives_it_to_the_folder(page: PageSetup) -> None:
    session = page.session()
    answer = post(
        session,
        page,
        "/models/44/use",
        {"name": "drums", "add_opt1": "0", "output_format": "flac24", "use_in": "0"},
    )
    assert answer.ok and "added preset drums" in answer.text
    config = parse_config(page.config_path.read_text())
    assert config.presets["drums"].sep_type == 44
    assert config.presets["drums"].options["add_opt1"] == "0"
    assert config.folders[0].preset == "drums"
    again = post(session, page, "/models/44/use", {"name": "drums", "use_in": ""})
    assert again.status_code == 422 and "presets.drums: exists already" in again.text


def test_premium_only_models_are_marked_for_a_free_account(page: PageSetup) -> None:
    session = page.session()
    wait_until(lambda: page.daemon.context.account.user is not None, 10, message="the account")
    listing = session.get(page.base + "/models", timeout=30).text
    ensemble = listing.split("Ensemble (vocals, instrum)</a>")[1].split("</td>")[0]
    assert "premium only" in ensemble
    detail = _text(session.get(page.base + "/models/26", params={"output_format": "wav32"}).text)
    assert "Premium only: the model 'Ensemble (vocals, instrum)' is for premium accounts" in detail
    assert "output format wav32 may be for premium accounts only" in detail
    assert "Free: files up to 10 min and 100 MB (this account)" in detail


def test_sign_in_with_email_and_password_stores_the_token(setup: Setup) -> None:
    account = setup.server.add_account(
        plan="premium", credits=50, email="producer@example.com", password="hunter22"
    )
    with page_daemon(setup) as page:
        session = page.session()
        wrong = post(
            session,
            page,
            "/account/sign-in",
            {"email": "producer@example.com", "password": "wrong"},
        )
        assert wrong.status_code == 422 and "MVSEP refused" in wrong.text
        assert "hunter22" not in wrong.text and "wrong" not in _text(wrong.text).split("MVSEP")[0]
        answer = post(
            session,
            page,
            "/account/sign-in",
            {"email": "producer@example.com", "password": "hunter22"},
        )
        assert answer.ok and "signed in" in answer.text
        assert setup.paths.token_file.read_text().strip() == account.token
        assert sends_as(page, account.token)
        assert account.token not in answer.text


def test_the_premium_switch_and_the_budget(setup: Setup) -> None:
    setup.token = setup.server.add_account(plan="premium", credits=80).token
    with page_daemon(setup) as page:
        session = page.session()
        wait_until(lambda: page.daemon.context.account.user is not None, 10, message="account")
        words = _text(session.get(page.base + "/account", timeout=10).text)
        assert "premium (spends credits)" in words and "Turn premium usage off" in words
        assert "0 credits (no daily budget)" in words
        off = post(session, page, "/account/premium", {"premium": "off"})
        assert off.ok and "premium usage off" in off.text
        assert page.daemon.context.account.user is not None
        assert not page.daemon.context.account.user.premium_enabled
        assert "Turn premium usage on" in off.text
        budget = post(session, page, "/account/budget", {"budget": "40"})
        assert budget.ok and "40 credits a day" in budget.text
        assert parse_config(page.config_path.read_text()).limits.daily_credit_budget == 40
        wrong = post(session, page, "/account/budget", {"budget": "lots"})
        assert wrong.status_code == 422 and "limits.daily_credit_budget" in wrong.text


def test_a_daemon_without_a_live_configuration_shows_and_does_not_save(page: PageSetup) -> None:
    page.daemon.live_config = None
    session = page.session()
    listed = session.get(page.base + "/", timeout=10).text
    assert str(page.setup.hot) in listed and "Remove" not in listed
    answer = post(session, page, "/folders/new", {"path": "/tmp/x", "preset": "four"})
    assert answer.status_code == 422 and "cannot change its configuration while it runs" in (
        answer.text
    )


def test_requests_of_the_status_api_stay_as_they_were(page: PageSetup) -> None:
    """/v1 is the JSON API with its bearer token, whatever the page does."""
    assert requests.get(page.base + "/v1/status", timeout=10).status_code == 401
    status_api = page.daemon.status_api
    assert status_api is not None
    headers = {"Authorization": f"Bearer {status_api.token.reveal()}"}
    answer = requests.get(page.base + "/v1/status", headers=headers, timeout=10)
    assert answer.ok and answer.json()["service"] == "mvsepd"
    link = requests.post(page.base + "/v1/page/sign-in", headers=headers, timeout=10)
    assert link.ok and link.json()["url"].startswith(page.base + "/sign-in?code=")
    assert link.json()["url"] == page.base + link.json()["path"]
    assert requests.post(page.base + "/v1/page/sign-in", timeout=10).status_code == 401
