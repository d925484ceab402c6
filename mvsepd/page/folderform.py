"""The folder form: which keys of a hot folder the page edits, how each is shown, and how a
posted form becomes the folder's YAML mapping (pure; the model in ``mvsepd.config.model`` says
what each key accepts, and saving checks it the way ``mvsepd config check`` does).

A key left at "default" is removed from the folder, so the ``defaults`` section (or the
model's default) applies; keys the form does not show stay as the user wrote them. A value
that is not what the key takes (a word for a number) is written as typed, so that the check
refuses it with its own words, shown next to the field.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from werkzeug.datastructures import MultiDict

from mvsepd.config.model import Config, FolderConfig
from mvsepd.errors import ConfigProblem

Kind = Literal["text", "list", "choice", "flag", "number", "presets"]


@dataclass(frozen=True)
class Field:
    """One key of a hot folder on the form."""

    key: str
    label: str
    kind: Kind
    help: str = ""
    advanced: bool = False
    #: The part of the form it is in: the folder itself, its stems, or "more settings".
    stems: bool = False
    #: For choices: the values the key takes (from the model).
    choices: tuple[str, ...] = ()


def _choices(key: str) -> tuple[str, ...]:
    """The words a key of ``FolderConfig`` takes, read from its type."""
    found: list[str] = []

    def collect(annotation: object) -> None:
        origin = typing.get_origin(annotation)
        if origin is Literal:
            found.extend(str(value) for value in typing.get_args(annotation))
        elif origin in (typing.Union, types.UnionType, typing.Annotated):
            for argument in typing.get_args(annotation):
                collect(argument)

    collect(FolderConfig.model_fields[key].annotation)
    return tuple(dict.fromkeys(found))


FIELDS: tuple[Field, ...] = (
    Field("path", "Folder", "text", "The folder mvsepd watches (choose it, or type its path)."),
    Field(
        "preset",
        "Preset",
        "presets",
        "What MVSEP does with each file: a preset or a chain; several make one job each.",
    ),
    Field(
        "existing_files",
        "Files already there",
        "choice",
        "Files in the folder the first time mvsepd watches it: skip them (no credits spent) "
        "or process them.",
        choices=_choices("existing_files"),
    ),
    Field(
        "after_success",
        "After the stems are written",
        "choice",
        "keep the original where it is, or move it to the folder below.",
        choices=_choices("after_success"),
    ),
    Field("move_to", "Move originals to", "text", "For “move”: a folder outside every hot folder."),
    Field(
        "patterns",
        "Files to take",
        "list",
        "Shell patterns, separated by commas (*.wav, *.aif). Empty: audio files and link, "
        "prompt and sidecar files.",
    ),
    Field(
        "conform",
        "Conform stems",
        "choice",
        "source: stems in the source's rate, channels, length, format and timestamp; off: "
        "MVSEP's files as sent.",
        choices=_choices("conform"),
        stems=True,
    ),
    Field(
        "container",
        "File type",
        "choice",
        "source: as the source (WAV for others); or one type for every stem.",
        choices=_choices("container"),
        stems=True,
    ),
    Field(
        "sample_format",
        "Sample format",
        "choice",
        "source (lossy sources: 24-bit), or 16-bit, 24-bit, 32-bit float.",
        choices=_choices("sample_format"),
        stems=True,
    ),
    Field(
        "channels",
        "Channels",
        "choice",
        "source (a mono source gets mono stems), or stereo as MVSEP sends.",
        choices=_choices("channels"),
        stems=True,
    ),
    Field("residual", "Residual stem", "flag", "Also the source minus the stems.", stems=True),
    Field("ignore", "Names to skip", "list", "Extra shell patterns to skip.", advanced=True),
    Field("recursive", "Sub-folders too", "flag", "Also take files in sub-folders.", True),
    Field(
        "watch",
        "Watching",
        "choice",
        "native: the system reports changes; poll: look every so often (network shares).",
        advanced=True,
        choices=_choices("watch"),
    ),
    Field("poll_interval", "Poll every (s)", "number", "For “poll”.", advanced=True),
    Field(
        "stability_seconds",
        "Quiet time (s)",
        "number",
        "How long a file stays unchanged before it counts as written (empty: 5 s, polled 30 s).",
        advanced=True,
    ),
    Field("output", "Stems go to", "text", "A template with {track}, {stem}, {ext}...", True),
    Field(
        "on_collision",
        "When a stem exists",
        "choice",
        "unique: add “ (2)”; replace; or fail.",
        advanced=True,
        choices=_choices("on_collision"),
    ),
    Field(
        "tags",
        "Tags",
        "choice",
        "copy the source's tags to the stems, or none.",
        advanced=True,
        choices=_choices("tags"),
    ),
    Field(
        "keep_mvsep_files",
        "Keep MVSEP's files",
        "flag",
        "Also keep MVSEP's files as sent, in a subfolder.",
        advanced=True,
    ),
)
FIELD_KEYS = tuple(field.key for field in FIELDS)
_YES, _NO = "yes", "no"


def display_values(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A folder's YAML mapping as the form shows it (what is not set: empty, "default")."""
    values: dict[str, Any] = {}
    for field in FIELDS:
        value = raw.get(field.key)
        if field.kind == "presets":
            values[field.key] = (
                [value] if isinstance(value, str) else [str(item) for item in value or []]
            )
        elif value is None:
            values[field.key] = ""
        elif field.kind == "list":
            values[field.key] = (
                ", ".join(str(item) for item in value)
                if isinstance(value, list | tuple)
                else str(value)
            )
        elif field.kind == "flag" or isinstance(value, bool):
            values[field.key] = _YES if value is True else _NO if value is False else str(value)
        else:
            values[field.key] = str(value)
    return values


def posted_values(form: MultiDict[str, str]) -> dict[str, Any]:
    """The posted form as the form shows it again (after a refusal)."""
    values: dict[str, Any] = {}
    for field in FIELDS:
        if field.kind == "presets":
            values[field.key] = [name for name in form.getlist(field.key) if name]
        else:
            values[field.key] = form.get(field.key, "").strip()
    return values


def folder_mapping(current: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """The folder's YAML mapping after the form: ``current`` with each shown key set from
    ``values`` (``posted_values``) or removed when left empty."""
    updated = dict(current)
    for field in FIELDS:
        value = values.get(field.key)
        converted = _converted(field, value)
        if converted is None:
            updated.pop(field.key, None)
        else:
            updated[field.key] = converted
    return updated


def _converted(field: Field, value: Any) -> Any:
    if field.kind == "presets":
        names = [str(name) for name in value or []]
        return None if not names else names[0] if len(names) == 1 else names
    text = str(value or "").strip()
    if not text:
        return None
    if field.kind == "list":
        return [item.strip() for item in text.replace("\n", ",").split(",") if item.strip()]
    if field.kind == "flag":
        return {_YES: True, _NO: False}.get(text, text)
    if field.kind == "number":
        try:
            number = float(text)
        except ValueError:
            return text
        return int(number) if number.is_integer() else number
    return text


def defaults_of(config: Config) -> dict[str, str]:
    """What each key is when the folder leaves it out, in words ("source", "no", "5 s")."""
    defaults = config.defaults
    shown: dict[str, str] = {}
    for field in FIELDS:
        if field.key in type(defaults).model_fields:
            value = getattr(defaults, field.key)
        else:
            value = FolderConfig.model_fields[field.key].default
        if isinstance(value, bool):
            shown[field.key] = _YES if value else _NO
        elif isinstance(value, tuple | list):
            shown[field.key] = (
                "audio, link and prompt files"
                if field.key == "patterns"
                else (", ".join(str(item) for item in value) or "none")
            )
        elif value is None:
            shown[field.key] = "5 s, 30 s polled" if field.key == "stability_seconds" else "none"
        else:
            shown[field.key] = str(value)
    return shown


def problems_by_field(
    problems: Iterable[ConfigProblem], index: int
) -> tuple[dict[str, list[str]], list[str]]:
    """Split a refusal's problems into those of this folder's fields (shown next to each, with
    its line) and the rest (shown above the form)."""
    by_field: dict[str, list[str]] = {}
    others: list[str] = []
    prefix = f"folders[{index}]"
    for problem in problems:
        key = _field_of(problem.text, prefix)
        if key is None:
            others.append(str(problem))
        else:
            by_field.setdefault(key, []).append(str(problem))
    return by_field, others


def _field_of(text: str, prefix: str) -> str | None:
    path = text.split(": ", 1)[0]
    if path == prefix:
        return "path"
    if not path.startswith(prefix + "."):
        return None
    key = path[len(prefix) + 1 :].split(".")[0].split("[")[0]
    return key if key in FIELD_KEYS else "path"


def preset_choices(config: Config) -> Sequence[tuple[str, str]]:
    """Every preset and chain a folder may name: (name, what it is, in words)."""
    choices: list[tuple[str, str]] = [
        (name, f"preset: sep_type {preset.sep_type}, {preset.output_format.config_name}")
        for name, preset in config.presets.items()
    ]
    choices += [
        (name, f"chain of {len(chain.steps)} steps") for name, chain in config.chains.items()
    ]
    return choices
