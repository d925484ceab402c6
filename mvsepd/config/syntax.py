"""Reading YAML for the configuration: values with the line of every key, hardened, and YAML's
own errors said in words a producer can act on.

Domain layer. The reader refuses what no configuration needs (unknown tags, nesting deeper
than ``MAX_DEPTH``, aliases that expand past ``MAX_VALUES``, duplicate keys). A syntax error
becomes one ``ConfigProblem`` with its line and column and a sentence about the usual cause
("this line is indented differently from the keys above it") instead of PyYAML's
"expected <block end>, but found '<block mapping start>'".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from mvsepd.errors import ConfigError, ConfigProblem

KeyPath = tuple[str | int, ...]

#: Deeper than any real configuration (about 5 levels), far below Python's recursion limit.
MAX_DEPTH = 50
#: Values once YAML aliases are expanded; a real configuration has a few hundred. Aliases
#: repeated inside aliases ("billion laughs") would otherwise expand without bound.
MAX_VALUES = 100_000


class Positions:
    """Line numbers (1-based) of every key and item, by key path."""

    def __init__(self) -> None:
        self.lines: dict[KeyPath, int] = {}
        self.duplicates: list[tuple[KeyPath, int]] = []
        #: Values converted so far, each alias counted every time it is used.
        self.values = 0

    def line_for(self, path: Sequence[str | int]) -> int | None:
        """The line of ``path``, or of the nearest enclosing key that has one."""
        path = tuple(path)
        for length in range(len(path), -1, -1):
            line = self.lines.get(path[:length])
            if line is not None:
                return line
        return None


class _Refused(Exception):
    """The document is too deep or too large to be a configuration (internal signal)."""


def _to_python(node: yaml.Node, path: KeyPath, positions: Positions) -> Any:
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


def read_document(text: str, source: str) -> tuple[Any, Positions]:
    """Given YAML text, return its value and the line of every key (and of every duplicate
    key, for ``duplicate_problems``). Raise ConfigError (one problem, with its line) for a
    syntax error or a refused document."""
    positions = Positions()
    # Every failure of the YAML reader becomes a ConfigError: an exception escaping here would
    # end ``mvsepd run`` with a traceback and a status a service manager restarts on.
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = None if node is None else _to_python(node, (), positions)
    except yaml.YAMLError as error:
        raise ConfigError(source, [yaml_problem(error, text)]) from None
    except RecursionError:  # the reader itself recursed too deep
        raise ConfigError(
            source, [f"values are nested more than {MAX_DEPTH} levels deep"]
        ) from None
    except _Refused as refused:
        raise ConfigError(source, [str(refused)]) from None
    return data, positions


def duplicate_problems(positions: Positions) -> list[ConfigProblem]:
    """A key given twice in one section (YAML would silently keep the last)."""
    return [
        ConfigProblem(f"{format_key_path(path)}: duplicate key; keep one of them", line)
        for path, line in positions.duplicates
    ]


def read_yaml_mapping(text: str, source: str) -> dict[str, Any]:
    """Read a small YAML mapping (a sidecar file) with the configuration's hardening: no unknown
    tags, bounded depth and alias expansion, no duplicate keys. Raise ConfigError saying why."""
    data, positions = read_document(text, source)
    problems: list[str | ConfigProblem] = [*duplicate_problems(positions)]
    if data is not None and not isinstance(data, dict):
        problems.append("the file must be a mapping (key: value) at top")
    if problems:
        raise ConfigError(source, problems)
    return data or {}


def yaml_problem(error: yaml.YAMLError, text: str = "") -> ConfigProblem:
    """A YAML syntax error as one problem: its line and column, and what usually causes it."""
    mark = getattr(error, "problem_mark", None)
    context_mark = getattr(error, "context_mark", None)
    problem = str(getattr(error, "problem", None) or "")
    context = str(getattr(error, "context", None) or "")
    opened = context_mark.line + 1 if context_mark is not None else None
    if isinstance(error, yaml.reader.ReaderError):
        line = text[: error.position].count("\n") + 1
        character = error.character
        code = ord(character) if isinstance(character, str) else int(character)
        return ConfigProblem(
            "not valid YAML: the file holds a character YAML does not allow "
            f"(#x{code:04x}, a control character); remove it",
            line,
        )
    words = _words(problem, context, opened)
    if words is None:
        words = problem or str(error).splitlines()[0]
    if mark is None:
        return ConfigProblem(f"not valid YAML: {words}")
    return ConfigProblem(f"not valid YAML: {words}", mark.line + 1, mark.column + 1)


def _words(problem: str, context: str, opened: int | None) -> str | None:  # noqa: C901
    """What PyYAML's problem usually means in a configuration, or None for the rare ones."""
    since = f" (the section starts on line {opened})" if opened is not None else ""
    if problem == "expected <block end>, but found '<block mapping start>'":
        return (
            "this line is indented differently from the keys above it; indent every key of a "
            f"section by the same number of spaces{since}"
        )
    if problem == "expected <block end>, but found '<block sequence start>'":
        return f"this list item (- ...) is not lined up with the lines above it{since}"
    if problem == "expected <block end>, but found '-'":
        keys = f"the keys that start on line {opened}" if opened is not None else "keys"
        return (
            f"a list item (- ...) after {keys}; an item goes under its list (such as "
            "folders:), lined up with that list's other items"
        )
    if problem == "expected <block end>, but found '?'":
        return (
            "this key is not lined up with the list item above it: a key of that item goes "
            "under its first key, and a new item starts with '- '"
        )
    if problem == "expected <block end>, but found '<scalar>'":
        return "text after a quoted value; put the whole value inside the quotes"
    if problem.startswith(
        ("expected <block end>, but found '}'", "expected <block end>, but found ']'")
    ):
        return "a closing bracket with no opening one before it; remove it"
    if problem == "mapping values are not allowed here":
        return (
            "a ':' where a value goes on: this line is indented deeper than the key above it "
            "(so it reads as the rest of that value), or a value holds ': ' and needs quotes"
        )
    if problem.startswith(("expected ',' or '}'", "expected ',' or ']'")):
        bracket = "{ ... }" if "}" in problem else "[ ... ]"
        where = f" opened on line {opened}" if opened is not None else ""
        return (
            f"the {bracket}{where} is not closed here, or two of its entries have no comma "
            "between them"
        )
    if problem == "found unexpected end of stream" and "quoted" in context:
        where = f" on line {opened}" if opened is not None else ""
        return f"the quote opened{where} is never closed; add the closing quote"
    if problem.startswith("found unknown escape character"):
        return (
            "a backslash inside double quotes starts an escape; write the value in single "
            "quotes ('C:\\Music') or double each backslash"
        )
    if problem == "found character '\\t' that cannot start any token":
        return "a tab; YAML indents with spaces only, so replace the tab with spaces"
    if problem.startswith("found character") and problem.endswith("that cannot start any token"):
        character = problem.removeprefix("found character ").split(" ")[0]
        return f"a value cannot start with {character}; put the value in quotes"
    if problem.startswith("found undefined alias"):
        name = problem.removeprefix("found undefined alias ").strip("'")
        return f"*{name} refers to no &{name} anchor above it"
    if problem == "but found another document":
        return "a second document (---): mvsepd reads one; remove the --- line"
    if problem.startswith("could not determine a constructor for the tag"):
        tag = problem.rsplit(" ", 1)[-1]
        return (
            f"could not determine a constructor for the tag {tag}: mvsepd reads plain values, "
            "lists and sections only; remove the tag"
        )
    return None
