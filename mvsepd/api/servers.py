"""Which MVSEP host to talk to: regional names, base URLs, and the hosts a download may use.

``mvsep.com`` is geo-steered to the regional servers, which share one account database and one
hash space; a job lives (and its files are served) on the region where it was created. The API
root is always ``<base>/api``.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from mvsepd.errors import InputError

#: Short names accepted by ``resolve_server`` and the base URL each stands for.
REGIONAL_SERVERS: dict[str, str] = {
    "mvsep.com": "https://mvsep.com",
    "main": "https://mvsep.com",
    "de": "https://de.mvsep.com",
    "de2": "https://de2.mvsep.com",
    "hk": "https://hk.mvsep.com",
    "sg": "https://sg.mvsep.com",
}

#: MVSEP's own hosts. A job created through the geo-steered ``mvsep.com`` (or read with
#: ``mirror=1``) may have its files on any of them, so they form one download family.
OFFICIAL_HOSTS = frozenset(
    {
        "mvsep.com",
        "de.mvsep.com",
        "de2.mvsep.com",
        "hk.mvsep.com",
        "sg.mvsep.com",
        "mirror.mvsep.com",
    }
)

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _accepted() -> str:
    names = ", ".join(sorted({*REGIONAL_SERVERS} - {"main"}))
    return f"accepted: {names}, or an http(s):// base URL"


def resolve_server(name_or_url: str) -> str:
    """Given a regional name (``de``), an MVSEP host name or an http(s) URL, return a base URL.

    The base URL has no trailing slash and no ``/api`` suffix (``https://de.mvsep.com``).
    Raise InputError naming the accepted values if the name is unknown, the scheme is not
    http or https, or the URL carries credentials, a query or a fragment.
    """
    if not isinstance(name_or_url, str) or not name_or_url.strip():
        raise InputError(f"server is empty; {_accepted()}", field="server")
    text = name_or_url.strip()
    lowered = text.lower()
    if lowered in REGIONAL_SERVERS:
        return REGIONAL_SERVERS[lowered]
    if lowered in OFFICIAL_HOSTS:
        return f"https://{lowered}"
    if "://" not in text:
        raise InputError(f"unknown server {text!r}; {_accepted()}", field="server")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise InputError(
            f"server {text!r} is not a valid URL; {_accepted()}", field="server"
        ) from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise InputError(
            f"server {text!r} uses {scheme or 'no'} scheme; only http and https are allowed",
            field="server",
        )
    if not parts.hostname:
        raise InputError(f"server {text!r} has no host; {_accepted()}", field="server")
    if parts.username is not None or parts.password is not None:
        raise InputError("server URL must not contain user:password@", field="server")
    if parts.query or parts.fragment:
        raise InputError(f"server {text!r} must not have a query or fragment", field="server")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    path = parts.path.rstrip("/")
    if path.lower().endswith("/api"):
        path = path[: -len("/api")]
    return f"{scheme}://{netloc}{path}"


def api_root(server: str) -> str:
    """Return ``<base>/api`` for a base URL returned by ``resolve_server``."""
    return f"{server}/api"


def origin_of(url: str) -> tuple[str, str, int] | None:
    """Return ``(scheme, host, port)`` of an http(s) URL, or None for anything else.

    URLs with user:password@ are refused too (None): MVSEP never hands those out.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    if parts.username is not None or parts.password is not None:
        return None
    return (scheme, parts.hostname.lower(), port if port is not None else _DEFAULT_PORTS[scheme])


def host_of(url: str) -> str:
    """Return the host (and a port other than the scheme's) of ``url``, for error messages.

    Never the path, the query (which may hold the API token) or user:password@.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "the server"
    if not host:
        return "the server"
    if ":" in host:
        host = f"[{host}]"
    default = _DEFAULT_PORTS.get(parts.scheme.lower())
    return host if port is None or port == default else f"{host}:{port}"


def download_origins(servers: Iterable[str]) -> frozenset[tuple[str, str, int]]:
    """Return the origins a result file may be fetched from, given the job's base URLs.

    Each server contributes its own origin. If any of them is an official MVSEP host, every
    official host is allowed over https (a geo-steered or mirrored job is served by its region).
    """
    origins: set[tuple[str, str, int]] = set()
    for server in servers:
        origin = origin_of(server)
        if origin is None:
            continue
        origins.add(origin)
        if origin[1] in OFFICIAL_HOSTS:
            origins.update(("https", host, 443) for host in OFFICIAL_HOSTS)
    return frozenset(origins)
