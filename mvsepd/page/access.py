"""Who may use the page: one-time sign-in codes, the session cookie, CSRF tokens, and the
checks of Host, Origin and the peer's address.

The page's secret is per install: 32 random bytes in a 0600 file in the state folder, made on
first use. A one-time code (``mvsepd open``, the tray) is random, kept in memory for two
minutes and good once; redeeming it gives a session: ``<issued>.<nonce>.<mac>``, signed with
the secret, so it outlives a restart of the daemon (a bookmark stays signed in) and ends after
30 days or when the secret file is removed. The CSRF token is derived from the session, so
nothing is stored per browser. Pure apart from the secret file; the clock is injected.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from mvsepd.paths import ensure_private_directory

SECRET_FILE_NAME = "page-secret"  # noqa: S105 (a file name, not a credential)
#: How long a one-time sign-in address works after it was made.
SIGN_IN_SECONDS = 120.0
#: How long a browser stays signed in.
SESSION_SECONDS = 30 * 86400.0
#: A session issued this far "in the future" is refused (a clock set back more than that).
_CLOCK_SKEW_SECONDS = 300.0
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def cookie_name(port: int) -> str:
    """The session cookie's name: browsers send a cookie to every port of a host, so each
    daemon (another user's, on another port) has its own."""
    return f"mvsepd-{port}"


class PageKeys:
    """The page's secret, its one-time codes and the sessions and tokens derived from it."""

    def __init__(self, secret: bytes, *, clock: Callable[[], float] = time.time) -> None:
        self._secret = secret
        self._clock = clock
        self._lock = threading.Lock()
        #: SHA-256 of each unused code -> when it expires.
        self._codes: dict[bytes, float] = {}

    @classmethod
    def load(cls, state_dir: Path, *, clock: Callable[[], float] = time.time) -> PageKeys:
        """The keys of this install: the secret file in ``state_dir``, made if missing."""
        return cls(_secret(state_dir / SECRET_FILE_NAME), clock=clock)

    def __repr__(self) -> str:
        return "PageKeys(<secret>)"

    # --- one-time sign-in -------------------------------------------------------------------

    def new_code(self) -> str:
        """A fresh one-time sign-in code, good for ``SIGN_IN_SECONDS``."""
        code = secrets.token_urlsafe(24)
        now = self._clock()
        with self._lock:
            self._codes = {key: until for key, until in self._codes.items() if until > now}
            self._codes[_digest(code)] = now + SIGN_IN_SECONDS
        return code

    def redeem(self, code: str) -> bool:
        """True, once, for a code that was made and has not expired."""
        with self._lock:
            until = self._codes.pop(_digest(code), None)
        return until is not None and until > self._clock()

    # --- sessions and CSRF --------------------------------------------------------------------

    def new_session(self) -> str:
        """A signed session value for the cookie."""
        issued = str(int(self._clock()))
        nonce = secrets.token_urlsafe(12)
        return f"{issued}.{nonce}.{self._mac('session', issued, nonce)}"

    def session_valid(self, value: str | None) -> bool:
        """True for a session this install signed that has not ended."""
        if not value or value.count(".") != 2:
            return False
        issued, nonce, mac = value.split(".")
        if not issued.isdigit() or not hmac.compare_digest(
            mac.encode("ascii", "replace"), self._mac("session", issued, nonce).encode("ascii")
        ):
            return False
        age = self._clock() - int(issued)
        return -_CLOCK_SKEW_SECONDS <= age <= SESSION_SECONDS

    def csrf_token(self, session: str) -> str:
        """The CSRF token of a session (what its forms and requests must send back)."""
        return self._mac("csrf", session)

    def csrf_valid(self, session: str, token: str | None) -> bool:
        """True when ``token`` is the session's CSRF token."""
        if not token:
            return False
        expected = self.csrf_token(session).encode("ascii")
        return hmac.compare_digest(token.encode("ascii", "replace"), expected)

    def _mac(self, purpose: str, *parts: str) -> str:
        message = "|".join((purpose, *parts)).encode("utf-8")
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:40]


def _digest(code: str) -> bytes:
    return hashlib.sha256(code.encode("utf-8", "replace")).digest()


def _secret(path: Path) -> bytes:
    """Read the secret file, or make it (0600, never readable by others even briefly)."""
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (FileNotFoundError, ValueError):
        pass
    ensure_private_directory(path.parent)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(secrets.token_hex(32) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    return bytes.fromhex(path.read_text(encoding="ascii").strip())


# --- requests ---------------------------------------------------------------------------------


def host_allowed(host: str | None, port: int) -> bool:
    """True when the Host header names this machine's loopback, with the page's port: a page
    reached by another name (DNS rebinding: evil.example resolving to 127.0.0.1) is refused."""
    if not host:
        return False
    return host.lower() in {f"{name}:{port}" for name in _LOOPBACK_NAMES}


def peer_is_local(address: str | None) -> bool:
    """True for a connection from this machine's loopback."""
    try:
        return ipaddress.ip_address((address or "").split("%")[0]).is_loopback
    except ValueError:
        return False


def own_path(value: str | None) -> str | None:
    """``value`` when it is an address of this page given relatively (``/takes/12``, with a
    query at most): one leading slash, no scheme, host, backslash, fragment or control
    character, so a redirect to it cannot leave the page; else None."""
    if not value or len(value) > 500 or not value.startswith("/") or value.startswith("//"):
        return None
    if "\\" in value or "#" in value or any(ord(character) < 0x21 for character in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return None
    return value


def same_origin(origin: str | None, referer: str | None, host: str) -> bool:
    """True when a request that changes something comes from the page itself: its Origin (or,
    without one, its Referer) is ``http://<host>`` (the Host already checked)."""
    own = f"http://{host.lower()}"
    if origin is not None:
        return origin.lower() == own
    if not referer:
        return False
    parts = urlsplit(referer)
    return f"{parts.scheme}://{parts.netloc}".lower() == own
