"""Schema problems in words, and the part of a configuration that can be read despite them.

Domain layer. ``schema_problems`` turns pydantic's validation errors into ``(key path, words)``:
what is wrong, then what would be accepted, with "did you mean" for a misspelt key or choice.
``readable_part`` validates what is left once every section value, preset, chain and folder
with a problem is set aside, so that the rules across fields and the catalog check run in the
same pass as the schema and every problem of a file is reported at once.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from mvsepd.config.model import Config
from mvsepd.suggest import did_you_mean

KeyPath = tuple[str | int, ...]

#: Validation rounds before giving up on a readable part (each sets aside what failed).
_ROUNDS = 4
_NAMED = ("presets", "chains")
_UNION_TAG = re.compile(r"^(int|str|float|bool|literal\[.*\]|function-.*|constrained-.*)$")


@dataclass(frozen=True)
class ReadablePart:
    """The sections, presets, chains and folders of a file that validate on their own."""

    config: Config
    #: Each kept folder's place in the file (``folders[n]``).
    folder_numbers: tuple[int, ...]
    #: Presets and chains that are in the file but were set aside for their own problems.
    unreadable: frozenset[str]


def schema_problems(error: ValidationError) -> list[tuple[KeyPath, str]]:
    """Return each validation error as ``(key path, words)``, one per key path."""
    gathered: dict[KeyPath, list[dict[str, Any]]] = {}
    for item in error.errors(include_url=False):
        location = tuple(part for part in item["loc"] if not _is_union_tag(part))
        gathered.setdefault(location, []).append(dict(item))
    return [(location, _words(location, items)) for location, items in gathered.items()]


def _is_union_tag(part: str | int) -> bool:
    # pydantic adds the union member it tried ("int", "literal['auto']") to the location.
    return isinstance(part, str) and _UNION_TAG.match(part) is not None


def _words(location: KeyPath, items: list[dict[str, Any]]) -> str:
    kinds = {item["type"] for item in items}
    if "extra_forbidden" in kinds:
        known = _known_keys(location[:-1])
        hint = did_you_mean(str(location[-1]), known) if location else ""
        listed = f"known keys: {', '.join(known)}" if known else "remove it"
        return f"unknown key; {hint + ' ' if hint else ''}{listed}"
    if "missing" in kinds:
        description = _description(location)
        return f"required, but missing{'; ' + description if description else ''}"
    own = [str(item["msg"]).removeprefix("Value error, ") for item in items if _is_ours(item)]
    if own:
        return "; or ".join(own)
    value = items[0].get("input")
    accepted: list[str] = []
    choices: list[str] = []
    for item in items:
        expectation, offered = _expectation(item)
        accepted.append(expectation)
        choices.extend(offered)
    # A token is never repeated back: this text reaches the log, the status and the page.
    secret = bool(location) and str(location[-1]) == "token"
    shown = "this" if secret or isinstance(value, dict | list) or value is None else repr(value)
    hint = (
        did_you_mean(str(value), choices)
        if choices and isinstance(value, str) and not secret
        else ""
    )
    return f"{shown} is not accepted; {hint + ' ' if hint else ''}accepted: {' or '.join(accepted)}"


def _is_ours(item: Mapping[str, Any]) -> bool:
    """Our own validators' words (they already say what is accepted)."""
    return bool(item["type"] == "value_error")


def _expectation(item: Mapping[str, Any]) -> tuple[str, list[str]]:
    """What a value of this kind must be, and the named choices (for "did you mean")."""
    kind = item["type"]
    context = item.get("ctx") or {}
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str(context.get("expected", "")))
        return ", ".join(choices), choices
    simple = {
        "int_parsing": "a whole number",
        "int_type": "a whole number",
        "int_from_float": "a whole number",
        "float_parsing": "a number",
        "float_type": "a number",
        "bool_parsing": "true or false",
        "bool_type": "true or false",
        "string_type": "text",
        "list_type": "a list (lines that start with '- ', or [a, b])",
        "tuple_type": "a list (lines that start with '- ', or [a, b])",
        "dict_type": "a section (key: value lines)",
        "model_type": "a section (key: value lines)",
        "model_attributes_type": "a section (key: value lines)",
    }
    if kind in simple:
        return simple[kind], []
    if kind == "is_instance_of":  # the token's field: text, which YAML read as something else
        return "text (put it in quotes)", []
    bounds = {
        "greater_than_equal": ("ge", "at least"),
        "greater_than": ("gt", "more than"),
        "less_than_equal": ("le", "at most"),
        "less_than": ("lt", "less than"),
    }
    if kind in bounds:
        key, words = bounds[kind]
        return f"{words} {context.get(key)}", []
    if kind == "too_short":
        return f"at least {context.get('min_length')} item(s)", []
    if kind == "string_pattern_mismatch":
        return "letters, digits, '.', '_' and '-' (starting with a letter or digit)", []
    return str(item["msg"]), []


def _model_at(path: KeyPath) -> tuple[type[BaseModel] | None, bool]:
    """The model whose fields are the keys at ``path``, and whether ``path`` names a free key
    (the name of a preset, say)."""
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
            return None, False
        expect_name = getattr(field.annotation, "__origin__", None) is dict
        found = _model_of(field.annotation)
        if found is None:
            return None, False
        model = found
    return model, expect_name


def _known_keys(path: KeyPath) -> list[str]:
    """Return the keys the model accepts at ``path`` (for "unknown key" messages)."""
    model, free = _model_at(path)
    return [] if model is None or free else sorted(model.model_fields)


def _description(path: KeyPath) -> str:
    model, _ = _model_at(path[:-1])
    field = model.model_fields.get(str(path[-1])) if model is not None and path else None
    text = (field.description or "") if field is not None else ""
    return text[:1].lower() + text[1:].rstrip(".")


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in getattr(annotation, "__args__", ()):
        found = _model_of(argument)
        if found is not None:
            return found
    return None


def readable_part(data: Mapping[str, Any], error: ValidationError) -> ReadablePart | None:
    """Given a file's values and their validation error, validate what remains once every
    value with a problem is set aside (its default applies), and every preset, chain and
    folder that cannot do without it; None if even that fails."""
    kept = copy.deepcopy(dict(data))
    raw_folders = kept.pop("folders", [])
    folders = list(enumerate(raw_folders)) if isinstance(raw_folders, list) else []
    unreadable: set[str] = set()
    for _ in range(_ROUNDS):
        candidate = {**kept, "folders": [folder for _, folder in folders]}
        try:
            config = Config.model_validate(candidate)
        except ValidationError as failed:
            error = failed
        else:
            numbers = tuple(number for number, _ in folders)
            return ReadablePart(config, numbers, frozenset(unreadable))
        dropped: set[int] = set()
        for item in error.errors(include_url=False):
            location = tuple(part for part in item["loc"] if not _is_union_tag(part))
            whole = item["type"] == "missing" or any(isinstance(part, int) for part in location[2:])
            if not location:
                return None
            if location[0] == "folders" and len(location) >= 2 and isinstance(location[1], int):
                if whole or len(location) == 2:
                    dropped.add(location[1])
                else:
                    _remove(candidate, location)
            elif location[0] in _NAMED and len(location) >= 2 and (whole or len(location) == 2):
                section = kept.get(location[0])
                if isinstance(section, dict):
                    section.pop(location[1], None)
                unreadable.add(str(location[1]))
            elif location[0] == "folders":
                folders = []
            else:
                _remove(kept, location)
        folders = [entry for position, entry in enumerate(folders) if position not in dropped]
    return None


def _remove(data: dict[str, Any], location: KeyPath) -> None:
    """Remove the value at ``location`` (its default applies then), or the nearest enclosing
    value that is not a mapping of keys."""
    node: Any = data
    for depth, part in enumerate(location):
        last = depth == len(location) - 1
        if isinstance(node, dict) and part in node:
            if last or not isinstance(node[part], dict | list):
                node.pop(part)
                return
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return
