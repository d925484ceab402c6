"""``mvsepd config check`` as a producer meets it: a syntax slip first, in words, with its line
and column; once it is fixed, every other problem of the file (schema and MVSEP's catalog) in
one pass, each as ``file:line: key: what is wrong; did you mean ...``, no line over 100
characters. The catalog is the emulator's, over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mvsepd.cli import main
from mvsepd.emulator import EmulatorServer, EmulatorSettings
from mvsepd.exits import ExitStatus

CONFIG = """# Studio B
account:
  server: "{server}"
  token_file: "{token}"
  concurency: 1
presets:
  vocals:
    sep_type: "melband roformr"
    output_format: wav 16
  karaoke:
    sep_type: 48
    options:
      Vocal model typ: "ver 2024.10"
   output_format: flac24
folders:
  - path: "{hot}"
    preset: vocals
"""


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorSettings(rate_limit=False)) as server:
        yield server


def check(path: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert main(["config", "check", "--config", str(path)]) == ExitStatus.CONFIG
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert all(len(line) <= 100 for line in lines), err
    # One problem per entry: a new entry starts with the file's name, its continuations are
    # indented.
    entries: list[str] = []
    for line in lines[1:]:
        if line.startswith("    "):
            entries[-1] += " " + line.strip()
        else:
            entries.append(line)
    return entries


def test_a_syntax_slip_then_every_other_problem_in_one_pass(
    home: Path, emulator: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    tmp_path = home
    token = tmp_path / "token"
    token.write_text(emulator.add_account().token)
    path = tmp_path / "config.yaml"
    text = CONFIG.format(server=emulator.url, token=token, hot=tmp_path / "Hot")
    path.write_text(text)
    path.chmod(0o600)

    (slip,) = check(path, capsys)
    assert slip == (
        f"{path}:14:4: not valid YAML: this line is indented differently from the keys above "
        "it; indent every key of a section by the same number of spaces (the section starts "
        "on line 7)"
    )

    path.write_text(text.replace("   output_format: flac24", "    output_format: flac24"))
    problems = check(path, capsys)
    assert problems == [
        f"{path}:5: account.concurency: unknown key; did you mean 'concurrency'? known keys: "
        "concurrency, max_upload_mb, plans, server, token, token_env, token_file",
        f"{path}:8: presets.vocals.sep_type: no algorithm named 'melband roformr'; did you mean "
        "'MelBand Roformer (vocals, instrumental)' (48)? `mvsepd algorithms SEARCH` finds its "
        "id or exact name",
        f"{path}:9: presets.vocals.output_format: unknown output format 'wav 16'; did you mean "
        "'wav16'? accepted: mp3 (0), wav16 (1), flac16 (2), m4a (3), wav32 (4), flac24 (5)",
        f"{path}:13: presets.karaoke.options.Vocal model typ: MelBand Roformer (vocals, "
        "instrumental) has no option 'Vocal model typ'; did you mean 'Vocal model type' "
        "(add_opt1)? known: add_opt1 (Vocal model type), add_opt2 (Overlap)",
    ]

    fixed = (
        text.replace("   output_format: flac24", "    output_format: flac24")
        .replace("concurency", "concurrency")
        .replace("melband roformr", "MelBand Roformer (vocals, instrumental)")
        .replace("wav 16", "wav16")
        .replace("Vocal model typ:", "Vocal model type:")
    )
    path.write_text(fixed)
    assert main(["config", "check", "--config", str(path)]) == 0
    assert "valid (2 presets, 1 folders)" in capsys.readouterr().out
