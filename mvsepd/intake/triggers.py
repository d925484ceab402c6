"""Files that start a job without being audio: links, prompts and sidecars.

- Links: a Windows ``.url`` (an INI file: ``[InternetShortcut]`` ``URL=``), a macOS
  ``.webloc`` (an XML or binary plist with key ``URL``), a freedesktop ``.desktop``
  (``Type=Link``, ``URL=``), or a ``.txt`` holding one http(s) URL and nothing else.
- Prompts: a ``.txt`` in a folder whose model is text-only (TTS, generation), or beside an audio
  file for a voice-cloning model.
- Sidecars: ``Name.mvsep.yaml`` beside ``Name.wav`` (or alone) with ``url``, ``remote_type``,
  ``prompt``, ``reference`` and ``options`` for that one file.

Every file is read capped at 64 KiB, decoded as UTF-8 (with or without a BOM) or else cp1252,
and sidecars with the configuration file's YAML hardening. A reader returns a typed value or
raises ``InputError`` naming the file, the field and what would be accepted; the original is
never changed.
"""

from __future__ import annotations

import configparser
import ipaddress
import plistlib
import unicodedata
import xml.parsers.expat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from mvsepd.config.file import read_yaml_mapping
from mvsepd.errors import ConfigError, InputError

LINK_SUFFIXES = (".url", ".webloc", ".desktop")
TEXT_SUFFIX = ".txt"
SIDECAR_SUFFIX = ".mvsep.yaml"
#: Name part that marks a matchering reference: ``Song.reference.wav`` goes with ``Song.wav``.
REFERENCE_MARK = ".reference"
MAX_TRIGGER_BYTES = 64 * 1024
REMOTE_TYPES = ("direct", "mega", "drive", "dropbox")
_SIDECAR_KEYS = frozenset({"url", "remote_type", "prompt", "reference", "options"})
_HOST_TYPES = (
    (("mega.nz", "mega.io", "mega.co.nz"), "mega"),
    (("drive.google.com", "docs.google.com"), "drive"),
    (("dropbox.com", "dropboxusercontent.com"), "dropbox"),
)


@dataclass(frozen=True)
class Link:
    """A link to audio, and how MVSEP is to fetch it."""

    url: str
    remote_type: str


@dataclass(frozen=True)
class Sidecar:
    """What ``Name.mvsep.yaml`` says about one file."""

    url: str | None = None
    remote_type: str | None = None
    prompt: str | None = None
    reference: Path | None = None
    options: dict[str, str] = field(default_factory=dict)


def is_link_file(name: str) -> bool:
    """True for ``.url``, ``.webloc`` and ``.desktop`` files."""
    return name.casefold().endswith(LINK_SUFFIXES)


def is_text_file(name: str) -> bool:
    """True for ``.txt`` files."""
    return name.casefold().endswith(TEXT_SUFFIX)


def is_sidecar(name: str) -> bool:
    """True for ``Name.mvsep.yaml``."""
    return name.casefold().endswith(SIDECAR_SUFFIX)


def is_trigger(name: str) -> bool:
    """True for any file read here rather than as audio."""
    return is_link_file(name) or is_text_file(name) or is_sidecar(name)


def track_of(name: str) -> str:
    """The track name a file gives its results: ``Song`` for Song.url or Song.mvsep.yaml."""
    if is_sidecar(name):
        return name[: -len(SIDECAR_SUFFIX)]
    return name.rsplit(".", 1)[0] if "." in name else name


def is_reference_name(name: str) -> bool:
    """True for ``Song.reference.wav`` (a matchering reference, never a target)."""
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return stem.casefold().endswith(REFERENCE_MARK)


def read_text(path: Path) -> str:
    """A small text file's contents: decoded, NFC, line ends as LF, trimmed."""
    raw = _read_capped(path)
    if raw.startswith(b"\xef\xbb\xbf"):
        text = raw[3:].decode("utf-8", errors="replace")
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", errors="replace")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", text).strip()


def text_as_url(text: str) -> str | None:
    """The URL a text is, when it is one http(s) URL on one line and nothing else."""
    if "\n" in text or " " in text:
        return None
    return text if text.casefold().startswith(("http://", "https://")) else None


def read_link(path: Path, *, allow_loopback: bool = False) -> Link:
    """The link a ``.url``, ``.webloc``, ``.desktop`` or one-line ``.txt`` holds."""
    name = path.name
    folded = name.casefold()
    if folded.endswith(".webloc"):
        url = _webloc_url(path)
    elif folded.endswith((".url", ".desktop")):
        url = _ini_url(path)
    else:
        text = read_text(path)
        found = text_as_url(text)
        if found is None:
            raise InputError(
                f"{name}: not a link; a .txt link holds one http(s) URL on one line",
                field="url",
            )
        url = found
    checked = check_url(url, where=name, allow_loopback=allow_loopback)
    return Link(checked, remote_type_for(checked))


def read_sidecar(path: Path) -> Sidecar:
    """What a ``Name.mvsep.yaml`` says (unknown keys refused)."""
    name = path.name
    try:
        data = read_yaml_mapping(read_text(path), name)
    except ConfigError as error:
        raise InputError(f"{name}: {'; '.join(error.problems)}", field="sidecar") from None
    unknown = sorted(set(map(str, data)) - _SIDECAR_KEYS)
    if unknown:
        accepted = ", ".join(sorted(_SIDECAR_KEYS))
        raise InputError(
            f"{name}: unknown key {unknown[0]!r}; accepted: {accepted}", field=unknown[0]
        )
    options = data.get("options") or {}
    if not isinstance(options, dict):
        raise InputError(f"{name}: options must be a mapping (key: value)", field="options")
    remote_type = data.get("remote_type")
    if remote_type is not None and str(remote_type) not in REMOTE_TYPES:
        raise InputError(
            f"{name}: remote_type {remote_type!r}; accepted: {', '.join(REMOTE_TYPES)}",
            field="remote_type",
        )
    prompt = data.get("prompt")
    reference = data.get("reference")
    return Sidecar(
        url=None if data.get("url") is None else str(data["url"]).strip(),
        remote_type=None if remote_type is None else str(remote_type),
        prompt=None if prompt is None else unicodedata.normalize("NFC", str(prompt)).strip(),
        reference=None if reference is None else (path.parent / str(reference)).expanduser(),
        options={str(key): _option_text(value) for key, value in options.items()},
    )


def check_url(url: str, *, where: str, allow_loopback: bool = False) -> str:
    """``url`` if MVSEP may be asked to fetch it: http(s), with a host, not this machine."""
    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme.casefold() not in ("http", "https"):
        shown = parts.scheme or text[:40]
        raise InputError(
            f"{where}: the link {text[:200]!r} is not http(s) ({shown}); accepted: http:// or "
            "https:// links to an audio file, Dropbox, Google Drive or MEGA",
            field="url",
        )
    host = (parts.hostname or "").casefold()
    if not host:
        raise InputError(f"{where}: the link {text[:200]!r} names no host", field="url")
    locality = _locality(host)
    if locality == "private" or (locality == "loopback" and not allow_loopback):
        raise InputError(
            f"{where}: the link points at this machine or its network ({host}); MVSEP fetches "
            "links from the internet, so it cannot reach it",
            field="url",
        )
    return urlunsplit((parts.scheme.casefold(), parts.netloc, parts.path, parts.query, ""))


def normalise_url(url: str) -> str:
    """The form a link is identified by: scheme and host in lower case, no fragment."""
    parts = urlsplit(url.strip())
    return urlunsplit(
        (parts.scheme.casefold(), parts.netloc.casefold(), parts.path, parts.query, "")
    )


def remote_type_for(url: str) -> str:
    """MVSEP's ``remote_type`` for a link's host: mega, drive, dropbox, else direct."""
    host = (urlsplit(url).hostname or "").casefold()
    for hosts, kind in _HOST_TYPES:
        if any(host == candidate or host.endswith("." + candidate) for candidate in hosts):
            return kind
    return "direct"


def _read_capped(path: Path) -> bytes:
    with path.open("rb") as handle:
        raw = handle.read(MAX_TRIGGER_BYTES + 1)
    if len(raw) > MAX_TRIGGER_BYTES:
        raise InputError(
            f"{path.name}: larger than {MAX_TRIGGER_BYTES // 1024} KiB; a link, prompt or "
            "sidecar file is a few lines",
            field="size",
        )
    if not raw.strip():
        raise InputError(f"{path.name}: the file is empty", field="url")
    return raw


def _ini_url(path: Path) -> str:
    name = path.name
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(read_text(path))
    except configparser.Error as error:
        first = str(error).splitlines()[0]
        raise InputError(f"{name}: not a readable shortcut ({first})", field="url") from None
    wanted = "desktop entry" if name.casefold().endswith(".desktop") else "internetshortcut"
    for section in parser.sections():
        if section.strip().casefold() == wanted:
            values = parser[section]
            if wanted == "desktop entry" and values.get("type", "Link").strip() != "Link":
                raise InputError(
                    f"{name}: Type={values.get('type')}; only Type=Link entries are links",
                    field="type",
                )
            url = values.get("url", "").strip()
            if url:
                return url
            raise InputError(f"{name}: [{section}] has no URL= line", field="url")
    header = "[Desktop Entry]" if wanted == "desktop entry" else "[InternetShortcut]"
    raise InputError(f"{name}: no {header} section with URL=", field="url")


def _webloc_url(path: Path) -> str:
    name = path.name
    raw = _read_capped(path)
    try:
        value: Any = plistlib.loads(raw)
    except (plistlib.InvalidFileException, ValueError, xml.parsers.expat.ExpatError):
        raise InputError(
            f"{name}: not a readable .webloc (an XML or binary property list with URL)",
            field="url",
        ) from None
    url = value.get("URL") if isinstance(value, dict) else None
    if not isinstance(url, str) or not url.strip():
        raise InputError(f"{name}: the .webloc has no URL key", field="url")
    return url.strip()


def _locality(host: str) -> str | None:
    """ "loopback" for this machine, "private" for its networks, None for the internet. A
    loopback link is fetched only by an MVSEP on this machine (the emulator, in tests)."""
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return "loopback"
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    if address.is_loopback:
        return "loopback"
    if address.is_private or address.is_link_local or address.is_unspecified:
        return "private"
    return None


def _option_text(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)
