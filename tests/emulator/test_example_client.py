"""MVSEP's official example client (ZFTurbo/MVSep-API-Examples, python_example1) against the
emulator, done the way the example does it, and the stems it downloads checked as audio."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
import soundfile

from mvsepd.emulator import EmulatorServer
from mvsepd.emulator.dsp import plan_stems
from mvsepd.emulator.encoding import FORMATS
from mvsepd.emulator.render import tolerance
from tests.emulator.conftest import ServerFactory
from tests.emulator.helpers import create, stem_key, wait_status


def example_create(base: str, path: Path, token: str, sep_type: str, fmt: str) -> tuple[str, int]:
    """``create_separation`` of python_example1, with the output format as a parameter."""
    audiofile = open(path, "rb")  # noqa: SIM115 - the example passes an open file
    files: dict[str, Any] = {
        "audiofile": audiofile,
        "api_token": (None, token),
        "sep_type": (None, sep_type),
        "add_opt1": (None, ""),
        "add_opt2": (None, ""),
        "output_format": (None, fmt),
        "is_demo": (None, "1"),
    }
    try:
        response = requests.post(base + "/separation/create", files=files, timeout=30)
    finally:
        audiofile.close()
    string_response = response.content.decode("utf-8")
    parsed_json = json.loads(string_response)
    return parsed_json["data"]["hash"], response.status_code


def example_get_result(base: str, separation_hash: str, save_path: Path) -> list[Path]:
    """``get_result`` + ``download_file`` of python_example1; returns the written files."""
    params = {"hash": separation_hash}
    response = requests.get(base + "/separation/get", params=params, timeout=30)
    data = json.loads(response.content.decode("utf-8"))
    written = []
    assert data["success"]
    files = data["data"]["files"]
    os.makedirs(save_path, exist_ok=True)
    for file_info in files:
        url = file_info["url"].replace("\\/", "/")
        filename = file_info["download"]
        answer = requests.get(url, timeout=30)
        assert answer.status_code == 200
        output_path = save_path / filename
        output_path.write_bytes(answer.content)
        written.append(output_path)
    return written


@pytest.mark.parametrize("fmt", ["1", "2", "4", "5"])
def test_example_flow_gives_stems_that_sum_to_the_input(
    server: EmulatorServer, audio: Path, tmp_path: Path, fmt: str
) -> None:
    token = server.add_account().token
    base = server.url + "/api"
    separation_hash, status = example_create(base, audio, token, "48", fmt)
    assert status == 200
    wait_status(server, separation_hash, "done")
    written = example_get_result(base, separation_hash, tmp_path / "out")

    extension = FORMATS[int(fmt)].extension
    assert sorted(p.name for p in written) == [
        f"luke-s-theme-a-madman-s-symphony_melbandroformer_mt_4_{stem}.{extension}"
        for stem in ("other", "vocals")
    ]
    original, samplerate = soundfile.read(str(audio), always_2d=True)
    total = np.zeros_like(original)
    for path in written:
        info = soundfile.info(str(path))
        assert info.samplerate == samplerate
        assert info.format == FORMATS[int(fmt)].container
        assert info.subtype == FORMATS[int(fmt)].subtype
        data, _ = soundfile.read(str(path), always_2d=True)
        assert data.shape == original.shape
        assert np.max(np.abs(data)) > 0.001  # a real signal, not silence
        total += data
    assert np.max(np.abs(total - original)) <= tolerance(FORMATS[int(fmt)], len(written))


def test_all_primary_stems_of_a_multistem_model_sum_to_the_input(
    server: EmulatorServer, audio: Path
) -> None:
    """Demucs4 HT: vocals + drums + bass + other = input, instrumental = input − vocals."""
    token = server.add_account().token
    answer = create(server, token, audio, sep_type="20", output_format="4")
    done = wait_status(server, answer.json()["data"]["hash"], "done")["data"]
    stems = {}
    for item in done["files"]:
        content = requests.get(item["url"], timeout=30).content
        data, _ = soundfile.read(io.BytesIO(content), always_2d=True)
        stems[stem_key(item["url"])] = (item["type"], data)
    assert {key: label for key, (label, _) in stems.items()} == {
        "vocals": "Vocals",
        "drums": "Drums",
        "bass": "Bass",
        "other": "Other",
        "instrumental": "Instrumental",
    }
    original, _ = soundfile.read(str(audio), always_2d=True)
    plan = plan_stems(list(stems))
    assert set(plan.primary) == {"vocals", "drums", "bass", "other"}
    total = sum(stems[key][1] for key in plan.primary)
    bound = tolerance(FORMATS[4], 4)
    assert np.max(np.abs(total - original)) <= bound
    instrumental = stems["instrumental"][1] + stems["vocals"][1]
    assert np.max(np.abs(instrumental - original)) <= bound


def test_mp3_output_is_320_kbps_audio(server: EmulatorServer, audio: Path) -> None:
    token = server.add_account().token
    answer = create(server, token, audio, sep_type="48", output_format="0")
    done = wait_status(server, answer.json()["data"]["hash"], "done")["data"]
    assert done["output_format"] == "mp3 (320 kbps)"
    content = requests.get(done["files"][0]["url"], timeout=30).content
    info = soundfile.info(io.BytesIO(content))
    assert info.format == "MP3"
    assert 300_000 <= len(content) * 8 / 2.0 <= 340_000  # 2 s at 320 kbps


def test_m4a_output_needs_ffmpeg(make_server: ServerFactory, audio: Path) -> None:
    without = make_server(ffmpeg_binary=None)
    answer = create(without, without.add_account().token, audio, output_format="3")
    assert answer.status_code == 400
    assert answer.json()["success"] is False
    assert "m4a" in answer.json()["errors"][0]


def test_m4a_output_with_ffmpeg(server: EmulatorServer, audio: Path) -> None:
    if server.ffmpeg is None:
        pytest.skip("ffmpeg is not installed; m4a output needs it (scripts/test installs it)")
    answer = create(server, server.add_account().token, audio, output_format="3")
    done = wait_status(server, answer.json()["data"]["hash"], "done")["data"]
    assert done["output_format"] == "m4a (lossy)"
    content = requests.get(done["files"][0]["url"], timeout=30).content
    assert content[4:8] == b"ftyp"
    assert done["files"][0]["download"].endswith(".m4a")
