"""Writing the configuration back: one value changes, everything the user wrote stays."""

from __future__ import annotations

import difflib
import os
import stat
from pathlib import Path

import pytest
import yaml

from mvsepd.config.file import load_config, parse_config
from mvsepd.config.write import ConfigEdit, create, set_values, starter
from mvsepd.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.yaml"

USERS_OWN = """# Studio B's mvsepd.
account:
  token_env: STUDIO_TOKEN     # the studio's shared token
  server: mvsep.com           # the main site
  concurrency: 2

# Presets, newest first.
presets:
  vocals: {sep_type: 48, options: {add_opt1: "ver 2024.10"}, output_format: wav16}
  drums:
    sep_type: "MVSep Drums (drums, other)"
    output_format: flac24     # lossless
folders:
- path: ~/Exports/Vocals      # Ableton renders here
  preset: vocals
  stability_seconds: null
"""


def changed_lines(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="")
        if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))
    ]


def test_setting_the_server_changes_only_its_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(USERS_OWN)
    set_values(path, {("account", "server"): "http://127.0.0.1:8787"})
    after = path.read_text()
    # Comments, order, quotes, flow mappings, the unindented list and null stay as written.
    assert changed_lines(USERS_OWN, after) == [
        "-  server: mvsep.com           # the main site",
        "+  server: http://127.0.0.1:8787 # the main site",
    ]
    assert parse_config(after).account.server == "http://127.0.0.1:8787"


def test_the_example_configuration_keeps_every_comment(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    before = EXAMPLE.read_text(encoding="utf-8")
    path.write_text(before, encoding="utf-8")
    set_values(path, {("account", "server"): "de"})
    after = path.read_text(encoding="utf-8")
    comments = [line.strip() for line in before.splitlines() if line.strip().startswith("#")]
    assert comments == [line.strip() for line in after.splitlines() if line.strip().startswith("#")]
    # Only the line set: the flow list spread over three lines stays as written too.
    assert changed_lines(before, after) == ["-  server: mvsep.com", "+  server: de"]
    assert parse_config(after).model_dump() == {
        **parse_config(before).model_dump(),
        "account": {**parse_config(before).account.model_dump(), "server": "de"},
    }


def test_missing_sections_are_added_and_the_mode_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("# only presets so far\npresets: {}\n")
    path.chmod(0o600)
    set_values(path, {("account", "server"): "hk"})
    assert path.read_text() == "# only presets so far\npresets: {}\naccount:\n  server: hk\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    set_values(empty, {("account", "server"): "sg"})
    assert parse_config(empty.read_text()).account.server == "sg"


def test_a_linked_configuration_is_written_where_it_lives(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "mvsepd.yaml"
    real.parent.mkdir()
    real.write_text("account:\n  server: mvsep.com\n")
    link = tmp_path / "config.yaml"
    link.symlink_to(real)
    set_values(link, {("account", "server"): "de2"})
    assert link.is_symlink()
    assert real.read_text() == "account:\n  server: de2\n"


def test_a_file_that_is_not_yaml_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    broken = "account:\n  server: mvsep.com\n   concurrency: 2\n"
    path.write_text(broken)
    with pytest.raises(ConfigError, match="line 3: not valid YAML, so it was left as it is"):
        set_values(path, {("account", "server"): "de"})
    assert path.read_text() == broken
    path.write_text("account: 3\n")
    with pytest.raises(ConfigError, match="account: must be a section"):
        set_values(path, {("account", "server"): "de"})
    assert path.read_text() == "account: 3\n"
    assert [entry.name for entry in tmp_path.iterdir()] == ["config.yaml"]


def test_the_starter_names_the_stored_token_file_and_the_server(tmp_path: Path) -> None:
    token_file = tmp_path / "My Config" / "token"
    text = starter(folder="~/Music/Vocals", server="http://127.0.0.1:8787", token_file=token_file)
    config = parse_config(text)
    assert config.account.server == "http://127.0.0.1:8787"
    assert config.account.token_file == token_file
    assert all(len(line) <= 100 for line in text.splitlines())
    plain = parse_config(starter(folder="~/Music/Vocals"))
    assert plain.account.token_file is None and plain.account.token_env == "MVSEP_API_TOKEN"
    path = tmp_path / "new" / "config.yaml"
    create(path, text)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_config(path).config.account.server == "http://127.0.0.1:8787"
    with pytest.raises(ConfigError, match="exists already"):
        create(path, "presets: {}\n")
    assert path.read_text() == text


def _comments(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("#")]


def _keys(text: str) -> list[str]:
    """Every key line's key, in the order of the file (its indentation kept)."""
    return [
        line.split(":")[0]
        for line in text.splitlines()
        if ":" in line and not line.strip().startswith(("#", "-", '"'))
    ]


def test_edits_from_the_page_change_only_what_they_change() -> None:
    """What the page saves: a folder changed, one added, one removed, a preset added, a key
    set. Every comment stays, the keys keep their order, the diff is the change alone."""
    before = EXAMPLE.read_text(encoding="utf-8")

    edit = ConfigEdit(before)
    edit.set(("folders", 1, "preset"), "vocals")
    after = edit.text()
    assert changed_lines(before, after) == ["-    preset: 4stem", "+    preset: vocals"]

    edit = ConfigEdit(before)
    index = edit.add_folder(
        {"path": "/home/me/Drums in", "preset": ["vocals", "4stem"], "existing_files": "skip"}
    )
    after = edit.text()
    assert index == 2
    assert changed_lines(before, after) == [
        "+  - path: /home/me/Drums in",
        "+    preset: [vocals, 4stem]",
        "+    existing_files: skip",
    ]
    assert _comments(after) == _comments(before)
    assert parse_config(after).folders[2].preset == ("vocals", "4stem")

    edit = ConfigEdit(before)
    edit.add_preset(
        "drums",
        {"sep_type": 44, "options": {"add_opt1": "5"}, "output_format": "flac24"},
    )
    after = edit.text()
    assert changed_lines(before, after) == [
        "+  drums:",
        "+    sep_type: 44",
        "+    options:",
        "+      add_opt1: '5'",
        "+    output_format: flac24",
    ]
    assert parse_config(after).presets["drums"].options == {"add_opt1": "5"}

    edit = ConfigEdit(before)
    edit.set(("limits", "daily_credit_budget"), 40)
    after = edit.text()
    assert changed_lines(before, after) == [
        "-  daily_credit_budget: null",
        "+  daily_credit_budget: 40",
    ]
    assert _keys(after) == _keys(before)


def test_a_folder_replaced_keeps_the_comments_of_the_keys_it_keeps() -> None:
    before = EXAMPLE.read_text(encoding="utf-8")
    config = parse_config(before)
    edit = ConfigEdit(before)
    # What the page's form sends: every key of the folder as it stands, two of them changed.
    folder = dict(yaml.safe_load(before)["folders"][0])
    folder.update({"after_success": "move", "move_to": "/home/me/Done", "residual": True})
    edit.replace_folder(0, folder)
    after = edit.text()
    assert sorted(changed_lines(before, after)) == [
        "+    after_success: move",
        "+    move_to: /home/me/Done",
        "+    residual: true",
        "-    after_success: keep",
        "-    move_to: null",
        "-    residual: null",
    ]
    changed = parse_config(after).folders[0]
    assert changed.after_success == "move" and changed.residual is True
    assert parse_config(after).folders[1] == config.folders[1]


def test_a_folder_removed_takes_its_lines_only() -> None:
    before = EXAMPLE.read_text(encoding="utf-8")
    edit = ConfigEdit(before)
    edit.remove_folder(1)
    after = edit.text()
    assert changed_lines(before, after) == [
        "-  - path: ~/Music/Exports/Full mixes",
        "-    preset: 4stem",
        "-    existing_files: process",
        "-",
    ]
    # The comment below it, which ruamel keeps with the removed folder, stays.
    assert _comments(after) == _comments(before)
    assert len(parse_config(after).folders) == 1


def test_the_last_folder_removed_leaves_an_empty_list_and_valid_yaml() -> None:
    before = (
        "folders:\n  # Ableton renders here\n  - path: /x\n    preset: v\ndaemon:\n  page_port: 0\n"
    )
    edit = ConfigEdit(before)
    edit.remove_folder(0)
    assert edit.text() == "folders: []\ndaemon:\n  page_port: 0\n"


def test_an_edit_inside_a_list_written_over_lines_rewrites_that_list_only() -> None:
    before = EXAMPLE.read_text(encoding="utf-8")
    edit = ConfigEdit(before)
    edit.set(("folders", 0, "patterns"), ["*.wav", "*.aif"])
    after = edit.text()
    changed = changed_lines(before, after)
    assert changed[-1] == "+    patterns: ['*.wav', '*.aif']"
    assert all("*." in line for line in changed), changed
    assert parse_config(after).folders[0].patterns == ("*.wav", "*.aif")


def test_edits_say_what_cannot_be_done() -> None:
    edit = ConfigEdit("presets:\n  vocals: {sep_type: 48}\nfolders: []\n", "config.yaml")
    with pytest.raises(ConfigError, match=r"presets\.vocals: exists already"):
        edit.add_preset("vocals", {"sep_type": 40})
    with pytest.raises(ConfigError, match=r"folders\[3\]: there is no such folder"):
        edit.replace_folder(3, {"path": "/x", "preset": "vocals"})
    with pytest.raises(ConfigError, match=r"config\.yaml: line 2: not valid YAML"):
        ConfigEdit("folders: [\n", "config.yaml")
    assert ConfigEdit("").text() == ""
    empty = ConfigEdit("")
    empty.add_folder({"path": "/x", "preset": "vocals"})
    assert parse_config("presets: {vocals: {sep_type: 48}}\n" + empty.text()).folders[0].path == (
        Path("/x")
    )
