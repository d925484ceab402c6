"""The page's tests: a daemon serving its page on the emulator, in this process, following its
configuration file as ``mvsepd run`` does; a browser-like HTTP session signed in the way
``mvsepd open`` signs one in."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from mvsepd.config.file import parse_config, write_private_file
from mvsepd.models import Secret
from mvsepd.page import DeferredPage, page_for
from mvsepd.process.daemon import Daemon
from mvsepd.process.reload import ConfigReloader
from tests.integration.support import FAST, FAST_DAEMON, RunningDaemon, Setup

#: The test daemons' ``daemon:`` section: quick, and the page on any free port (tests run side
#: by side; the fixed port has tests of its own).
PAGE_DAEMON = FAST_DAEMON + "\n  page_port: 0"


@dataclass
class PageSetup:
    """A running daemon with its page, and where its configuration lives."""

    setup: Setup
    running: RunningDaemon
    live: ConfigReloader
    config_path: Path

    @property
    def daemon(self) -> Daemon:
        return self.running.daemon

    @property
    def base(self) -> str:
        status_api = self.daemon.status_api
        assert status_api is not None
        return status_api.url

    @property
    def port(self) -> int:
        status_api = self.daemon.status_api
        assert status_api is not None
        return status_api.port

    @property
    def page(self) -> DeferredPage:
        status_api = self.daemon.status_api
        assert status_api is not None and isinstance(status_api.page, DeferredPage)
        return status_api.page

    def sign_in_url(self) -> str:
        """What ``mvsepd open`` opens: a one-time address."""
        return self.base + self.page.sign_in_path()

    def session(self) -> requests.Session:
        """An HTTP session signed in through a one-time address, as a browser would be."""
        session = requests.Session()
        answer = session.get(self.sign_in_url(), timeout=10)
        assert answer.status_code == 200 and answer.url == self.base + "/", answer.text
        return session


def csrf_of(html: str) -> str:
    found = re.search(r'<meta name="csrf" content="([0-9a-f]+)">', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def post(
    session: requests.Session, page: PageSetup, path: str, data: dict[str, object]
) -> requests.Response:
    """A form post as the page's own form makes it: its CSRF token, its Origin."""
    token = csrf_of(session.get(page.base + "/", timeout=10).text)
    return session.post(
        page.base + path,
        data={"csrf": token, **data},
        headers={"Origin": page.base},
        timeout=30,
    )


@contextmanager
def page_daemon(setup: Setup, config_text: str | None = None) -> Iterator[PageSetup]:
    """A daemon serving its page and following the test's config file (the token where
    ``mvsepd login`` leaves it, so that every text the page saves is checked with it)."""
    text = config_text or setup.config_text(daemon=PAGE_DAEMON)
    path = setup.write_config(text)
    write_private_file(setup.paths.token_file, setup.token + "\n")
    daemon = Daemon(
        parse_config(text, str(path)),
        Secret(setup.token),
        setup.paths,
        settings=FAST,
        config_file=(path, text),
        page=page_for,
    )
    live = daemon.live_config
    assert live is not None
    daemon.start()
    running = RunningDaemon(daemon)
    running.thread.start()
    try:
        yield PageSetup(setup, running, live, path)
    finally:
        daemon.stop_event.set()
        running.thread.join(timeout=10)
        daemon.stop()


def sends_as(page: PageSetup, token: str, timeout: float = 10.0) -> bool:
    """True once the daemon speaks to MVSEP as the account of ``token`` (it asks who it is
    after a sign-in): the emulator's account of that token is the one the daemon knows."""
    account = next(each for each in page.setup.server.state.accounts() if each.token == token)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        user = page.daemon.context.account.user
        if user is not None and user.name == account.name:
            return True
        time.sleep(0.05)
    return False


def measure(setup: Setup, name: str, dataset: str, seed: int) -> None:
    """Submit a Quality Checker entry named ``name`` to the emulator, the way anyone adds one
    (``/quality_checker/add``, a zip of stems): the leaderboard lists it once processed."""
    import io
    import zipfile

    from mvsepd.api import MvsepClient

    archive = setup.tmp / f"entry-{seed}.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr("drums.wav", bytes([seed]) * 64)
    archive.write_bytes(buffer.getvalue())
    with MvsepClient(setup.token, setup.server.url) as client:
        client.quality_add(
            archive, algo_name=name, main_text="test entry", password="pw", dataset_type=dataset
        )
