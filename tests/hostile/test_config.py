"""Hostile configuration files: each stops ``mvsepd run`` before anything starts, with exit
status 78 (a service manager then stops instead of restarting in a loop) and one line on stderr
that names the problem. No row may crash with a traceback, hang, or start a daemon.

The rows run ``mvsepd run`` in this process (``mvsepd.cli.main``) with no API token anywhere:
a configuration that were wrongly accepted would stop at the missing token instead, and the
row's expected words would not be there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from mvsepd.cli import main
from mvsepd.exits import ExitStatus
from tests.hostile.logs import capturing_logs

PRESETS = "presets:\n  four: {sep_type: 20}\n"


@dataclass(frozen=True)
class ConfigCase:
    """One row: a configuration file (built in a temporary folder) and the words it must get."""

    id: str
    given: str
    expected: str
    text: Callable[[Path], str]


def _folders(*entries: str) -> str:
    return PRESETS + "folders:\n" + "".join(entries)


def _folder(path: Path, extra: str = "") -> str:
    return f'  - path: "{path}"\n    preset: four\n{extra}'


def _billion_laughs(_: Path) -> str:
    # Nine levels of nine aliases each: 387 million strings once expanded.
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 10):
        aliases = ",".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{aliases}]")
    return "\n".join(lines) + "\n"


CONFIG: list[ConfigCase] = [
    ConfigCase(
        "invalid-yaml",
        "an unclosed flow mapping",
        "line 3, column 8: not valid YAML: the { ... } opened on line 2 is not closed here, or "
        "two of its entries have no comma between them",
        lambda base: "presets:\n  four: {sep_type: 20\nfolders: []\n",
    ),
    ConfigCase(
        "tab-indentation",
        "a tab where YAML wants spaces",
        "line 4, column 1: not valid YAML: a tab; YAML indents with spaces only, so replace the "
        "tab with spaces",
        lambda base: PRESETS + "folders:\n\t- path: /music\n",
    ),
    ConfigCase(
        "nul-byte",
        "a NUL byte in the file",
        "line 3: not valid YAML: the file holds a character YAML does not allow (#x0000, a "
        "control character); remove it",
        lambda base: PRESETS + "daemon: {log_level: \x00}\n",
    ),
    ConfigCase(
        "not-utf-8",
        "Latin-1 bytes where UTF-8 is expected",
        "cannot be read",
        lambda base: "\udce9",  # written as a lone 0xE9 byte (see the test)
    ),
    ConfigCase(
        "unknown-top-level-key",
        "`folder:` for `folders:`",
        "line 3: folder: unknown key; did you mean 'folders'? known keys: account, chains, daemon, "
        "defaults, folders, limits, presets, store",
        lambda base: PRESETS + f'folder:\n  - path: "{base / "Hot"}"\n',
    ),
    ConfigCase(
        "unknown-folder-key",
        "`stability:` for `stability_seconds:`",
        "folders[0].stability: unknown key",
        lambda base: _folders(_folder(base / "Hot", "    stability: 3\n")),
    ),
    ConfigCase(
        "wrong-type-number",
        "a word where seconds are expected",
        "line 6: folders[0].stability_seconds: 'soon' is not accepted; accepted: a number",
        lambda base: _folders(_folder(base / "Hot", "    stability_seconds: soon\n")),
    ),
    ConfigCase(
        "wrong-type-section",
        "a single path where the list of folders is expected",
        "line 3: folders: '{base}/Hot' is not accepted; accepted: a list (lines that start with "
        "'- ', or [a, b])",
        lambda base: PRESETS + f'folders: "{base / "Hot"}"\n',
    ),
    ConfigCase(
        "duplicate-key",
        "`presets:` twice",
        "presets: duplicate key",
        lambda base: PRESETS + PRESETS + "folders: []\n",
    ),
    ConfigCase(
        "duplicate-folder-paths",
        "the same hot folder listed twice",
        "folders[1].path: the same folder as folders[0]",
        lambda base: _folders(_folder(base / "Hot"), _folder(base / "Hot")),
    ),
    ConfigCase(
        "duplicate-folder-through-a-link",
        "the same hot folder listed again through a symlink to it",
        "folders[1].path: the same folder as folders[0]",
        lambda base: _folders(_folder(base / "Hot"), _folder(base / "Alias")),
    ),
    ConfigCase(
        "output-inside-watched-tree",
        "stems written into a folder inside the hot folder",
        "inside the watched folder folders[0]",
        lambda base: _folders(
            _folder(base / "Hot", '    output: "{parent}/{folder}/stems/{track} - {stem}.{ext}"\n')
        ),
    ),
    ConfigCase(
        "output-inside-another-hot-folder",
        "one folder's stems written into another hot folder",
        "inside the watched folder folders[1]",
        lambda base: _folders(
            _folder(base / "Hot", f'    output: "{base}/Other/{{track}} - {{stem}}.{{ext}}"\n'),
            _folder(base / "Other"),
        ),
    ),
    ConfigCase(
        "hot-folder-inside-another",
        "a hot folder inside another hot folder",
        "lies inside folders[0]",
        lambda base: _folders(_folder(base / "Hot"), _folder(base / "Hot" / "Inner")),
    ),
    ConfigCase(
        "move-to-inside-watched-tree",
        "finished originals moved into a watched folder",
        "lies inside the watched folder folders[1]",
        lambda base: _folders(
            _folder(base / "Hot", f'    after_success: move\n    move_to: "{base / "Other"}"\n'),
            _folder(base / "Other"),
        ),
    ),
    ConfigCase(
        "status-api-on-the-network",
        "the status API on 0.0.0.0 without allow_remote_status",
        "0.0.0.0 is not a loopback address",
        lambda base: PRESETS + "daemon: {status_host: 0.0.0.0}\n",
    ),
    ConfigCase(
        "unknown-yaml-tag",
        "a YAML tag no safe loader knows (`!shell`)",
        "not valid YAML: could not determine a constructor for the tag '!shell'",
        lambda base: PRESETS + "daemon: {log_level: !shell 'rm -rf ~'}\n",
    ),
    ConfigCase(
        "nested-10000-deep",
        "a value nested 10,000 lists deep",
        "values are nested more than 50 levels deep",
        lambda base: PRESETS + "daemon: " + "[" * 10_000 + "]" * 10_000 + "\n",
    ),
    ConfigCase(
        "alias-cycle",
        "an alias that contains itself",
        "values are nested more than 50 levels deep",
        lambda base: PRESETS + "limits: &loop [*loop]\n",
    ),
    ConfigCase(
        "billion-laughs",
        "nine levels of nine aliases (387 million values once expanded)",
        "more than 100000 values",
        _billion_laughs,
    ),
]


def _folders_on_disk(base: Path) -> None:
    for name in ("Hot", "Hot/Inner", "Other"):
        (base / name).mkdir(parents=True, exist_ok=True)
    (base / "Alias").symlink_to(base / "Hot", target_is_directory=True)


@pytest.mark.parametrize("case", CONFIG, ids=[case.id for case in CONFIG])
def test_hostile_config(
    case: ConfigCase,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = tmp_path / "Music"
    _folders_on_disk(base)
    config = tmp_path / "config.yaml"
    text = case.text(base)
    config.write_bytes(text.encode("utf-8", "surrogateescape"))
    for name in ("CONFIG", "STATE", "CACHE", "LOG", "RUNTIME"):
        monkeypatch.setenv(f"MVSEPD_{name}_DIR", str(tmp_path / name.lower()))
    monkeypatch.delenv("MVSEP_API_TOKEN", raising=False)
    started = time.monotonic()
    with capturing_logs():
        status = main(["run", "--config", str(config)])
    elapsed = time.monotonic() - started
    error = capsys.readouterr().err
    assert status == ExitStatus.CONFIG, error
    assert error.startswith(f"mvsepd: cannot start: {config}: "), error
    assert case.expected.replace("{base}", str(base)) in error
    assert "Traceback" not in error
    assert elapsed < 5, f"judging the file took {elapsed:.1f} s"
    assert not (tmp_path / "state").exists(), "a daemon started"
