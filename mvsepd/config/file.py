"""Reading the configuration file: YAML with positions, every problem with its line, the token.

Domain layer (reads the config and token files only). The pipeline, in order: read the file,
parse YAML keeping each key's line, refuse duplicate keys, validate against ``mvsepd.config.model``
(collecting every error, not the first), then run the cross-field rules. All problems end up in
one ``ConfigError`` that names the file and lists each one as ``line N: key.path: what is wrong``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from mvsepd.config.model import Config
from mvsepd.config.rules import advice, logical_problems
from mvsepd.errors import ConfigError
from mvsepd.models import Secret

KeyPath = tuple[str | int, ...]

#: Deeper than any real configuration (about 5 levels), far below Python's recursion limit.
MAX_DEPTH = 50
#: Values once YAML aliases are expanded; a real configuration has a few hundred. Aliases
#: repeated inside aliases ("billion laughs") would otherwise expand without bound.
MAX_VALUES = 100_000


@dataclass(frozen=True)
class LoadedConfig:
    """A valid configuration and where it came from."""

    config: Config
    source: Path | None
    warnings: tuple[str, ...] = ()


class _Positions:
    """Line numbers (1-based) of every key and item, by key path."""

    def __init__(self) -> None:
        self.lines: dict[KeyPath, int] = {}
        self.duplicates: list[tuple[KeyPath, int]] = []
        #: Values converted so far, each alias counted every time it is used.
        self.values = 0

    def line_for(self, path: KeyPath) -> int | None:
        for length in range(len(path), -1, -1):
            line = self.lines.get(path[:length])
            if line is not None:
                return line
        return None


class _Refused(Exception):
    """The document is too deep or too large to be a configuration (internal signal)."""


def _to_python(node: yaml.Node, path: KeyPath, positions: _Positions) -> Any:
    line = node.start_mark.line + 1
    if len(path) > MAX_DEPTH:
        raise _Refused(f"line {line}: values are nested more than {MAX_DEPTH} levels deep")
    positions.values += 1
    if positions.values > MAX_VALUES:
        raise _Refused(
            f"the file expands to more than {MAX_VALUES} values "
            "(YAML aliases repeated inside aliases?)"
        )
    positions.lines.setdefault(path, line)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _to_python(key_node, (*path, "<key>"), positions)
            if not isinstance(key, str | int | float | bool) and key is not None:
                key = str(key)
            key_path = (*path, str(key))
            if key in result:
                positions.duplicates.append((key_path, key_node.start_mark.line + 1))
            positions.lines[key_path] = key_node.start_mark.line + 1
            result[key] = _to_python(value_node, key_path, positions)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _to_python(item, (*path, index), positions) for index, item in enumerate(node.value)
        ]
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def format_key_path(path: Sequence[str | int]) -> str:
    """Return ``("folders", 2, "preset")`` as ``folders[2].preset``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def _known_keys(path: KeyPath) -> list[str]:
    """Return the keys the model accepts at ``path`` (for "unknown key" messages)."""
    model: type[BaseModel] = Config
    expect_name = False
    for part in path:
        if isinstance(part, int):
            continue
        if expect_name:
            # The key of a mapping of models (presets: {vocals: ...}) is a free name.
            expect_name = False
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        expect_name = getattr(field.annotation, "__origin__", None) is dict
        found = _model_of(field.annotation)
        if found is None:
            return []
        model = found
    return sorted(model.model_fields)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in getattr(annotation, "__args__", ()):
        found = _model_of(argument)
        if found is not None:
            return found
    return None


def _pydantic_messages(error: ValidationError) -> list[tuple[KeyPath, str]]:
    messages: list[tuple[KeyPath, str]] = []
    for item in error.errors(include_url=False):
        location = tuple(part for part in item["loc"] if not _is_union_tag(part))
        kind = item["type"]
        if kind == "extra_forbidden":
            parent = location[:-1]
            known = _known_keys(parent)
            hint = f"; known keys: {', '.join(known)}" if known else ""
            messages.append((location, f"unknown key{hint}"))
        elif kind == "missing":
            messages.append((location, "required, but missing"))
        else:
            text = str(item["msg"])
            text = text.removeprefix("Value error, ")
            value = item.get("input")
            if kind not in ("value_error",) and not isinstance(value, dict | list):
                text = f"{text} (got {value!r})"
            messages.append((location, text))
    return _dedupe(messages)


def _is_union_tag(part: str | int) -> bool:
    # pydantic adds the union member it tried ("int", "literal['auto']") to the location.
    return isinstance(part, str) and (
        part in ("int", "str", "float", "bool") or part.startswith(("literal[", "function-"))
    )


def _dedupe(messages: list[tuple[KeyPath, str]]) -> list[tuple[KeyPath, str]]:
    # A union field reports one error per member; keep one line per key path.
    seen: dict[KeyPath, str] = {}
    for path, text in messages:
        if path in seen:
            seen[path] = f"{seen[path]}; or {text}" if text not in seen[path] else seen[path]
        else:
            seen[path] = text
    return list(seen.items())


def _raw_preset_references(data: dict[Any, Any]) -> list[tuple[KeyPath, str]]:
    presets = data.get("presets", {})
    folders = data.get("folders")
    if presets is None:
        presets = {}
    if not isinstance(presets, dict) or not isinstance(folders, list):
        return []
    known = ", ".join(sorted(str(name) for name in presets)) or "none defined"
    problems: list[tuple[KeyPath, str]] = []
    for index, folder in enumerate(folders):
        if (
            isinstance(folder, dict)
            and isinstance(folder.get("preset"), str)
            and folder["preset"] not in presets
        ):
            problems.append(
                (
                    ("folders", index, "preset"),
                    f'no preset named "{folder["preset"]}"; known: {known}',
                )
            )
    return problems


def _yaml_problem(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    problem = getattr(error, "problem", None) or str(error)
    return f"{where}not valid YAML: {problem}"


def read_yaml_mapping(text: str, source: str) -> dict[str, Any]:
    """Read a small YAML mapping (a sidecar file) with the configuration's hardening: no unknown
    tags, bounded depth and alias expansion, no duplicate keys. Raise ConfigError saying why."""
    positions = _Positions()
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = {} if node is None else _to_python(node, (), positions)
    except yaml.YAMLError as error:
        raise ConfigError(source, [_yaml_problem(error)]) from None
    except RecursionError:
        raise ConfigError(
            source, [f"values are nested more than {MAX_DEPTH} levels deep"]
        ) from None
    except _Refused as refused:
        raise ConfigError(source, [str(refused)]) from None
    problems = [
        f"line {line}: {format_key_path(path)}: duplicate key"
        for path, line in positions.duplicates
    ]
    if not isinstance(data, dict):
        problems.append("the file must be a mapping (key: value) at top")
    if problems:
        raise ConfigError(source, problems)
    return data


def parse_config(text: str, source: str = "<config>") -> Config:
    """Given YAML text, return the Config. Raise ConfigError listing every problem."""
    positions = _Positions()
    # Every failure of the YAML reader becomes a ConfigError: an exception escaping here would
    # end ``mvsepd run`` with a traceback and a status a service manager restarts on.
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = {} if node is None else _to_python(node, (), positions)
    except yaml.YAMLError as error:
        raise ConfigError(source, [_yaml_problem(error)]) from None
    except RecursionError:  # the reader itself recursed too deep
        raise ConfigError(
            source, [f"values are nested more than {MAX_DEPTH} levels deep"]
        ) from None
    except _Refused as refused:
        raise ConfigError(source, [str(refused)]) from None
    problems: list[str] = []
    for path, line in positions.duplicates:
        problems.append(f"line {line}: {format_key_path(path)}: duplicate key")
    if not isinstance(data, dict):
        raise ConfigError(source, [*problems, "the file must be a mapping (key: value) at top"])

    def located(path: KeyPath, text: str) -> str:
        line = positions.line_for(tuple(str(p) if not isinstance(p, int) else p for p in path))
        prefix = f"line {line}: " if line else ""
        return f"{prefix}{format_key_path(path)}: {text}"

    try:
        config = Config.model_validate(data)
    except ValidationError as error:
        problems.extend(located(path, text) for path, text in _pydantic_messages(error))
        # The cross-field rules need a whole model; the most common slip, a folder naming a
        # preset that does not exist, is still checked on the raw data so it is not hidden.
        problems.extend(located(path, text) for path, text in _raw_preset_references(data))
        raise ConfigError(source, problems) from None
    problems.extend(located(path, text) for path, text in logical_problems(config))
    if problems:
        raise ConfigError(source, problems)
    return config


def load_config(path: Path) -> LoadedConfig:
    """Read and validate the configuration file at ``path``. Raise ConfigError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            str(path), ["no such file; `mvsepd config init` writes a starter config there"]
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(str(path), [f"cannot be read: {error}"]) from None
    config = parse_config(text, str(path))
    warnings: list[str] = advice(config)
    if config.account.token is not None and _readable_by_others(path):
        warnings.append(
            f"{path} holds the API token and other users can read it; "
            f"run `chmod 600 {path}` or move the token to account.token_file"
        )
    return LoadedConfig(config=config, source=path, warnings=tuple(warnings))


def _readable_by_others(path: Path) -> bool:
    if os.name == "nt":
        return False
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IRGRP | stat.S_IROTH))


def resolve_token(
    config: Config,
    *,
    default_token_file: Path,
    environ: dict[str, str] | None = None,
    source: str = "config",
) -> Secret:
    """Return the API token from, in order: ``account.token``, ``account.token_file``, the
    environment variable ``account.token_env``, the token file ``mvsepd login`` writes.

    Raise ConfigError saying where a token was looked for when none is found or it is empty.
    """
    environment = os.environ if environ is None else environ
    account = config.account
    if account.token is not None:
        return _checked(account.token, "account.token", source)
    if account.token_file is not None:
        return _checked(
            _read_token_file(account.token_file, source), str(account.token_file), source
        )
    value = environment.get(account.token_env, "").strip()
    if value:
        return _checked(Secret(value), f"${account.token_env}", source)
    if default_token_file.is_file():
        return _checked(
            _read_token_file(default_token_file, source), str(default_token_file), source
        )
    raise ConfigError(
        source,
        [
            f"no MVSEP API token: set ${account.token_env}, set account.token_file, "
            f"or run `mvsepd login` (which writes {default_token_file})"
        ],
    )


def _read_token_file(path: Path, source: str) -> Secret:
    try:
        return Secret(path.expanduser().read_text(encoding="utf-8").strip())
    except OSError as error:
        raise ConfigError(
            source, [f"account.token_file: {path} cannot be read: {error.strerror}"]
        ) from None


def _checked(token: Secret, where: str, source: str) -> Secret:
    if not token:
        raise ConfigError(source, [f"{where}: the API token is empty"])
    return token


def write_private_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable only by the user (0600), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    descriptor = os.open(temporary, flags, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
