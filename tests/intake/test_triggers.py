"""Reading link, prompt and sidecar files the way the programs that write them write them."""

from __future__ import annotations

import plistlib
import re
from pathlib import Path

import pytest

from mvsepd.errors import InputError
from mvsepd.intake import triggers


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("name", "data", "url"),
    [
        # Explorer: ANSI with CRLF, a property section before it, a percent in the URL.
        (
            "explorer.url",
            b"[{000214A0-0000-0000-C000-000000000046}]\r\nProp3=19,11\r\n[InternetShortcut]\r\n"
            b"IDList=\r\nURL=https://www.dropbox.com/s/abc/Mix%20v2.wav?dl=1\r\nHotKey=0\r\n",
            "https://www.dropbox.com/s/abc/Mix%20v2.wav?dl=1",
        ),
        # yt-dlp and browsers: UTF-8 with a BOM, a duplicate section.
        (
            "bom.url",
            "\ufeff[InternetShortcut]\r\nURL=https://example.com/Café.wav\r\n"
            "[InternetShortcut]\r\nIconIndex=0\r\n".encode(),
            "https://example.com/Café.wav",
        ),
        # An old Windows file in cp1252 (not UTF-8).
        (
            "ansi.url",
            "[InternetShortcut]\r\nURL=https://example.com/Ré.wav\r\n".encode("cp1252"),
            "https://example.com/Ré.wav",
        ),
        (
            "link.desktop",
            b"[Desktop Entry]\nEncoding=UTF-8\nName=Take\nType=Link\nURL=https://example.com/t\n",
            "https://example.com/t",
        ),
        ("line.txt", b"  https://drive.google.com/file/d/123/view \r\n", None),
    ],
)
def test_links_are_read_from_every_shortcut_format(
    tmp_path: Path, name: str, data: bytes, url: str | None
) -> None:
    link = triggers.read_link(_write(tmp_path, name, data))
    if url is not None:
        assert link.url == url
    else:
        assert link.url == "https://drive.google.com/file/d/123/view"
        assert link.remote_type == "drive"


@pytest.mark.parametrize("form", [plistlib.FMT_XML, plistlib.FMT_BINARY])
def test_webloc_files_are_read_in_xml_and_binary_form(
    tmp_path: Path, form: plistlib.PlistFormat
) -> None:
    path = _write(
        tmp_path, "Safari.webloc", plistlib.dumps({"URL": "https://mega.nz/file/x"}, fmt=form)
    )
    link = triggers.read_link(path)
    assert (link.url, link.remote_type) == ("https://mega.nz/file/x", "mega")


def test_a_webloc_with_an_entity_declaration_is_refused(tmp_path: Path) -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE plist [<!ENTITY a "aaaaaaaaaa">]>'
        b"<plist><dict><key>URL</key><string>&a;</string></dict></plist>"
    )
    with pytest.raises(InputError, match=re.escape("not a readable .webloc")):
        triggers.read_link(_write(tmp_path, "bomb.webloc", bomb))


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://example.com/a.wav", "is not http(s) (ftp)"),
        ("file:///etc/passwd", "is not http(s) (file)"),
        ("http://127.0.0.1:9/a.wav", "points at this machine or its network (127.0.0.1)"),
        ("http://[::1]/a.wav", "points at this machine or its network (::1)"),
        ("http://10.1.2.3/a.wav", "points at this machine or its network (10.1.2.3)"),
        ("http:///a.wav", "names no host"),
    ],
)
def test_links_mvsep_cannot_or_must_not_fetch_are_refused(url: str, words: str) -> None:
    with pytest.raises(InputError, match=words.replace("(", r"\(").replace(")", r"\)")):
        triggers.check_url(url, where="Song.url")


def test_a_loopback_link_is_fetched_only_by_an_mvsep_on_this_machine() -> None:
    url = "http://127.0.0.1:8080/take.wav"
    assert triggers.check_url(url, where="x", allow_loopback=True) == url
    with pytest.raises(InputError):
        triggers.check_url("http://192.168.0.5/take.wav", where="x", allow_loopback=True)


def test_remote_types_follow_the_host() -> None:
    assert triggers.remote_type_for("https://www.dropbox.com/s/x") == "dropbox"
    assert triggers.remote_type_for("https://dl.dropboxusercontent.com/x") == "dropbox"
    assert triggers.remote_type_for("https://docs.google.com/uc?id=1") == "drive"
    assert triggers.remote_type_for("https://mega.io/file/1") == "mega"
    assert triggers.remote_type_for("https://example.com/a.wav") == "direct"


def test_a_text_is_a_link_only_when_it_is_one_url_on_one_line() -> None:
    assert triggers.text_as_url("https://example.com/a.wav") == "https://example.com/a.wav"
    assert triggers.text_as_url("Notes for the mix:\nhttps://example.com/a.wav") is None
    assert triggers.text_as_url("https://example.com/a.wav and more") is None


def test_prompts_are_normalised(tmp_path: Path) -> None:
    path = _write(tmp_path, "Line.txt", "\ufeff  Cafe\u0301 at noon\r\nsecond line \r\n".encode())
    assert triggers.read_text(path) == "Café at noon\nsecond line"


def test_sidecars_are_read_hardened_and_strict(tmp_path: Path) -> None:
    good = _write(
        tmp_path,
        "Song.mvsep.yaml",
        b"url: https://example.com/s.wav\nremote_type: direct\nprompt: Hi\n"
        b"reference: refs/ref.wav\noptions: {add_opt3: english, add_opt1: 2}\n",
    )
    sidecar = triggers.read_sidecar(good)
    assert sidecar.url == "https://example.com/s.wav"
    assert sidecar.reference == tmp_path / "refs" / "ref.wav"
    assert sidecar.options == {"add_opt3": "english", "add_opt1": "2"}
    bomb = _write(
        tmp_path,
        "Bomb.mvsep.yaml",
        b'a: &a ["x","x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n'
        b"c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
        b"e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nprompt: [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n",
    )
    expands = re.escape("Bomb.mvsep.yaml: the file expands to more than")
    with pytest.raises(InputError, match=expands):
        triggers.read_sidecar(bomb)
    with pytest.raises(InputError, match="unknown key 'speaker'; accepted"):
        triggers.read_sidecar(_write(tmp_path, "Odd.mvsep.yaml", b"speaker: Bob\n"))
    with pytest.raises(InputError, match="remote_type 'ftp'; accepted: direct, mega"):
        triggers.read_sidecar(_write(tmp_path, "Ftp.mvsep.yaml", b"remote_type: ftp\n"))


def test_trigger_files_are_capped(tmp_path: Path) -> None:
    big = _write(tmp_path, "Big.txt", b"x" * (triggers.MAX_TRIGGER_BYTES + 1))
    with pytest.raises(InputError, match="larger than 64 KiB"):
        triggers.read_text(big)


def test_names_tell_tracks_and_references() -> None:
    assert triggers.track_of("Song.mvsep.yaml") == "Song"
    assert triggers.track_of("Song.url") == "Song"
    assert triggers.is_reference_name("Song.reference.wav")
    assert not triggers.is_reference_name("Song.wav")
