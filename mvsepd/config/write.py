"""Writing the configuration file: the starter, and edits of a user's file that disturb
nothing else (a value set, a folder added, changed or removed, a preset added).

Config layer; with ``patching`` the only importers of ruamel.yaml. An edit goes through
ruamel's round trip, which keeps the user's comments, key order, quoting and indentation, and
the result is carried back into the user's text as the smallest change (``patching``), so a
flow list written over several lines stays as written unless the edit changes it. The file
is replaced atomically with its mode kept, and through a symbolic link the file it points at
is the one written.
"""

from __future__ import annotations

import io
import json
import os
import re
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.representer import Representer
from ruamel.yaml.util import load_yaml_guess_indent

from mvsepd.config.patching import minimal_change
from mvsepd.config.syntax import format_key_path
from mvsepd.errors import ConfigError

KeyPath = tuple[str, ...]
#: A key path that may go through lists: ``("folders", 0, "preset")``.
EditPath = Sequence[str | int]

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
    edit = ConfigEdit(text, str(path))
    for key_path, value in values.items():
        edit.set(key_path, value)
    _replace(target, edit.text(), str(path))


def write_text(path: Path, text: str) -> None:
    """Replace the configuration file with ``text`` atomically, keeping its mode (through a
    symbolic link, the file it points at). Raise ConfigError when it cannot be written."""
    _replace(path.resolve(), text, str(path))


class ConfigEdit:
    """A configuration text changed in place: each edit keeps the user's comments, key order,
    quoting and indentation, and ``text`` gives the result as the smallest change of the text
    that was read (``mvsepd.config.patching``), so a diff shows only what was edited.

    Raise ConfigError naming ``source`` when the text is not valid YAML, or an edit crosses
    something of the wrong shape (``folders: 3``).
    """

    def __init__(self, text: str, source: str = "<config>") -> None:
        self._original = text
        self._source = source
        self._yaml = _round_trip(text)
        try:
            document = self._yaml.load(text)
        except YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f"line {mark.line + 1}: " if mark is not None else ""
            raise ConfigError(
                source, [f"{where}not valid YAML, so it was left as it is; fix it first"]
            ) from None
        if document is None:
            document = CommentedMap()
        if not isinstance(document, CommentedMap):
            raise ConfigError(source, ["the file must be a mapping (key: value) at top"])
        self._document = document
        self._normalised = self._dump()

    def set(self, key_path: EditPath, value: object) -> None:
        """Set the value at ``key_path`` (``("folders", 0, "preset")``), making the sections
        on the way; an equal value already there is left as written."""
        parent = self._parent(key_path, create=True)
        key = key_path[-1]
        if isinstance(parent, CommentedSeq):
            if not isinstance(key, int) or not 0 <= key < len(parent):
                raise self._problem(key_path, "there is no such list item")
            if not _same(parent[key], value):
                parent[key] = _node(value)
            return
        if not isinstance(key, str):
            raise self._problem(key_path, "a key of a section is a name")
        if key not in parent or not _same(parent[key], value):
            parent[key] = _node(value)

    def remove(self, key_path: EditPath) -> None:
        """Remove the key (or list item) at ``key_path``; nothing when there is none."""
        parent = self._parent(key_path, create=False)
        key = key_path[-1]
        if isinstance(parent, CommentedSeq):
            if isinstance(key, int) and 0 <= key < len(parent):
                _drop_item(parent, key)
        elif parent is not None and key in parent:
            _drop_key(parent, key)

    def add_folder(self, folder: Mapping[str, object]) -> int:
        """Append a hot folder (``{"path": ..., "preset": ...}``); return its index."""
        folders = self._list("folders")
        folders.append(_node(dict(folder)))
        return len(folders) - 1

    def replace_folder(self, index: int, folder: Mapping[str, object]) -> None:
        """Give the folder at ``index`` exactly the keys of ``folder``: keys it keeps stay
        where they are with their comments, keys it loses go, new keys come last."""
        current = self._folder(index)
        for key in [key for key in current if key not in folder]:
            _drop_key(current, key)
        for key, value in folder.items():
            if key not in current or not _same(current[key], value):
                current[key] = _node(value)

    def remove_folder(self, index: int) -> None:
        """Remove the folder at ``index``."""
        self._folder(index)
        folders = self._list("folders")
        _drop_item(folders, index)
        slots = self._document.ca.items.get("folders")
        if not folders and slots and len(slots) > 3:
            # The comment above the list was the removed folder's; with it ruamel would write
            # the emptied list (and the key after it) as invalid YAML.
            slots[3] = None

    def add_preset(self, name: str, preset: Mapping[str, object]) -> None:
        """Add a preset named ``name``; ConfigError when there is one by that name."""
        presets = self._parent(("presets", name), create=True)
        if not isinstance(presets, CommentedMap):
            raise self._problem(("presets",), "must be a section (name: preset)")
        if name in presets:
            raise self._problem(("presets", name), "exists already; choose another name")
        presets[name] = _node(dict(preset))

    def text(self) -> str:
        """The edited text: the text read, changed only where an edit changed it. ConfigError
        when ruamel cannot write the change as valid YAML (nothing is written then)."""
        text = minimal_change(self._original, self._normalised, self._dump())
        try:
            YAML(typ="safe", pure=True).load(text)
        except YAMLError:
            raise ConfigError(
                self._source,
                ["this change cannot be written without breaking the file; make it in the file"],
            ) from None
        return text

    def _dump(self) -> str:
        buffer = io.StringIO()
        self._yaml.dump(self._document, buffer)
        return buffer.getvalue()

    def _folder(self, index: int) -> CommentedMap:
        folders = self._list("folders")
        if not 0 <= index < len(folders):
            raise self._problem(("folders", index), "there is no such folder (reload the page)")
        folder = folders[index]
        if not isinstance(folder, CommentedMap):
            raise self._problem(("folders", index), "must be a section (path: ..., preset: ...)")
        return folder

    def _list(self, key: str) -> CommentedSeq:
        value = self._document.get(key)
        if value is None:
            value = CommentedSeq()
            self._document[key] = value
        if not isinstance(value, CommentedSeq):
            raise self._problem((key,), "must be a list")
        return value

    def _parent(self, key_path: EditPath, *, create: bool) -> Any:
        if not key_path:
            raise self._problem(key_path, "name a key")
        node: Any = self._document
        for depth, key in enumerate(key_path[:-1]):
            if isinstance(node, CommentedSeq) and isinstance(key, int) and 0 <= key < len(node):
                node = node[key]
                continue
            if not isinstance(node, CommentedMap) or isinstance(key, int):
                raise self._problem(key_path[: depth + 1], "there is no such list item")
            child = node.get(key)
            if child is None:
                if not create:
                    return None
                child = CommentedMap()
                node[key] = child
            if not isinstance(child, CommentedMap | CommentedSeq):
                raise self._problem(
                    key_path[: depth + 1], f"must be a section (key: value) to hold {key_path[-1]}"
                )
            node = child
        return node

    def _problem(self, key_path: EditPath, words: str) -> ConfigError:
        return ConfigError(self._source, [f"{format_key_path(key_path)}: {words}"])


def _drop_key(mapping: CommentedMap, key: object) -> None:
    """Remove ``key`` and the comments above it; the comments below it (which ruamel keeps
    with it, but which describe the next key) stay, handed to the key before it."""
    keys = list(mapping)
    position = keys.index(key)
    if position > 0:
        _hand_over(mapping, key, mapping, keys[position - 1])
    del mapping[key]


def _drop_item(sequence: CommentedSeq, index: int) -> None:
    """Remove a list item and the comments above it; those below it (kept by ruamel with its
    last key, but describing the next item or section) go to the item before it."""
    item = sequence[index]
    if index > 0 and isinstance(item, CommentedMap) and item:
        before = sequence[index - 1]
        if isinstance(before, CommentedMap) and before:
            _hand_over(item, list(item)[-1], before, list(before)[-1])
    del sequence[index]


def _hand_over(source: CommentedMap, key: object, target: CommentedMap, target_key: object) -> None:
    """Give the comment lines after ``source[key]``'s line to ``target[target_key]``, in
    place of the lines after its own (which described what is being removed)."""
    token = _comment_after(source, key)
    if token is None or "\n" not in token.value:
        return
    below = token.value.split("\n", 1)[1]
    own = _comment_after(target, target_key)
    if own is not None and "\n" in own.value:
        own.value = own.value.split("\n", 1)[0] + "\n" + below
        return
    token.value = "\n" + below
    slots = target.ca.items.setdefault(target_key, [None, None, None, None])
    slots[2] = token


def _comment_after(mapping: CommentedMap, key: object) -> Any:
    slots = mapping.ca.items.get(key)
    return slots[2] if slots and len(slots) > 2 else None


def _same(current: object, wanted: object) -> bool:
    """True when the value in the file already is ``wanted`` (ruamel's strings, lists and
    maps compare as plain ones; true is not 1, "30" is not 30)."""
    return _plain(current) == _plain(wanted)


def _plain(value: object) -> object:
    if isinstance(value, bool) or value is None:
        return (type(value), value)
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, int | float):
        return ("number", value)
    return ("text", str(value))


def _node(value: object) -> object:
    """A value as ruamel writes it: sections as blocks, lists of plain values on one line."""
    if isinstance(value, Mapping):
        mapping = CommentedMap()
        for key, item in value.items():
            mapping[str(key)] = _node(item)
        return mapping
    if isinstance(value, list | tuple):
        sequence = CommentedSeq(_node(item) for item in value)
        if all(not isinstance(item, Mapping | list | tuple) for item in value):
            sequence.fa.set_flow_style()
        return sequence
    if isinstance(value, Path):
        return str(value)
    return value


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
