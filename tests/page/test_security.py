"""The page's security on loopback: no data without signing in, a foreign Host refused, every
change needs its CSRF token and the page's own Origin, the MVSEP token never reaches the
browser, and the folder picker lists readable folders only.

Real parts: a daemon serving its page over HTTP on 127.0.0.1, the emulator as MVSEP, and for
the picker ``mvsepd run`` in its own process without root's power over file permissions.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mvsepd.client.control import ControlClient
from mvsepd.emulator import EmulatorServer
from mvsepd.errors import InputError
from tests.integration.support import Setup, start_daemon_process, stop_process, wait_until
from tests.page.support import PAGE_DAEMON, PageSetup, csrf_of, page_daemon, sends_as

#: A test token the page must never show.
CANARY = "CanaryToken0123456789abcdefXYZ"
#: Root reads anything; without these capabilities file permissions apply to it too.
WITHOUT_OVERRIDE = (
    "setpriv",
    "--inh-caps=-dac_override,-dac_read_search",
    "--bounding-set=-dac_override,-dac_read_search",
)
#: Every page the browser may ask for (GET), besides a model's.
PAGES = (
    "/",
    "/folders/new",
    "/folders/0",
    "/folders/0/remove",
    "/models",
    "/models?q=drums",
    "/account",
    "/live?view=folders",
    "/live?view=account",
    "/static/page.js",
    "/static/page.css",
    "/static/icon.svg",
)


@pytest.fixture
def canary_page(setup: Setup) -> Iterator[PageSetup]:
    """A daemon whose MVSEP token is the canary (a premium account with credits)."""
    setup.server.add_account(token=CANARY, plan="premium", credits=500)
    setup.token = CANARY
    with page_daemon(setup) as page:
        yield page


def test_without_signing_in_there_is_no_data(page: PageSetup) -> None:
    anonymous = requests.Session()
    for path in ("/", "/models", "/models/44", "/account", "/folders/0", "/nothing-here"):
        answer = anonymous.get(page.base + path, timeout=10)
        assert answer.status_code == 401, path
        assert "mvsepd open" in answer.text
        assert str(page.setup.hot) not in answer.text and "Drums" not in answer.text, path
    for path in ("/live?view=folders", "/browse?path=/"):
        answer = anonymous.get(page.base + path, timeout=10)
        assert answer.status_code == 401 and "{" not in answer.text, path
    answer = anonymous.post(page.base + "/pause", headers={"Origin": page.base}, timeout=10)
    assert answer.status_code == 401
    assert not page.daemon.engine.paused
    # A made-up sign-in code, or one used already, signs nobody in.
    assert anonymous.get(page.base + "/sign-in?code=guess", timeout=10).status_code == 401
    url = page.sign_in_url()
    assert requests.get(url, timeout=10).status_code == 200
    second = anonymous.get(url, timeout=10)
    assert second.status_code == 401 and "used or has expired" in second.text
    assert not anonymous.cookies


def test_the_one_time_address_sets_a_strict_cookie_and_leaves_a_clean_address(
    page: PageSetup,
) -> None:
    session = requests.Session()
    answer = session.get(page.sign_in_url(), allow_redirects=False, timeout=10)
    assert answer.status_code == 303 and answer.headers["Location"] == "/"
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith(f"mvsepd-{page.port}=")
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="):
        assert attribute in cookie, cookie
    assert session.get(page.base + "/", timeout=10).status_code == 200


def test_a_sign_in_address_can_lead_to_one_of_the_pages_own_views(page: PageSetup) -> None:
    session = requests.Session()
    landing = page.base + page.page.sign_in_path("/models?stem=drums")
    answer = session.get(landing, allow_redirects=False, timeout=10)
    assert answer.status_code == 303 and answer.headers["Location"] == "/models?stem=drums"
    # Asked through the status API, as the tray and `mvsepd open` ask.
    url = ControlClient.discover(page.setup.paths).page_sign_in("/account")
    answer = requests.get(url, allow_redirects=False, timeout=10)
    assert answer.headers["Location"] == "/account"
    # A landing that is not a view of the page (made up, or elsewhere) leads to the start.
    for made_up in ("/nothing-here", "/live"):
        code = page.page.keys.new_code()
        answer = requests.get(
            f"{page.base}/sign-in?code={code}&next={made_up}", allow_redirects=False, timeout=10
        )
        assert answer.headers["Location"] == "/", made_up
    with pytest.raises(InputError, match="not an address of mvsepd's page"):
        ControlClient.discover(page.setup.paths).page_sign_in("//evil.example/")


def test_a_foreign_host_is_refused_even_signed_in(page: PageSetup) -> None:
    session = page.session()
    for host in (
        f"evil.example:{page.port}",
        "127.0.0.1:1",
        f"localhost.evil.example:{page.port}",
    ):
        answer = session.get(page.base + "/", headers={"Host": host}, timeout=10)
        assert answer.status_code == 403, host
        assert "answers only at" in answer.text
    # localhost is this machine too: a browser signs in there on its own (cookies are per name).
    local = requests.Session()
    code = page.page.sign_in_path()
    assert local.get(f"http://localhost:{page.port}{code}", timeout=10).ok
    assert local.get(f"http://localhost:{page.port}/models", timeout=10).ok


def test_changes_need_the_csrf_token_and_the_pages_own_origin(page: PageSetup) -> None:
    session = page.session()
    token = csrf_of(session.get(page.base + "/", timeout=10).text)
    refused = [
        ({"csrf": token}, {"Origin": "http://evil.example"}),
        ({"csrf": token}, {"Origin": "null"}),
        ({"csrf": token}, {"Referer": "http://evil.example/page"}),
        ({"csrf": token}, {}),
        ({}, {"Origin": page.base}),
        ({"csrf": "0" * len(token)}, {"Origin": page.base}),
    ]
    for data, headers in refused:
        answer = session.post(page.base + "/pause", data=data, headers=headers, timeout=10)
        assert answer.status_code == 403, (data, headers)
        assert not page.daemon.engine.paused
    answer = session.post(
        page.base + "/pause", data={"csrf": token}, headers={"Origin": page.base}, timeout=10
    )
    assert answer.ok and page.daemon.engine.paused
    answer = session.post(
        page.base + "/resume",
        headers={"X-Mvsepd-CSRF": token, "Referer": page.base + "/"},
        timeout=10,
    )
    assert answer.ok and not page.daemon.engine.paused


def test_no_cors_and_a_policy_that_forbids_other_origins(page: PageSetup) -> None:
    session = page.session()
    answer = session.options(
        page.base + "/pause",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
        timeout=10,
    )
    assert answer.status_code == 405
    for path in ("/", "/static/page.js", "/live?view=folders", "/sign-in?code=x"):
        answer = session.get(page.base + path, headers={"Origin": "http://evil.example"})
        assert not [name for name in answer.headers if name.lower().startswith("access-control")]
        policy = answer.headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "script-src 'self'" in policy, path
        assert "unsafe-inline" not in policy and "http" not in policy
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["Cache-Control"] == "no-store"
    # Nothing on any page points at another origin: every script, style and icon is the page's.
    for path in ("/", "/models", "/account", "/folders/new", "/models/44"):
        text = session.get(page.base + path, timeout=30).text
        for attribute in ("src=", "href="):
            for value in text.split(attribute)[1:]:
                target = value[1 : value.index(value[0], 1)]
                assert not target.startswith("//"), target
                assert not target.startswith("http") or target.startswith("https://mvsep.com/"), (
                    path,
                    target,
                )


def test_the_mvsep_token_never_reaches_the_browser(canary_page: PageSetup) -> None:
    page = canary_page
    session = page.session()
    seen: list[str] = []

    def keep(answer: requests.Response) -> requests.Response:
        seen.append(answer.text)
        seen.append(json.dumps(dict(answer.headers)))
        return answer

    for path in PAGES:
        keep(session.get(page.base + path, timeout=30))
    keep(session.get(page.base + "/models/44?output_format=flac24", timeout=30))
    keep(session.get(page.base + "/browse?path=" + str(page.setup.tmp), timeout=30))
    token = csrf_of(seen[0])
    # The token's own form: pasted and refused, pasted and taken; neither answer repeats it.
    for value in (CANARY + "x", CANARY):
        keep(
            session.post(
                page.base + "/account/token",
                data={"csrf": token, "token": value},
                headers={"Origin": page.base},
                timeout=30,
            )
        )
    assert page.setup.paths.token_file.read_text().strip() == CANARY
    assert sends_as(page, CANARY)
    keep(session.get(page.base + "/account", timeout=30))
    keep(session.get(page.base + "/v1/status", timeout=10))
    assert len(seen) > 2 * len(PAGES)
    for text in seen:
        assert CANARY not in text
    # Nor the status API's own token, which the browser never needs.
    status_api = page.daemon.status_api
    assert status_api is not None
    assert all(status_api.token.reveal() not in text for text in seen)


def test_the_picker_lists_folders_the_user_can_read_and_refuses_the_rest(
    setup: Setup, tmp_path: Path
) -> None:
    """``mvsepd run`` in its own process, signed in with ``mvsepd open --print-url``."""
    place = tmp_path / "Music"
    (place / "Open").mkdir(parents=True)
    (place / "Locked").mkdir()
    (place / ".hidden").mkdir()
    (place / "take.wav").write_bytes(b"RIFF")
    (place / "Locked").chmod(0o000)
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:
        assert shutil.which("setpriv"), "util-linux's setpriv is needed to test as root"
        prefix = WITHOUT_OVERRIDE
    config = setup.write_config(setup.config_text(daemon=PAGE_DAEMON))
    process = start_daemon_process(setup, config, prefix=prefix)
    try:
        wait_until(setup.paths.runtime_file.exists, 30, message="the daemon's runtime file")
        opened = subprocess.run(
            [sys.executable, "-m", "mvsepd", "open", "--print-url"],
            capture_output=True,
            text=True,
            env=setup.environment(),
            timeout=30,
            check=True,
        )
        url = opened.stdout.strip()
        session = requests.Session()
        assert session.get(url, timeout=10).ok
        base = url.split("/sign-in")[0]

        def browse(path: Path) -> requests.Response:
            return session.get(base + "/browse", params={"path": str(path)}, timeout=10)

        listing = browse(place)
        assert listing.status_code == 200
        found = {item["name"]: item["readable"] for item in listing.json()["folders"]}
        assert found == {"Locked": False, "Open": True}, "folders only; hidden ones left out"
        hidden = session.get(base + "/browse", params={"path": str(place), "hidden": "1"})
        assert ".hidden" in {item["name"] for item in hidden.json()["folders"]}
        locked = browse(place / "Locked")
        assert locked.status_code == 403
        assert locked.json()["problem"] == f"you cannot open {place / 'Locked'} (no permission)"
        assert locked.json()["folders"] == []
        afile = browse(place / "take.wav")
        assert afile.status_code == 400 and "is a file; choose a folder" in afile.json()["problem"]
        assert "RIFF" not in afile.text
        assert browse(place / "missing").status_code == 404
        relative = session.get(base + "/browse", params={"path": "Music"}, timeout=10)
        assert relative.status_code == 400
        # The page serves no file by path, whatever the path looks like.
        for path in ("/static/../../config.yaml", f"/static/{place / 'take.wav'}", "/etc/passwd"):
            answer = session.get(base + path, timeout=10)
            assert answer.status_code == 404 and "RIFF" not in answer.text, path
    finally:
        (place / "Locked").chmod(0o755)
        assert stop_process(process) == 0


def test_a_second_daemon_finds_the_page_port_taken_and_says_where_it_went(
    setup: Setup, tmp_path: Path
) -> None:
    """The fixed port keeps a bookmark working; another user's mvsepd on it means a free port
    this time, said in the log, and ``mvsepd open`` still finds it."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    daemon_section = PAGE_DAEMON.replace("page_port: 0", f"page_port: {port}")
    first_config = setup.config_text(daemon=daemon_section)
    with page_daemon(setup, first_config) as first:
        assert first.port == port
        with EmulatorServer() as server:
            other = Setup(
                tmp=tmp_path / "other-user",
                server=server,
                token=server.add_account().token,
                hot=setup.hot,
            )
            other.tmp.mkdir()
            config = other.write_config(
                other.config_text(daemon=daemon_section).replace(str(setup.hot), str(tmp_path))
            )
            process = start_daemon_process(other, config)
            try:
                wait_until(other.paths.runtime_file.exists, 30, message="the second daemon")
                info = json.loads(other.paths.runtime_file.read_text())
                assert info["port"] != port and info["page"] is True
                log = (other.tmp / "daemon.log").read_text()
                assert '"page_port_taken"' in log and f"port {port}" in log
            finally:
                assert stop_process(process) == 0
