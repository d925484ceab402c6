"""The command line, in-process: help on every command, exit statuses, config commands,
``algorithms``, ``login``, ``submit`` and ``demo`` against the emulator."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
import soundfile
import wavinfo

from mvsepd.cli import cli, main
from mvsepd.emulator import EmulatorServer, EmulatorSettings
from tests.integration.support import ROOT, write_wav


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(
        EmulatorSettings(publish_seconds=0.3, processing_seconds=0.1, rate_limit=False)
    ) as server:
        yield server


def all_commands() -> list[list[str]]:
    found: list[list[str]] = [[]]

    def walk(group: click.Group, prefix: list[str]) -> None:
        # Through list/get_command: the top group imports its commands on first use.
        context = click.Context(group)
        for name in group.list_commands(context):
            command = group.get_command(context, name)
            assert command is not None, f"{[*prefix, name]} is listed but does not load"
            found.append([*prefix, name])
            if isinstance(command, click.Group):
                walk(command, [*prefix, name])

    walk(cli, [])
    return found


@pytest.mark.parametrize("command", all_commands(), ids=lambda c: " ".join(c) or "mvsepd")
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "Usage:" in out or "usage:" in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert "mvsepd" in capsys.readouterr().out


def test_config_init_writes_a_valid_starter_and_never_overwrites(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config", "init"]) == 0
    path = home / "config" / "config.yaml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert main(["config", "init"]) == 1
    assert "already exists" in capsys.readouterr().err
    os.environ["MVSEP_API_TOKEN"] = "AbCdEfGhIjKlMnOpQrStUvWxYz0123"
    try:
        assert main(["config", "check", "--offline"]) == 0
    finally:
        del os.environ["MVSEP_API_TOKEN"]


def test_config_check_says_which_format_is_fetched_from_mvsep(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MVSEP_API_TOKEN", "AbCdEfGhIjKlMnOpQrStUvWxYz0123")
    folder = home / "Bounces"
    folder.mkdir()
    path = home / "fetch.yaml"
    path.write_text(
        "presets:\n  split: {sep_type: 20, output_format: wav16}\n"
        f'folders:\n  - {{path: "{folder}", preset: split}}\n'
    )
    assert main(["config", "check", "--config", str(path), "--offline"]) == 0
    out = capsys.readouterr().out
    notes = out.splitlines()[:-1]  # the last line is "FILE: valid": as long as the path
    assert all(len(line) <= 100 for line in notes), out
    assert (
        f"note: folders[0] ({folder}): preset 'split' asks MVSEP for wav16; its stems are "
        "conformed here, so mvsepd fetches flac16 (the same samples, about half the bytes"
    ) in " ".join(out.split())


def test_config_check_lists_every_problem_and_exits_78(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = home / "bad.yaml"
    path.write_text("account:\n  serverr: x\nfolders:\n  - {path: /tmp/x, preset: nope}\n")
    assert main(["config", "check", "--config", str(path), "--offline"]) == 78
    err = capsys.readouterr().err
    # file:line: key: what is wrong; what would be accepted; at most 100 characters a line.
    assert all(len(line) <= 100 for line in err.splitlines()), err
    words = " ".join(err.split())
    assert f"{path}:2: account.serverr: unknown key; did you mean 'server'? known keys:" in words
    assert f'{path}:4: folders[0].preset: no preset or chain named "nope"' in words


def test_config_check_checks_presets_against_the_catalog(
    home: Path, emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    path = home / "config.yaml"
    path.write_text(
        f"""account: {{server: "{emulator.url}", token: AbCdEfGhIjKlMnOpQrStUvWxYz0123}}
presets:
  good: {{sep_type: 48, options: {{model_type: "ver 2024.10"}}}}
  bad: {{sep_type: 48, options: {{add_opt1: "does not exist"}}}}
"""
    )
    path.chmod(0o600)
    assert main(["config", "check", "--config", str(path)]) == 78
    err = " ".join(capsys.readouterr().err.split())
    assert f"{path}:4: presets.bad.options.add_opt1: 'does not exist' is not one of its" in err
    assert "presets.good" not in err


def test_config_check_proves_chains_and_says_where_two_steps_could_be_one(
    home: Path, emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    path = home / "config.yaml"
    # config check asks MVSEP about the account too: the token is a real one of the emulator.
    emulator.add_account(token="AbCdEfGhIjKlMnOpQrStUvWxYz0123", plan="premium", credits=10)
    base = f"""account: {{server: "{emulator.url}", token: AbCdEfGhIjKlMnOpQrStUvWxYz0123}}
presets:
  speech: {{sep_type: 115}}
chains:
  kit:
    steps:
      - {{id: drums, sep_type: 44}}
      - {{id: parts, from: drums/Drums, sep_type: 37, options: {{add_opt2: "Use as is"}}}}
"""
    path.write_text(base)
    path.chmod(0o600)
    assert main(["config", "check", "--config", str(path)]) == 0
    captured = capsys.readouterr()
    # A text-only model is a valid preset (for a folder of prompts).
    assert "presets.speech" not in captured.err
    assert "could be one MVSEP job" in captured.out
    path.write_text(base.replace("drums/Drums", "drums/Vocals"))
    assert main(["config", "check", "--config", str(path)]) == 78
    err = " ".join(capsys.readouterr().err.split())
    assert (
        f"{path}:8: chains.kit.steps[1] (parts): from 'drums/Vocals': step 'drums' makes no stem"
        in err
    )


def test_config_schema_is_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "mvsepd configuration"


def test_algorithms_lists_searches_and_shows_one(
    home: Path, emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["algorithms", "--server", emulator.url, "--json"]) == 0
    catalog = json.loads(capsys.readouterr().out)
    assert len(catalog) == 117
    assert main(["algorithms", "20", "--server", emulator.url]) == 0
    out = capsys.readouterr().out
    assert "sep_type 20" in out and "htdemucs_ft" in out
    assert main(["algorithms", "demucs4", "--server", emulator.url]) == 0
    out = capsys.readouterr().out
    assert "Demucs4 HT (vocals, drums, bass, other)" in out and "DNR" in out
    assert main(["algorithms", "no such model", "--server", emulator.url]) == 1


def test_login_stores_the_token_privately(
    home: Path, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = emulator.add_account(email="me@example.com", password="secret-password")
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("secret-password\n"))
    code = main(
        ["login", "--email", "me@example.com", "--password-stdin", "--server", emulator.url]
    )
    assert code == 0
    token_file = home / "config" / "token"
    assert token_file.read_text().strip() == account.token
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600


def test_login_with_a_wrong_password_says_so(
    home: Path, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    emulator.add_account(email="me@example.com", password="secret-password")
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("wrong\n"))
    code = main(
        ["login", "--email", "me@example.com", "--password-stdin", "--server", emulator.url]
    )
    assert code == 1
    assert "MVSEP" in capsys.readouterr().err
    assert not (home / "config" / "token").exists()


def test_submit_one_file_with_a_preset(
    home: Path, emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    account = emulator.add_account()
    config = home / "config.yaml"
    config.write_text(
        f"""account: {{server: "{emulator.url}"}}
presets:
  vocals: {{sep_type: 48, output_format: flac16}}
"""
    )
    song = home / "song.wav"
    write_wav(song, 0.5)
    source = soundfile.info(str(song))
    os.environ["MVSEP_API_TOKEN"] = account.token
    try:
        assert main(["submit", str(song), "--preset", "vocals", "--config", str(config)]) == 0
        # Sent as the daemon sends it: the same samples as lossless FLAC.
        (remote,) = emulator.state.jobs()
        assert remote.received_name == "song.flac"
        received = emulator.state.received_file(remote.hash)
        assert received is not None
        sent, _ = soundfile.read(str(received), dtype="int32")
        original, _ = soundfile.read(str(song), dtype="int32")
        assert (sent == original).all()
        assert not list((home / "cache" / "uploads").iterdir()), "the FLAC outlived the upload"
        # The stems match the file (a 22.05 kHz WAV), not MVSEP's 44.1 kHz FLACs ...
        stems = sorted(path.name for path in (home / "song stems").iterdir())
        # MVSEP labels the second stem "Other"; it is the instrumental (and the manifest
        # keeps MVSEP's label).
        assert stems == ["manifest.json", "song - Instrumental.wav", "song - Vocals.wav"]
        manifest = json.loads((home / "song stems" / "manifest.json").read_text())
        assert [(o["label"], o["mvsep_label"]) for o in manifest["outputs"]] == [
            ("Vocals", "Vocals"),
            ("Instrumental", "Other"),
        ]
        placed = soundfile.info(str(home / "song stems" / "song - Vocals.wav"))
        assert (placed.samplerate, placed.frames) == (source.samplerate, source.frames)
        # ... unless asked for MVSEP's files as sent.
        arguments = ["submit", str(song), "--preset", "vocals", "--as-sent", "--output"]
        assert main([*arguments, str(home / "as sent"), "--config", str(config)]) == 0
    finally:
        del os.environ["MVSEP_API_TOKEN"]
    as_sent = sorted(path.name for path in (home / "as sent").iterdir())
    assert as_sent == ["manifest.json", "song - Instrumental.flac", "song - Vocals.flac"]
    assert soundfile.info(str(home / "as sent" / "song - Vocals.flac")).samplerate == 44100
    assert emulator.state.create_count() == 2


def test_submit_refuses_bad_input_before_the_network(
    home: Path, emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = home / "config.yaml"
    config.write_text(f'account: {{server: "{emulator.url}", token: xyzxyzxyzxyz}}\n')
    config.chmod(0o600)
    assert (
        main(["submit", str(home / "missing.wav"), "--sep-type", "20", "--config", str(config)])
        == 2
    )
    assert "no such file" in capsys.readouterr().err
    write_wav(home / "a.wav", 0.2)
    assert main(["submit", str(home / "a.wav"), "--config", str(config)]) == 2
    assert "either --preset" in capsys.readouterr().err
    assert emulator.state.create_count() == 0


def test_run_without_a_token_exits_78_with_one_line(home: Path, capsys) -> None:
    config = home / "config.yaml"
    config.write_text("presets: {}\n")
    assert main(["run", "--config", str(config)]) == 78
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no MVSEP API token" in err[0]


def test_demo_runs_offline_from_a_fresh_install(tmp_path: Path) -> None:
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    environment.pop("MVSEP_API_TOKEN", None)
    result = subprocess.run(
        [sys.executable, "-m", "mvsepd", "demo", "--dir", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        timeout=180,
        env=environment,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "stems ready in" in result.stdout
    stems = list((tmp_path / "demo" / "Exports stems" / "Demo track").glob("*.wav"))
    assert len(stems) == 5
    # The export is what a DAW bounces (48 kHz, 24-bit, stamped one hour into the session),
    # and the closing lines show every stem matching it.
    export = wavinfo.WavInfoReader(str(tmp_path / "demo" / "Exports" / "Demo track.wav"))
    assert (export.fmt.sample_rate, export.fmt.bits_per_sample) == (48000, 24)
    assert export.bext.time_reference == 3600 * 48000
    lines = result.stdout.splitlines()
    fits = [
        line for line in lines if "48000 Hz, 2 ch, 384000 frames, 24-bit, at 01:00:00.000" in line
    ]
    assert len(fits) == 6  # five stems and the export
    for stem in stems:
        assert wavinfo.WavInfoReader(str(stem)).bext.time_reference == 3600 * 48000
    assert any("MVSEP sent 44100 Hz" in line for line in lines)
    assert any("null against it at" in line for line in lines)
