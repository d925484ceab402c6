"""Configuration: the documented shape, every problem reported at once with line and key path."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from mvsepd.config.file import load_config, parse_config, resolve_token, write_private_file
from mvsepd.config.model import Config, json_schema
from mvsepd.errors import ConfigError
from mvsepd.models import OutputFormat

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.yaml"


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "test.yaml")
    return list(caught.value.problems)


def test_minimal_config(tmp_path: Path) -> None:
    config = parse_config(
        f"""
presets:
  vocals: {{sep_type: 48, options: {{add_opt1: "4"}}, output_format: wav16}}
folders:
  - {{path: {tmp_path}/Vocals, preset: vocals}}
"""
    )
    assert config.account.server == "mvsep.com"
    assert config.presets["vocals"].output_format is OutputFormat.WAV16
    folder = config.folders[0]
    assert folder.effective_stability_seconds == 5.0
    assert folder.output_root() == tmp_path / "Vocals stems"


def test_output_format_by_name_number_and_label() -> None:
    for given, expected in [("flac24", 5), (0, 0), ("wav (uncompressed, 32 bit)", 4), ("3", 3)]:
        config = parse_config(f"presets: {{p: {{sep_type: 1, output_format: {given!r}}}}}")
        assert int(config.presets["p"].output_format) == expected


def test_every_problem_is_reported_with_line_and_key_path(tmp_path: Path) -> None:
    problems = problems_of(
        f"""account:
  server: ftp://example
  concurency: 2
presets:
  vocals: {{sep_type: 48, output_format: ogg}}
folders:
  - path: {tmp_path}/a
    preset: vocal
    watch: sometimes
"""
    )
    text = "\n".join(problems)
    assert "line 2: account.server: unknown server 'ftp://example'" in text
    assert (
        "line 3: account.concurency: unknown key; did you mean 'concurrency'? known keys: "
        "concurrency, max_upload_mb, plans, server, token, token_env, token_file" in text
    )
    assert "line 5: presets.vocals.output_format: unknown output format 'ogg'" in text
    assert "line 9: folders[0].watch: 'sometimes' is not accepted; accepted: native, poll" in text
    assert (
        "line 8: folders[0].preset: no preset or chain named \"vocal\"; did you mean 'vocals'? "
        "known: vocals" in text
    )
    # In the order of the file.
    assert [int(problem.split(":")[0].removeprefix("line ")) for problem in problems] == [
        2,
        3,
        5,
        8,
        9,
    ]


def test_cross_field_rules(tmp_path: Path) -> None:
    problems = problems_of(
        f"""presets:
  p: {{sep_type: 1}}
folders:
  - {{path: {tmp_path}/hot, preset: p}}
  - {{path: {tmp_path}/hot/inner, preset: p}}
  - {{path: {tmp_path}/hot, preset: p}}
  - path: {tmp_path}/other
    preset: p
    output: "{tmp_path}/hot/stems/{{track}}/{{stem}}.{{ext}}"
  - path: {tmp_path}/third
    preset: p
    after_success: move
daemon:
  status_host: 0.0.0.0
"""
    )
    text = "\n".join(problems)
    assert "folders[1].path: lies inside folders[0]" in text
    assert "folders[2].path: the same folder as folders[0]" in text
    assert "folders[3].output: stems would be written to" in text
    assert "folders[4].move_to: after_success: move needs move_to" in text
    assert "daemon.status_host: 0.0.0.0 is not a loopback address" in text


def test_invalid_yaml_names_the_line() -> None:
    problems = problems_of("presets:\n  p: {sep_type: 1\nfolders: []\n")
    assert len(problems) == 1
    assert problems[0].startswith("line ") and "not valid YAML" in problems[0]


def test_duplicate_keys_are_refused() -> None:
    problems = problems_of("presets:\n  p: {sep_type: 1}\n  p: {sep_type: 2}\n")
    assert problems == ["line 3: presets.p: duplicate key; keep one of them"]
    # Said with the file's other problems, not before them.
    problems = problems_of("presets:\n  p: {sep_type: 1}\n  p: {sep_type: 2}\nfolders: 3\n")
    assert problems[0] == "line 3: presets.p: duplicate key; keep one of them"
    assert problems[1].startswith("line 4: folders: 3 is not accepted; accepted: a list")


def test_wrong_types_are_named() -> None:
    problems = problems_of("folders: {path: x}\n")
    assert any(problem.startswith("line 1: folders:") for problem in problems)


def test_missing_config_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="mvsepd config init"):
        load_config(tmp_path / "absent.yaml")


def test_inline_token_in_a_world_readable_file_warns(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("account: {token: abc}\n")
    path.chmod(0o644)
    loaded = load_config(path)
    assert loaded.warnings and "chmod 600" in loaded.warnings[0]
    assert "abc" not in repr(loaded.config) and "abc" not in str(loaded.config)
    path.chmod(0o600)
    assert load_config(path).warnings == ()


def test_token_sources_in_order(tmp_path: Path) -> None:
    default_file = tmp_path / "token"
    config = parse_config("account: {token_env: MY_TOKEN}\n")
    with pytest.raises(ConfigError, match=r"\$MY_TOKEN"):
        resolve_token(config, default_token_file=default_file, environ={})
    write_private_file(default_file, "fromfile\n")
    assert resolve_token(config, default_token_file=default_file, environ={}).reveal() == "fromfile"
    token = resolve_token(config, default_token_file=default_file, environ={"MY_TOKEN": " env "})
    assert token.reveal() == "env"
    explicit = tmp_path / "explicit"
    explicit.write_text("explicit")
    config = parse_config(f"account: {{token_file: {explicit}}}\n")
    assert resolve_token(config, default_token_file=default_file, environ={}).reveal() == "explicit"
    config = parse_config("account: {token: inline}\n")
    assert resolve_token(config, default_token_file=default_file, environ={}).reveal() == "inline"
    with pytest.raises(ConfigError, match="empty"):
        resolve_token(parse_config("account: {token: ''}\n"), default_token_file=default_file)


def test_private_files_are_0600(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "token"
    write_private_file(path, "x")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_json_schema_covers_every_section() -> None:
    schema = json_schema()
    assert set(schema["properties"]) == set(Config.model_fields)
    assert "FolderConfig" in schema["$defs"]


def test_the_example_config_is_valid_and_documents_every_option() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    parse_config(text, str(EXAMPLE))
    schema = json_schema()
    for definition in schema["$defs"].values():
        for option in definition.get("properties", {}):
            assert f"{option}:" in text, f"config.example.yaml does not mention {option}"


def test_tags_copy_by_default_and_a_folder_may_write_none(tmp_path: Path) -> None:
    config = parse_config(
        f"""presets:
  p: {{sep_type: 1}}
folders:
  - {{path: {tmp_path}/a, preset: p}}
  - {{path: {tmp_path}/b, preset: p, tags: none}}
  - {{path: {tmp_path}/c, preset: p, tags: off}}
"""
    )
    assert [config.folder_settings(folder).tags for folder in config.folders] == [
        "copy",
        "none",
        "none",  # YAML reads a bare off as false: taken as the word written
    ]
    (problem,) = problems_of(
        f"presets: {{p: {{sep_type: 1}}}}\nfolders:\n  - {{path: {tmp_path}/a, preset: p, "
        "tags: keep}"
    )
    assert problem == "line 3: folders[0].tags: 'keep' is not accepted; accepted: copy, none"


YAML_SLIPS = [
    # (what the producer did, the file, line, column, our words)
    (
        "a key indented less than the one above it",
        "account:\n    server: mvsep.com\n  concurrency: 2\n",
        3,
        3,
        "this line is indented differently from the keys above it",
    ),
    (
        "a key indented deeper than the one above it",
        "account:\n  server: mvsep.com\n   concurrency: 2\n",
        3,
        15,
        "a ':' where a value goes on: this line is indented deeper than the key above it",
    ),
    (
        "a list item out of line",
        "folders:\n  - path: a\n    preset: p\n - path: b\n",
        4,
        2,
        "this list item (- ...) is not lined up with the lines above it",
    ),
    (
        "an item's key under the dash",
        "folders:\n  - path: a\n  preset: p\n",
        3,
        3,
        "this key is not lined up with the list item above it",
    ),
    (
        "a folder appended after a section of keys",
        "folders:\n  - path: a\n    preset: p\ndaemon:\n  poll_max_seconds: 30\n"
        "  - path: b\n    preset: p\n",
        6,
        3,
        "a list item (- ...) after the keys that start on line 5; an item goes under its list",
    ),
    (
        "an unclosed quote",
        'presets:\n  p: {sep_type: "Demucs}\n',
        3,
        1,
        "the quote opened on line 2 is never closed",
    ),
    (
        "a Windows path in double quotes",
        'folders:\n  - path: "C:\\Music"\n',
        2,
        15,
        "a backslash inside double quotes starts an escape",
    ),
    (
        "text after a quoted value",
        'presets:\n  p: {sep_type: 48}\naccount:\n  server: "de" x\n',
        4,
        16,
        "text after a quoted value; put the whole value inside the quotes",
    ),
]


@pytest.mark.parametrize(
    ("slip", "text", "line", "column", "words"), YAML_SLIPS, ids=[row[0] for row in YAML_SLIPS]
)
def test_yaml_slips_are_said_in_our_words_with_line_and_column(
    slip: str, text: str, line: int, column: int, words: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "config.yaml")
    (problem,) = caught.value.items
    assert (problem.line, problem.column) == (line, column), slip
    assert problem.text.startswith("not valid YAML: " + words), problem.text
    assert "<block" not in problem.text and "expected" not in problem.text
    assert str(caught.value).splitlines()[1].startswith(f"config.yaml:{line}:{column}: ")


def test_problems_elsewhere_do_not_hide_the_rules_across_fields(tmp_path: Path) -> None:
    # The preset, the first folder and the third have problems of their own; the rules across
    # fields still run on everything else in the same pass, name the folders by their place
    # in the file, and never call the preset missing.
    problems = problems_of(
        f"""presets:
  vocals: {{sep_type: 48, output_format: ogg}}
folders:
  - {{path: {tmp_path}/one}}
  - {{path: {tmp_path}/two, preset: vocals}}
  - {{path: {tmp_path}/two/inner, preset: vocals, watch: sometimes}}
  - {{path: {tmp_path}/three, preset: vocals}}
  - {{path: {tmp_path}/three/inner, preset: vocalz}}
"""
    )
    assert [problem.split(": ", 2)[:2] for problem in problems] == [
        ["line 2", "presets.vocals.output_format"],
        ["line 4", "folders[0].preset"],
        ["line 6", "folders[2].watch"],
        ["line 6", "folders[2].path"],
        ["line 6", "folders[2].output"],
        ["line 8", "folders[4].preset"],
        ["line 8", "folders[4].path"],
        ["line 8", "folders[4].output"],
    ]
    assert problems[1] == (
        "line 4: folders[0].preset: required, but missing; a preset or chain for files dropped "
        "here, or a list of them (one job each)"
    )
    assert problems[3] == (
        f"line 6: folders[2].path: lies inside folders[1] ({tmp_path}/two); hot folders may "
        "not nest"
    )
    assert problems[5] == (
        'line 8: folders[4].preset: no preset or chain named "vocalz"; did you mean '
        "'vocals'? known: vocals"
    )
    assert not any('named "vocals"' in problem for problem in problems)


def test_a_long_list_of_accepted_values_never_makes_a_long_line() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("account:\n  server: " + "x" * 50 + "\n" + "presets: {p: {sep_type: 1}}\n")
    report = caught.value.report()
    assert all(len(line) <= 100 for line in report), report
    assert len(report) > 2  # the long problem went on to a second, indented line
    assert report[2].startswith("    ")


@pytest.mark.parametrize("value", ["12345678901234567890", "[a1b2c3d4e5, f6]", "{k: v9x8}"])
def test_a_token_yaml_reads_as_no_text_is_refused_without_repeating_it(value: str) -> None:
    text = f"account:\n  token: {value}\n"
    with pytest.raises(ConfigError) as raised:
        parse_config(text, "config.yaml")
    message = str(raised.value)
    assert "config.yaml:2: account.token:" in message
    assert "text (put it in quotes)" in message
    for fragment in ("1234567890", "a1b2c3d4e5", "v9x8"):
        assert fragment not in message
