"""Who may use the page: one-time codes, sessions that outlive a restart, CSRF tokens, Host and
Origin (pure rules; the clock is injected)."""

from __future__ import annotations

import stat
from pathlib import Path

from mvsepd.page import access
from mvsepd.page.access import PageKeys


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_sign_in_code_works_once_and_only_for_two_minutes(tmp_path: Path) -> None:
    clock = Clock()
    keys = PageKeys.load(tmp_path, clock=clock)
    code = keys.new_code()
    assert keys.redeem(code)
    assert not keys.redeem(code), "a code is good once"
    late = keys.new_code()
    clock.now += access.SIGN_IN_SECONDS + 1
    assert not keys.redeem(late)
    assert not keys.redeem("made-up")
    assert not keys.redeem("")


def test_a_session_outlives_a_restart_and_ends_after_thirty_days(tmp_path: Path) -> None:
    clock = Clock()
    session = PageKeys.load(tmp_path, clock=clock).new_session()
    # A new daemon (new keys object) reads the same secret file: the browser stays signed in.
    again = PageKeys.load(tmp_path, clock=clock)
    assert again.session_valid(session)
    secret = tmp_path / access.SECRET_FILE_NAME
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    clock.now += access.SESSION_SECONDS + 1
    assert not again.session_valid(session)
    # Removing the secret signs every browser out.
    clock.now -= access.SESSION_SECONDS
    secret.unlink()
    assert not PageKeys.load(tmp_path, clock=clock).session_valid(session)


def test_forged_sessions_and_tokens_are_refused(tmp_path: Path) -> None:
    keys = PageKeys.load(tmp_path)
    other = PageKeys(b"another install's secret")
    session = keys.new_session()
    issued, nonce, mac = session.split(".")
    forgeries: tuple[str | None, ...] = (
        other.new_session(),
        f"{int(issued) + 1}.{nonce}.{mac}",
        f"{issued}.{nonce}x.{mac}",
        f"{issued}.{nonce}.{'0' * len(mac)}",
        "garbage",
        "",
        None,
    )
    for forged in forgeries:
        assert not keys.session_valid(forged), forged
    token = keys.csrf_token(session)
    assert keys.csrf_valid(session, token)
    assert not keys.csrf_valid(keys.new_session(), token), "a token belongs to its session"
    assert not keys.csrf_valid(session, None)
    assert not keys.csrf_valid(session, token[:-1] + "x")
    assert "secret" not in repr(keys).replace("<secret>", "")


def test_host_names_loopback_with_the_pages_port_only() -> None:
    for host in ("127.0.0.1:6877", "localhost:6877", "LOCALHOST:6877", "[::1]:6877"):
        assert access.host_allowed(host, 6877), host
    refused: tuple[str | None, ...] = (
        "evil.example:6877",
        "127.0.0.1",
        "127.0.0.1:80",
        "localhost.evil.example:6877",
        "192.168.1.5:6877",
        "",
        None,
    )
    for refused_host in refused:
        assert not access.host_allowed(refused_host, 6877), refused_host


def test_a_change_must_come_from_the_page_itself() -> None:
    host = "127.0.0.1:6877"
    assert access.same_origin("http://127.0.0.1:6877", None, host)
    assert access.same_origin(None, "http://127.0.0.1:6877/folders/new", host)
    assert not access.same_origin("http://evil.example", None, host)
    assert not access.same_origin("null", None, host)
    assert not access.same_origin("http://127.0.0.1:6878", None, host)
    assert not access.same_origin(None, "http://evil.example/?http://127.0.0.1:6877/", host)
    assert not access.same_origin(None, None, host), "neither Origin nor Referer: refused"


def test_only_loopback_peers() -> None:
    assert access.peer_is_local("127.0.0.1") and access.peer_is_local("::1")
    assert not access.peer_is_local("192.168.1.5")
    assert not access.peer_is_local(None)


def test_a_landing_path_is_only_a_relative_address_of_the_page() -> None:
    assert access.own_path("/models") == "/models"
    assert access.own_path("/models?stem=drums") == "/models?stem=drums"
    for elsewhere in (
        None,
        "",
        "models",
        "//evil.example/",
        "/\\evil.example",
        "http://evil.example/",
        "/models#x",
        "/models\r\nSet-Cookie: x",
        "/" + "a" * 600,
    ):
        assert access.own_path(elsewhere) is None, elsewhere
