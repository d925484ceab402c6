"""Writing the configuration file: the starter, and values set in a user's file without
disturbing it.

Domain layer, and the only module that imports ruamel.yaml. A value is set through ruamel's
round trip, which keeps the user's comments, key order, quoting and indentation; a flow list
written over several lines (``patterns: [..., \\n ...]``) comes back on one line, which is
ruamel's limit, not a change of value. The file is replaced atomically with its mode kept, and
through a symbolic link the file it points at is the one written.
"""

from __future__ import annotations

import io
import json
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError
from ruamel.yaml.representer import Representer
from ruamel.yaml.util import load_yaml_guess_indent

from mvsepd.errors import ConfigError

KeyPath = tuple[str, ...]

#: The hot folder a starter configuration names.
STARTER_FOLDER = Path("~/Music/mvsepd/Vocals")

_STARTER = """# mvsepd configuration (written by `mvsepd {writer}`).
# Every option is described in config.example.yaml in mvsepd's source, and
# `mvsepd config schema` prints a JSON Schema your editor can use.
# `mvsepd config check` validates this file; `mvsepd run` starts the daemon.

account:
{credential_lines}
  # mvsep.com, a regional host (de, de2, hk, sg), or a URL such as the emulator's
  server: {server}
  concurrency: auto          # free plan: 1 job at a time

presets:
  vocals:
    sep_type: 48             # MelBand Roformer (vocals, instrumental); see `mvsepd algorithms`
    options: {{}}
    output_format: wav16     # mp3, wav16, flac16, m4a, wav32, flac24

folders:
  - path: {folder}
    preset: vocals
    # Files already there the first time: skip them (no credits spent) or process them.
    existing_files: skip

limits:
  daily_credit_budget: null  # e.g. 100 to stop submitting after 100 credits a day
"""
_PLAIN = re.compile(r"[A-Za-z0-9_~/.][A-Za-z0-9_~/.:@+-]*")


def _scalar(text: str) -> str:
    """``text`` as a YAML scalar: plain when that reads back the same, else double-quoted."""
    if _PLAIN.fullmatch(text) and not text.endswith(":") and text.lower() not in _YAML_WORDS:
        return text
    return json.dumps(text, ensure_ascii=False)


_YAML_WORDS = frozenset({"null", "true", "false", "yes", "no", "on", "off", "~"})


def starter(
    *,
    folder: str,
    server: str = "mvsep.com",
    token_file: Path | None = None,
    writer: str = "config init",
) -> str:
    """The text of a starter configuration: one preset, one folder.

    With ``token_file`` (the file ``mvsepd login`` stored the token in) the account reads the
    token from it; otherwise from ``$MVSEP_API_TOKEN``.
    """
    if token_file is not None:
        credential_lines = (
            "  # The API token, as `mvsepd login` stored it (readable only by you); or use\n"
            "  # token_env: MVSEP_API_TOKEN to read it from the environment instead.\n"
            f"  token_file: {_scalar(str(token_file))}"
        )
    else:
        credential_lines = (
            "  # The API token: set MVSEP_API_TOKEN, point token_file at a file, or run "
            "`mvsepd login`.\n  token_env: MVSEP_API_TOKEN"
        )
    return _STARTER.format(
        writer=writer,
        credential_lines=credential_lines,
        server=_scalar(server),
        folder=_scalar(folder),
    )


def create(path: Path, text: str) -> None:
    """Write a new configuration file, readable only by the user (it may name the token's file
    or, later, hold the token). Raise ConfigError if it exists or cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(str(path), ["exists already; not overwriting it"]) from None
    except OSError as error:
        raise ConfigError(str(path), [f"cannot be written: {error.strerror or error}"]) from None
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


def set_values(path: Path, values: Mapping[KeyPath, str | int | float | bool | None]) -> None:
    """Given the configuration file and ``{key path: value}``, write each value into the file,
    creating the sections it needs; everything else stays as the user wrote it.

    Raise ConfigError naming the file when it is not valid YAML, or a key path crosses
    something that is not a mapping (``account: 3``), or the file cannot be written.
    """
    target = path.resolve()
    try:
        text = target.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(str(path), [f"cannot be read: {error}"]) from None
    yaml = _round_trip(text)
    try:
        document = yaml.load(text)
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ConfigError(
            str(path), [f"{where}not valid YAML, so it was left as it is; fix it first"]
        ) from None
    if document is None:
        document = CommentedMap()
    for key_path, value in values.items():
        _set(document, key_path, value, str(path))
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    _replace(target, buffer.getvalue(), str(path))


def write_text(path: Path, text: str) -> None:
    """Replace the configuration file's whole text, atomically, keeping its mode (through a
    symbolic link, the file it points at). Raise ConfigError when it cannot be written."""
    _replace(path.resolve(), text, str(path))


def _round_trip(text: str) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    # Long values stay on their line: ruamel would otherwise fold them at 80 columns.
    yaml.width = 4096
    # ruamel writes an empty value for None; the user's file says null.
    yaml.representer.add_representer(type(None), _represent_null)
    try:
        _, sequence_indent, dash_offset = load_yaml_guess_indent(text)
    except YAMLError:
        sequence_indent, dash_offset = 4, 2
    found = [len(match.group(1)) for match in re.finditer(r"^( +)[^\s#-]", text, re.MULTILINE)]
    yaml.indent(
        mapping=min(found, default=2),
        sequence=sequence_indent or 4,
        offset=dash_offset if dash_offset is not None else 2,
    )
    return yaml


def _represent_null(representer: Representer, _value: None) -> object:
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")


def _set(document: object, key_path: KeyPath, value: object, source: str) -> None:
    if not isinstance(document, dict):
        raise ConfigError(source, ["the file must be a mapping (key: value) at top"])
    node: dict[str, object] = document
    for depth, key in enumerate(key_path[:-1]):
        child = node.get(key)
        if child is None:
            child = CommentedMap()
            node[key] = child
        if not isinstance(child, dict):
            where = ".".join(key_path[: depth + 1])
            raise ConfigError(source, [f"{where}: must be a section (key: value) to hold {key}"])
        node = child
    node[key_path[-1]] = value


def _replace(target: Path, text: str, source: str) -> None:
    temporary = target.with_name(f".{target.name}.tmp")
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise ConfigError(source, [f"cannot be written: {error.strerror or error}"]) from None
