"""Checking what a caller asks for before anything goes on the wire.

Each check raises ``InputError`` naming the field and what would be accepted, so a bad preset
or a vanished file fails at once instead of costing an upload (or credits).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

from mvsepd.api.servers import origin_of
from mvsepd.errors import InputError
from mvsepd.models import Algorithm, AlgorithmScope, OutputFormat

#: ``remote_type`` values MVSEP accepts for URL creates.
REMOTE_TYPES = ("direct", "mega", "drive", "dropbox")

_OPTION_NAME = re.compile(r"add_opt[1-9][0-9]?")
_IDENTIFIER = re.compile(r"[^\s\x00-\x1f\x7f]{1,512}")
_FORMATS = ", ".join(f"{member.value} ({member.config_name})" for member in OutputFormat)

#: Which create method serves each input kind (for messages).
_METHOD_FOR_SCOPE = {
    AlgorithmScope.SINGLE_UPLOAD: "create_separation or create_separation_from_url",
    AlgorithmScope.NO_UPLOAD: "create_without_upload",
    AlgorithmScope.MATCHERING_UPLOAD: "create_matchering",
}


@contextlib.contextmanager
def open_input(path: Path | str, field: str) -> Iterator[BinaryIO]:
    """Open a local file for upload; raise InputError if it is missing, a directory or empty."""
    if not isinstance(path, (str, Path)) or not str(path):
        raise InputError(f"{field}: expected a file path, got {type(path).__name__}", field=field)
    file_path = Path(path)
    if not file_path.exists():
        raise InputError(f"{field}: {file_path} does not exist", field=field)
    if file_path.is_dir():
        raise InputError(f"{field}: {file_path} is a directory; a file is needed", field=field)
    if not file_path.is_file():
        raise InputError(f"{field}: {file_path} is not a regular file", field=field)
    try:
        handle = open(file_path, "rb")  # noqa: SIM115  # closed by the with below
    except OSError as error:
        raise InputError(
            f"{field}: {file_path} cannot be read ({error.strerror})", field=field
        ) from None
    with handle:
        try:
            empty = handle.seek(0, 2) == 0
            handle.seek(0)
        except OSError as error:
            raise InputError(
                f"{field}: {file_path} cannot be read ({error.strerror})", field=field
            ) from None
        if empty:
            raise InputError(f"{field}: {file_path} is empty", field=field)
        yield handle


def check_identifier(value: object, field: str) -> str:
    """Return a hash or id as text; raise InputError if empty, too long or with whitespace."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InputError(f"{field}: expected text, got {type(value).__name__}", field=field)
    text = str(value)
    if _IDENTIFIER.fullmatch(text) is None:
        raise InputError(
            f"{field}: {text[:80]!r} is empty or contains spaces/control characters", field=field
        )
    return text


def check_text(value: object, field: str) -> str:
    """Return a required non-empty text parameter; raise InputError otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{field}: a non-empty text is required", field=field)
    return value


def check_count(value: object, field: str, *, minimum: int) -> str:
    """Return a paging number as wire text; raise InputError below ``minimum`` or not an int."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(
            f"{field}: expected a whole number >= {minimum}, got {value!r}", field=field
        )
    return str(value)


def check_flag(value: object, field: str) -> str:
    """Return "1"/"0" for a bool; raise InputError for anything else."""
    if not isinstance(value, bool):
        raise InputError(f"{field}: expected True or False, got {value!r}", field=field)
    return "1" if value else "0"


def check_url(url: object, remote_type: object) -> tuple[str, str]:
    """Return ``(url, remote_type)`` for a URL create; raise InputError for bad values."""
    if not isinstance(url, str) or len(url) > 4096 or origin_of(url.strip()) is None:
        raise InputError("url: an http:// or https:// URL with a host is required", field="url")
    if remote_type not in REMOTE_TYPES:
        raise InputError(
            f"remote_type: unknown value {remote_type!r}; accepted: {', '.join(REMOTE_TYPES)}",
            field="remote_type",
        )
    return url.strip(), str(remote_type)


def create_fields(
    *,
    sep_type: object,
    options: Mapping[str, str],
    output_format: object,
    is_demo: object,
    catalog: Sequence[Algorithm] | None,
    scope: AlgorithmScope,
) -> list[tuple[str, str]]:
    """Return the create form fields (without token or input) in the official order.

    ``sep_type`` is an algorithm's ``render_id``; ``options`` maps ``add_optN`` to option keys
    (empty values are left out so the server uses its default). With a ``catalog`` the
    algorithm, its input kind, and every option name and key are checked against it.
    """
    if isinstance(sep_type, bool) or not isinstance(sep_type, int) or sep_type < 0:
        raise InputError(
            f"sep_type: expected an algorithm render_id (int >= 0), got {sep_type!r}",
            field="sep_type",
        )
    try:
        chosen_format = OutputFormat.parse(output_format)
    except ValueError:
        raise InputError(
            f"output_format: unknown value {output_format!r}; accepted: {_FORMATS}",
            field="output_format",
        ) from None
    demo = check_flag(is_demo, "is_demo")
    if not isinstance(options, Mapping):
        raise InputError("options: expected a mapping of add_optN to option keys", field="options")
    chosen: dict[str, str] = {}
    for name, value in options.items():
        if not isinstance(name, str) or _OPTION_NAME.fullmatch(name) is None:
            raise InputError(
                f"options: {name!r} is not an option field; accepted: add_opt1 ... add_opt99",
                field="options",
            )
        if not isinstance(value, str):
            raise InputError(
                f"{name}: option values are text keys, got {type(value).__name__}", field=name
            )
        if value != "":
            chosen[name] = value
    if catalog is not None:
        check_against_catalog(catalog, sep_type, chosen, scope)
    ordered = sorted(chosen.items(), key=lambda item: int(item[0][len("add_opt") :]))
    return [
        ("sep_type", str(sep_type)),
        *ordered,
        ("output_format", str(int(chosen_format))),
        ("is_demo", demo),
    ]


def check_against_catalog(
    catalog: Sequence[Algorithm], sep_type: int, options: Mapping[str, str], scope: AlgorithmScope
) -> Algorithm:
    """Return the catalog entry for ``sep_type``; raise InputError listing what is accepted."""
    algorithm = next((entry for entry in catalog if entry.render_id == sep_type), None)
    if algorithm is None:
        accepted = ", ".join(str(render_id) for render_id in sorted({a.render_id for a in catalog}))
        raise InputError(
            f"sep_type: {sep_type} is not in the catalog; "
            f"accepted render_ids: {accepted or 'none'}",
            field="sep_type",
        )
    if algorithm.audio_widget is not scope:
        raise InputError(
            f"sep_type: {sep_type} ({algorithm.name}) takes {algorithm.audio_widget.value} input; "
            f"use {_METHOD_FOR_SCOPE[algorithm.audio_widget]}",
            field="sep_type",
        )
    by_name = {option_field.name: option_field for option_field in algorithm.fields}
    for name, value in options.items():
        option_field = by_name.get(name)
        if option_field is None:
            accepted = ", ".join(f"{f.name} ({f.text})" for f in algorithm.fields) or "none"
            raise InputError(
                f"{name}: not an option of {algorithm.name} (sep_type {sep_type}); "
                f"accepted: {accepted}",
                field=name,
            )
        if option_field.is_free_text or not option_field.options:
            continue
        if value not in option_field.options:
            accepted = ", ".join(f"{key} ({label})" for key, label in option_field.options.items())
            raise InputError(
                f"{name}: {value!r} is not a key of {option_field.text!r} for {algorithm.name}; "
                f"accepted keys: {accepted}",
                field=name,
            )
    return algorithm
