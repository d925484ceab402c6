"""Output naming: the output template, safe file-name components, the output root.

Domain layer, pure: nothing here touches the disk. The output template places each stem; its
leading part without per-track placeholders is the *output root*, which nothing may leave and
which must not lie inside a watched tree. Names that come from MVSEP (stem labels) or from the
user's files are made safe here: no separators, no control characters, no Windows device names,
at most 255 bytes.

Placeholders: ``{parent}`` (the hot folder's parent), ``{folder}`` (the hot folder's name),
``{subdir}`` (the source's sub-folder inside a recursive hot folder, or nothing), ``{track}``
(the source file name without extension), ``{stem}`` (MVSEP's label for the stem, e.g.
"Vocals"), ``{ext}`` (the output format's extension), ``{preset}`` (the preset or chain
name), ``{step}`` (a chain's step, empty outside chains).
"""

from __future__ import annotations

import re
import string
import unicodedata
from pathlib import Path, PurePath

DEFAULT_OUTPUT_TEMPLATE = "{parent}/{folder} stems/{track}/{track} - {stem}.{ext}"
#: The default of a folder with several presets: each preset's stems in a folder of its own.
FAN_OUT_OUTPUT_TEMPLATE = "{parent}/{folder} stems/{track}/{preset}/{track} - {stem}.{ext}"
#: The default of a folder fed to a chain: "Other" comes from several steps.
CHAIN_OUTPUT_TEMPLATE = "{parent}/{folder} stems/{track}/{track} - {step} - {stem}.{ext}"

PLACEHOLDERS = frozenset({"parent", "folder", "subdir", "track", "stem", "ext", "preset", "step"})
#: Placeholders whose value changes per job; the output root stops before the first of them.
_PER_JOB = frozenset({"subdir", "track", "stem", "ext", "preset", "step"})
#: Placeholders a template must contain so that no two stems or tracks share a file name.
REQUIRED_PLACEHOLDERS = frozenset({"track", "stem", "ext"})

MAX_NAME_BYTES = 255
#: Bytes a rendered name leaves free for " (2)" ... " (99999)", added when the name is taken.
COUNTER_ROOM_BYTES = 8
_WINDOWS_DEVICES = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{n}" for n in range(1, 10)}
    | {f"LPT{n}" for n in range(1, 10)}
)
_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')


class TemplateProblem(ValueError):
    """The output template cannot be used; the message says why and what is accepted."""


def placeholders_in(template: str) -> list[str]:
    """Return the placeholder names used in ``template``. Raise TemplateProblem if malformed."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        raise TemplateProblem(f"malformed template {template!r}: {error}") from None
    names = [name for _, name, _, _ in parsed if name is not None]
    for name in names:
        if name not in PLACEHOLDERS:
            known = ", ".join("{" + p + "}" for p in sorted(PLACEHOLDERS))
            raise TemplateProblem(f"unknown placeholder {{{name}}}; known: {known}")
    return names


def check_template(template: str) -> None:
    """Raise TemplateProblem unless ``template`` places every stem of every track separately."""
    missing = REQUIRED_PLACEHOLDERS - set(placeholders_in(template))
    if missing:
        needed = ", ".join("{" + p + "}" for p in sorted(missing))
        raise TemplateProblem(f"the template must contain {needed} so that stems do not collide")


def safe_component(text: str, *, fallback: str = "_") -> str:
    """Return ``text`` as one safe file-name component (no separators, <= 255 bytes)."""
    cleaned = unicodedata.normalize("NFC", text)
    cleaned = _FORBIDDEN.sub("_", cleaned)
    cleaned = "".join(ch if unicodedata.category(ch)[0] != "C" else "_" for ch in cleaned)
    cleaned = cleaned.strip(" .")
    if not cleaned:
        cleaned = fallback
    if cleaned.split(".")[0].upper() in _WINDOWS_DEVICES:
        cleaned = "_" + cleaned
    return truncate_name(cleaned)


def truncate_name(name: str, max_bytes: int = MAX_NAME_BYTES) -> str:
    """Shorten ``name`` to ``max_bytes`` of UTF-8, keeping a short extension and whole chars."""
    if len(name.encode("utf-8")) <= max_bytes:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or len(extension) > 16 or not stem:
        stem, extension = name, ""
    suffix = f".{extension}" if extension else ""
    return truncate_bytes(stem, max_bytes - len(suffix.encode("utf-8"))) + suffix


def with_addition(stem: str, addition: str, extension: str = "") -> str:
    """Return ``stem + addition + extension`` within 255 bytes, shortening only ``stem``.

    ``addition`` (a counter such as " (2)") always survives: cutting it instead would turn
    every numbered candidate into the same name.
    """
    room = MAX_NAME_BYTES - len((addition + extension).encode("utf-8"))
    return (truncate_bytes(stem, room) or "_") + addition + extension


def truncate_bytes(text: str, max_bytes: int) -> str:
    """Return the longest start of ``text`` whose UTF-8 form fits ``max_bytes`` (whole chars)."""
    encoded = text.encode("utf-8")[: max(0, max_bytes)]
    return encoded.decode("utf-8", errors="ignore").rstrip(" .")


def _names(part: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(part) if name}


def _split(template: str) -> tuple[list[str], list[str]]:
    """Split a template's path components into the fixed root part and the per-job part."""
    parts = list(PurePath(template).parts)
    for index, part in enumerate(parts):
        if _names(part) & _PER_JOB:
            return parts[:index], parts[index:]
    return parts, []


def output_root(template: str, *, parent: Path, folder: str) -> Path:
    """Return the directory the template writes below, for one hot folder.

    It is the template up to (not including) the first component that varies per job.
    """
    root_parts, _ = _split(template)
    if not root_parts:
        raise TemplateProblem("the template must start with a fixed folder, e.g. {parent}/...")
    return Path(*(part.format(parent=str(parent), folder=folder) for part in root_parts))


def render(template: str, values: dict[str, str], *, root: Path) -> Path:
    """Return the path of one output below ``root``, every per-job component made safe.

    ``values`` holds raw texts for the per-job placeholders (``track``, ``stem``, ``ext``,
    ``preset``, ``subdir``). ``subdir`` may add several levels, each made safe, and never "..".
    """
    safe = {key: safe_component(value) for key, value in values.items() if key != "subdir"}
    subdir_parts = [
        safe_component(part)
        for part in PurePath(values.get("subdir", "")).parts
        if part not in ("", ".", "..", "/", "\\") and not part.endswith((":\\", ":/"))
    ]
    safe["subdir"] = "\0".join(subdir_parts)
    components: list[str] = []
    _, per_job_parts = _split(template)
    for part in per_job_parts:
        fill = {name: safe.get(name, "") for name in PLACEHOLDERS}
        if "track" in _names(part):
            # Shorten the track name, not the whole component, so that a long title never
            # cuts off the stem label or the extension (two stems would then collide), and
            # leave room for the counter a taken name gets.
            overhead = len(part.format(**{**fill, "track": ""}).encode("utf-8"))
            room = MAX_NAME_BYTES - overhead - COUNTER_ROOM_BYTES
            fill["track"] = truncate_bytes(fill["track"], room) or "_"
        rendered = part.format(**fill)
        if "subdir" in _names(part):
            # Only {subdir} may contribute several levels; each of them is already safe.
            components.extend(piece for piece in rendered.split("\0") if piece)
        else:
            components.append(safe_component(rendered))
    path = root.joinpath(*components)
    if root not in path.parents:
        raise TemplateProblem(f"{path} would not lie inside the output root {root}")
    return path


def is_within(path: Path, directory: Path) -> bool:
    """Return True if ``path`` is ``directory`` or lies below it (paths compared as given)."""
    return path == directory or directory in path.parents
