"""Folders fed by other things than audio, over real HTTP: links (MVSEP fetches them, here a
loopback server of the test's own), prompts for text-only models, matchering pairs."""

from __future__ import annotations

import http.server
import json
import plistlib
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conform.material import Source, write_source
from tests.integration.support import wait_until, wav_bytes
from tests.workflows.support import daemon_for, done, folder_config, settle, world


class _Files(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTP server on 127.0.0.1 serving a folder (what a link points at)."""
    root = tmp_path / "served"
    root.mkdir()
    handler = lambda *args, **kwargs: _Files(*args, directory=str(root), **kwargs)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


PRESETS = """presets:
  vocals: {sep_type: 48, output_format: flac24}
  speech: {sep_type: 104}
  master: {sep_type: 68, output_format: flac24}
"""


def test_every_kind_of_link_file_becomes_a_url_job_through_get_remote(
    tmp_path: Path, file_server: tuple[str, Path]
) -> None:
    base, served = file_server
    for index in range(5):
        (served / f"take{index}.wav").write_bytes(wav_bytes(0.4, seed=40 + index))
    with world(tmp_path) as place:
        hot = place.folder("Links")
        links = {
            "Shortcut.url": "\ufeff[InternetShortcut]\r\nURL={}/take0.wav\r\nIconIndex=0\r\n"
            "[{{000214A0-0000-0000-C000-000000000046}}]\r\nProp3=19,11\r\n",
            "Desktop link.desktop": "[Desktop Entry]\nName=take\nType=Link\nURL={}/take3.wav\n",
            "Plain.txt": "{}/take4.wav\n",
        }
        with daemon_for(place, PRESETS + "folders:\n" + folder_config(hot, "vocals")) as daemon:
            for name, text in links.items():
                (hot / name).write_text(text.format(base), encoding="utf-8")
            (hot / "Safari XML.webloc").write_bytes(
                plistlib.dumps({"URL": f"{base}/take1.wav"}, fmt=plistlib.FMT_XML)
            )
            (hot / "Safari binary.webloc").write_bytes(
                plistlib.dumps({"URL": f"{base}/take2.wav"}, fmt=plistlib.FMT_BINARY)
            )
            jobs = done(settle(daemon, 5))
        assert {job.input_kind for job in jobs} == {"url"}
        assert all(job.remote_hash and job.separation_hash for job in jobs)
        remote = place.remote_jobs()
        assert len(remote) == 5
        assert sorted(job.input_name or "" for job in remote)  # MVSEP fetched every file
        sent = {job.input_sha256 for job in remote}
        assert sent == {
            __import__("hashlib").sha256((served / f"take{i}.wav").read_bytes()).hexdigest()
            for i in range(5)
        }
        stems = place.stems_of("Links")
        for track in ("Shortcut", "Safari XML", "Safari binary", "Desktop link", "Plain"):
            names = sorted(path.name for path in (stems / track).iterdir())
            assert names == sorted(
                ["manifest.json", f"{track} - Instrumental.flac", f"{track} - Vocals.flac"]
            )


def test_prompts_and_sidecars_make_no_upload_jobs_with_the_prompt_in_its_field(
    tmp_path: Path,
) -> None:
    with world(tmp_path) as place:
        hot = place.folder("Voice lines")
        with daemon_for(place, PRESETS + "folders:\n" + folder_config(hot, "speech")) as daemon:
            (hot / "Greeting.txt").write_text("Hello there,\r\nhow are you?\r\n", encoding="utf-8")
            (hot / "Farewell.mvsep.yaml").write_text(
                "prompt: Good bye, and thanks for the fish\noptions: {Model type: VibeVoce 1.5B}\n",
                encoding="utf-8",
            )
            jobs = done(settle(daemon, 2))
        assert {job.input_kind for job in jobs} == {"prompt"}
        remote = {job.options.get("add_opt2"): job for job in place.remote_jobs()}
        # VibeVoice keeps its prompt in add_opt2: found by the catalog's "Text prompt".
        assert set(remote) == {"Hello there,\nhow are you?", "Good bye, and thanks for the fish"}
        assert remote["Good bye, and thanks for the fish"].options["add_opt1"] == "0"
        assert all(job.kind == "no_upload" for job in remote.values())
        for track in ("Greeting", "Farewell"):
            manifest = json.loads(
                (place.stems_of("Voice lines") / track / "manifest.json").read_text()
            )
            assert manifest["input"]["kind"] == "prompt" and manifest["outputs"]


def test_matchering_pairs_and_a_reference_folder_make_matchering_creates(tmp_path: Path) -> None:
    with world(tmp_path) as place:
        pairs, album = place.folder("Pairs"), place.folder("Album")
        reference = write_source(
            place.folder("References"), Source("Ref", 44100, 2, "PCM_16"), seed=9
        )
        body = (
            PRESETS
            + "folders:\n"
            + folder_config(pairs, "master")
            + folder_config(album, "master", f'    reference: "{reference}"\n')
        )
        with daemon_for(place, body) as daemon:
            write_source(pairs, Source("Song", 44100, 2, "PCM_16"), seed=10)
            write_source(pairs, Source("Song.reference", 44100, 2, "PCM_16"), seed=11)
            for index in range(2):
                write_source(album, Source(f"Track {index}", 48000, 2, "PCM_24"), seed=12 + index)
            jobs = done(settle(daemon, 3))
        assert {job.input_kind for job in jobs} == {"matchering"}
        remote = place.remote_jobs()
        assert len(remote) == 3 and {job.kind for job in remote} == {"matchering_upload"}
        assert sorted(p.name for p in (place.stems_of("Pairs")).iterdir()) == ["Song"]
        assert sorted(p.name for p in place.stems_of("Album").iterdir()) == ["Track 0", "Track 1"]


def test_midi_results_are_placed_with_their_own_extension_untouched(tmp_path: Path) -> None:
    with world(tmp_path) as place:
        hot = place.folder("Piano")
        body = "presets:\n  midi: {sep_type: 114}\nfolders:\n" + folder_config(hot, "midi")
        with daemon_for(place, body) as daemon:
            write_source(hot, Source("Etude", 48000, 2, "PCM_24"), seed=14)
            done(settle(daemon, 1))
        (job,) = place.remote_jobs()
        placed = place.stems_of("Piano") / "Etude" / "Etude - Result.mid"
        assert placed.read_bytes().startswith(b"MThd")
        assert placed.read_bytes() == job.files[0].path.read_bytes()


def test_a_voice_cloning_take_waits_for_its_text_and_sends_it(tmp_path: Path) -> None:
    with world(tmp_path) as place:
        hot = place.folder("Voices")
        body = "presets:\n  clone: {sep_type: 103}\nfolders:\n" + folder_config(hot, "clone")
        with daemon_for(place, body) as daemon:
            write_source(hot, Source("Narrator", 44100, 1, "PCM_16"), seed=15)
            wait_until(
                lambda: daemon.store.source(str(hot), "Narrator.wav") is not None,
                10,
                message="the take to be seen",
            )
            assert daemon.store.jobs() == []  # it waits for its text
            (hot / "Narrator.txt").write_text("Once upon a time.\n", encoding="utf-8")
            (job,) = done(settle(daemon, 1))
        (remote,) = place.remote_jobs()
        assert remote.options["add_opt2"] == "Once upon a time."
        assert job.input_kind == "file"
