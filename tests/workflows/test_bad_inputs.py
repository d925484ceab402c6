"""Bad input of the new workflows: each is refused with the file and field named and what
would be accepted, before anything is uploaded or paid; originals, links and prompts stay."""

from __future__ import annotations

import plistlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from mvsepd.config.file import parse_config
from mvsepd.errors import ConfigError
from mvsepd.models import JobState
from tests.conform.material import Source, write_source
from tests.integration.support import wait_until
from tests.workflows.support import daemon_for, folder_config, world

PRESETS = """presets:
  vocals: {sep_type: 48, output_format: flac24}
  speech: {sep_type: 104}
  master: {sep_type: 68}
"""


@dataclass(frozen=True)
class Row:
    id: str
    preset: str
    drop: Callable[[Path], Path]
    expected: str
    folder_extra: str = ""
    body: str = PRESETS


def _text(name: str, text: str) -> Callable[[Path], Path]:
    def drop(folder: Path) -> Path:
        path = folder / name
        path.write_text(text, encoding="utf-8")
        return path

    return drop


def _bytes(name: str, data: bytes) -> Callable[[Path], Path]:
    def drop(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(data)
        return path

    return drop


def _audio(name: str) -> Callable[[Path], Path]:
    def drop(folder: Path) -> Path:
        return write_source(folder, Source(name, 44100, 2, "PCM_16"), seed=30)

    return drop


BAD_FROM = """presets:
  vocals: {sep_type: 48, output_format: flac24}
chains:
  wrong-stem:
    steps:
      - {id: split, preset: vocals}
      - {id: denoise, from: split/Drums, sep_type: 47}
"""

ROWS = [
    Row(
        "url-without-url",
        "vocals",
        _text("NoLink.url", "[InternetShortcut]\r\nIconIndex=0\r\n"),
        "NoLink.url: [InternetShortcut] has no URL= line",
    ),
    Row(
        "garbled-webloc",
        "vocals",
        _bytes("Broken.webloc", b"bplist00\x00\x01garbage"),
        "Broken.webloc: not a readable .webloc",
    ),
    Row(
        "ftp-link",
        "vocals",
        _text("Ftp.url", "[InternetShortcut]\nURL=ftp://files.example.com/song.wav\n"),
        "is not http(s) (ftp); accepted: http:// or https:// links",
    ),
    Row(
        "file-link",
        "vocals",
        _bytes("Local.webloc", plistlib.dumps({"URL": "file:///etc/passwd"})),
        "is not http(s) (file)",
    ),
    Row(
        "private-network-link",
        "vocals",
        _text("Nas.desktop", "[Desktop Entry]\nType=Link\nURL=http://192.168.1.20/mix.wav\n"),
        "the link points at this machine or its network (192.168.1.20)",
    ),
    Row(
        "prompt-too-long",
        "speech",
        _text("Essay.txt", "word " * 1200),
        "Essay.txt: prompt: 5999 characters (trimmed), more than the 5000 mvsepd sends",
    ),
    Row(
        "empty-prompt",
        "speech",
        _text("Nothing.txt", "   \n"),
        "Nothing.txt: the file is empty",
    ),
    Row(
        "audio-in-a-prompt-folder",
        "speech",
        _audio("Song"),
        "VibeVoice (TTS) is text-only, so it takes no file; drop a .txt with the prompt",
    ),
    Row(
        "sidecar-with-unknown-key",
        "speech",
        _text("Odd.mvsep.yaml", "prompt: hi\nvoice: Bob\n"),
        "Odd.mvsep.yaml: unknown key 'voice'; accepted: options, prompt, reference",
    ),
    Row(
        "missing-reference",
        "master",
        _audio("Target"),
        "the reference /nowhere/ref.wav does not exist; matchering needs a complete audio file",
        folder_extra='    reference: "/nowhere/ref.wav"\n',
    ),
    Row(
        "from-a-stem-the-step-does-not-make",
        "wrong-stem",
        _audio("Song"),
        "chains.wrong-stem.steps[1] (denoise): from 'split/Drums': step 'split' makes no stem "
        "'Drums' with its options; it makes: Vocals, Other",
        body=BAD_FROM,
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_bad_input_is_refused_before_anything_is_paid(tmp_path: Path, row: Row) -> None:
    with world(tmp_path) as place:
        hot = place.folder("Hot")
        body = row.body + "folders:\n" + folder_config(hot, row.preset, row.folder_extra)
        with daemon_for(place, body) as daemon:
            dropped = row.drop(hot)
            before = dropped.read_bytes()
            job = wait_until(
                lambda: next((j for j in daemon.store.jobs() if j.state is JobState.FAILED), None),
                30,
                message="the refusal",
            )
        assert row.expected in (job.reason or ""), job.reason
        assert place.remote_jobs() == [], "something was sent to MVSEP"
        assert dropped.read_bytes() == before  # the original is untouched


def test_an_empty_link_file_is_reported_incomplete_and_nothing_is_sent(tmp_path: Path) -> None:
    # Empty is unfinished, whatever the file: reported (and watched on), never refused or sent.
    with world(tmp_path) as place:
        hot = place.folder("Hot")
        body = PRESETS + "folders:\n" + folder_config(hot, "vocals")
        with daemon_for(place, body) as daemon:
            (hot / "Empty.url").write_bytes(b"")
            status_api = daemon.daemon.status_api
            assert status_api is not None

            def reported() -> list[str]:
                arrivals = status_api.picture.status()["arrivals"]
                return [item["summary"] for item in arrivals if item["state"] == "incomplete"]

            (summary,) = wait_until(reported, 30, message="the report")
            assert summary.startswith("incomplete: Empty.url (")
            assert summary.endswith(" s, the file is empty)")
            assert daemon.store.jobs() == []
        assert place.remote_jobs() == []


def test_a_chain_that_loops_is_refused_with_the_step_named() -> None:
    text = """presets:
  vocals: {sep_type: 48}
chains:
  loop:
    steps:
      - {id: a, from: b/Vocals, sep_type: 47}
      - {id: b, from: a/Noise, sep_type: 47}
"""
    with pytest.raises(ConfigError) as raised:
        parse_config(text, "config.yaml")
    assert "step 'a': from 'b/Vocals' names no earlier step" in str(raised.value.problems)
    assert "cannot loop" in str(raised.value.problems)
