"""Reading the configuration file: every problem at once, each with its line; the token.

Domain layer (reads the config and token files only). The pipeline, in order: read the file,
parse YAML keeping each key's line (``syntax``: a syntax error stops there, in words), refuse
duplicate keys, validate against ``model`` (``validation``: every error, not the first,
and the part that can be read despite them), then run the cross-field rules on that part. All
problems end up in one ``ConfigError`` that names the file and lists each one as
``file:line: key.path: what is wrong; what would be accepted``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mvsepd.config.model import Config
from mvsepd.config.rules import advice, logical_problems
from mvsepd.config.syntax import Positions, duplicate_problems, format_key_path, read_document
from mvsepd.config.syntax import read_yaml_mapping as read_yaml_mapping
from mvsepd.config.validation import ReadablePart, readable_part, schema_problems
from mvsepd.errors import ConfigError, ConfigProblem
from mvsepd.models import Secret
from mvsepd.suggest import did_you_mean

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class LoadedConfig:
    """A valid configuration and where it came from."""

    config: Config
    source: Path | None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Inspection:
    """Everything reading a configuration found: every problem (with its line), the valid
    configuration when there is none, the part that can be read either way (for the checks
    that need a model, such as the catalog's), and the line of each key."""

    problems: tuple[ConfigProblem, ...]
    config: Config | None
    readable: ReadablePart | None
    positions: Positions

    def problem(self, path: Sequence[str | int], text: str) -> ConfigProblem:
        """A problem at ``path`` in the file: ``key.path: text``, with the key's line."""
        return ConfigProblem(f"{format_key_path(path)}: {text}", self.positions.line_for(path))


def inspect_config(text: str, source: str = "<config>") -> Inspection:
    """Given YAML text, return every problem at once (see ``Inspection``).

    A syntax error stops there (ConfigError, with its line and column): nothing after it
    could be read. Otherwise the schema's problems, the rules across fields and every
    folder's preset reference are all found in this one pass, each with its line.
    """
    data, positions = read_document(text, source)
    if data is None:
        data = {}
    problems: list[ConfigProblem] = duplicate_problems(positions)
    if not isinstance(data, dict):
        raise ConfigError(source, [*problems, "the file must be a mapping (key: value) at top"])

    def located(path: KeyPath, words: str) -> ConfigProblem:
        return ConfigProblem(f"{format_key_path(path)}: {words}", positions.line_for(path))

    readable: ReadablePart | None
    try:
        valid = Config.model_validate(data)
    except ValidationError as error:
        problems.extend(located(path, words) for path, words in schema_problems(error))
        readable = readable_part(data, error)
    else:
        readable = ReadablePart(valid, tuple(range(len(valid.folders))), frozenset())
    if readable is not None:
        rules = logical_problems(
            readable.config,
            folder_numbers=readable.folder_numbers,
            unreadable=readable.unreadable,
        )
        problems.extend(located(path, words) for path, words in rules)
        kept = set(readable.folder_numbers)
        problems.extend(
            located(path, words)
            for path, words in _raw_preset_references(data)
            if path[1] not in kept
        )
    config = readable.config if readable is not None and not problems else None
    # In the order of the file, as a reader goes through it to fix them.
    problems.sort(key=lambda problem: problem.line or 0)
    return Inspection(tuple(problems), config, readable, positions)


def _raw_preset_references(data: dict[Any, Any]) -> list[tuple[KeyPath, str]]:
    """A folder set aside for a problem of its own may name a preset that does not exist
    either: said now, not after the first problem is fixed."""
    presets = data.get("presets") or {}
    folders = data.get("folders")
    if not isinstance(presets, dict) or not isinstance(folders, list):
        return []
    names = [str(name) for name in presets] + [str(name) for name in data.get("chains") or {}]
    known = ", ".join(sorted(names)) or "none defined"
    problems: list[tuple[KeyPath, str]] = []
    for index, folder in enumerate(folders):
        wanted = folder.get("preset") if isinstance(folder, dict) else None
        if isinstance(wanted, str) and wanted not in names:
            hint = did_you_mean(wanted, names)
            problems.append(
                (
                    ("folders", index, "preset"),
                    f'no preset or chain named "{wanted}"; {hint + " " if hint else ""}'
                    f"known: {known}",
                )
            )
    return problems


def parse_config(text: str, source: str = "<config>") -> Config:
    """Given YAML text, return the Config. Raise ConfigError listing every problem."""
    inspection = inspect_config(text, source)
    if inspection.config is None:
        raise ConfigError(source, inspection.problems)
    return inspection.config


def read_config_text(path: Path) -> str:
    """The configuration file's text. Raise ConfigError when it is missing or unreadable."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            str(path), ["no such file; `mvsepd config init` writes a starter config there"]
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(str(path), [f"cannot be read: {error}"]) from None


def load_config(path: Path) -> LoadedConfig:
    """Read and validate the configuration file at ``path``. Raise ConfigError."""
    config = parse_config(read_config_text(path), str(path))
    return LoadedConfig(config=config, source=path, warnings=tuple(warnings_for(config, path)))


def warnings_for(config: Config, path: Path) -> list[str]:
    """What is valid in the file at ``path`` but most likely not meant, or unsafe."""
    warnings: list[str] = advice(config)
    if config.account.token is not None and _readable_by_others(path):
        warnings.append(
            f"{path} holds the API token and other users can read it; "
            f"run `chmod 600 {path}` or move the token to account.token_file"
        )
    return warnings


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
