"""The rules of a configuration that its schema cannot express, and advice about valid ones.

Domain layer. ``logical_problems`` finds what makes a configuration unusable (a folder naming
no preset or chain, nested hot folders, stems written into a watched tree, a reference inside
its own folder); ``advice`` what is valid but most likely not meant (lossy stems converted);
``wire_notes`` what is asked of MVSEP where it differs from a preset (WAV 16 fetched as FLAC
16 where the stems are conformed).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Sequence
from pathlib import Path

from mvsepd.config.model import Config, FolderConfig
from mvsepd.domain import naming
from mvsepd.domain.presets import fetched_format
from mvsepd.models import OutputFormat
from mvsepd.paths import absolute
from mvsepd.suggest import did_you_mean

Problem = tuple[tuple[str | int, ...], str]


def advice(config: Config) -> list[str]:
    """Warnings about a valid configuration that will not do what its user most likely wants."""
    notes: list[str] = []
    lossy = {OutputFormat.MP3: "mp3", OutputFormat.M4A: "m4a"}
    for index, folder in enumerate(config.folders):
        if config.folder_settings(folder).conform != "source":
            continue
        for name in folder.preset_names:
            preset = config.presets.get(name)
            if preset is None or preset.output_format not in lossy:
                continue
            notes.append(
                f"folders[{index}] ({folder.path}): preset {name!r} asks MVSEP for "
                f"{lossy[preset.output_format]}, which is lossy; its stems are converted to "
                "the source's format anyway, so ask for flac24 (lossless, and as small as "
                "MVSEP's lossless formats get)"
            )
    return notes


def wire_notes(config: Config) -> list[str]:
    """Each folder and preset (or chain step) for which MVSEP is asked for another format than
    the preset says, and why (``presets.fetched_format``)."""
    notes: list[str] = []
    for index, folder in enumerate(config.folders):
        settings = config.folder_settings(folder)
        for name, asked in _formats_of(config, folder.preset_names):
            fetched = fetched_format(
                asked,
                conforms=settings.conform == "source",
                keeps_mvsep_files=settings.keep_mvsep_files,
            )
            if fetched is not asked:
                notes.append(
                    f"folders[{index}] ({folder.path}): {name} asks MVSEP for "
                    f"{asked.config_name}; its stems are conformed here, so mvsepd fetches "
                    f"{fetched.config_name} (the same samples, about half the bytes to "
                    "download); conform: off or keep_mvsep_files: true fetch it as written"
                )
    return notes


def _formats_of(config: Config, names: tuple[str, ...]) -> list[tuple[str, OutputFormat]]:
    """The output format of each preset named, and of each step of each chain named."""
    found: list[tuple[str, OutputFormat]] = []
    for name in names:
        preset = config.presets.get(name)
        if preset is not None:
            found.append((f"preset {name!r}", preset.output_format))
            continue
        chain = config.chains.get(name)
        for step in chain.steps if chain is not None else ():
            if step.preset is not None:
                step_preset = config.presets.get(step.preset)
                if step_preset is None:
                    continue
                asked = step_preset.output_format
            else:
                asked = step.output_format or OutputFormat.WAV16
            found.append((f"chain {name!r} step {step.id!r}", asked))
    return found


def logical_problems(
    config: Config,
    *,
    folder_numbers: Sequence[int] | None = None,
    unreadable: Collection[str] = (),
) -> list[Problem]:
    """Return every rule the schema cannot express that the config breaks, with its key path.

    ``config`` may hold only the parts of a file that could be read (the others have problems
    of their own): ``folder_numbers`` gives each folder's place in the file, ``unreadable``
    the presets and chains that are there but could not be read (naming one is no mistake).
    """
    numbers = list(range(len(config.folders))) if folder_numbers is None else folder_numbers
    problems = _chain_problems(config, unreadable)
    roots = [absolute(folder.path) for folder in config.folders]
    for position in range(len(config.folders)):
        problems.extend(_folder_problems(config, position, numbers, roots, unreadable))
    problems.extend(_studio_problems(config, numbers))
    if not _is_loopback(config.daemon.status_host) and not config.daemon.allow_remote_status:
        problems.append(
            (
                ("daemon", "status_host"),
                f"{config.daemon.status_host} is not a loopback address; the status API would "
                "be reachable from the network. Use 127.0.0.1, or set allow_remote_status: true",
            )
        )
    return problems


def _studio_problems(config: Config, numbers: Sequence[int]) -> list[Problem]:
    """A shared folder needs studio mode, a known share, and itself and its stems on it."""
    problems: list[Problem] = []
    store = config.store
    if store.backend == "sqlite" and store.shares:
        problems.append(
            (("store", "shares"), "shares are for studio mode; set store.backend: postgres")
        )
    for position, folder in enumerate(config.folders):
        index = numbers[position]
        if folder.shared is None:
            continue
        where: tuple[str | int, ...] = ("folders", index, "shared")
        if store.backend != "postgres":
            problems.append(
                (where, "a shared folder needs studio mode: set store.backend: postgres")
            )
            continue
        mount = store.shares.get(folder.shared)
        if mount is None:
            problems.append(
                (
                    where,
                    f'no share "{folder.shared}" in store.shares; known: '
                    f"{', '.join(sorted(store.shares)) or 'none'}",
                )
            )
            continue
        mount = absolute(mount)
        path, output_root = absolute(folder.path), absolute(folder.output_root())
        if not naming.is_within(path, mount):
            problems.append(
                (
                    ("folders", index, "path"),
                    f"{path} is not on the share {folder.shared} (mounted here at {mount})",
                )
            )
        elif not naming.is_within(output_root, mount):
            problems.append(
                (
                    ("folders", index, "output"),
                    f"stems would be written to {output_root}, off the share {folder.shared} "
                    f"({mount}); the other rooms could not reach them; keep them on the share",
                )
            )
    return problems


def _chain_problems(config: Config, unreadable: Collection[str]) -> list[Problem]:
    problems: list[Problem] = []
    for name in config.chains:
        if name in config.presets:
            problems.append(
                (("chains", name), f'"{name}" is both a preset and a chain; rename one')
            )
    for name, chain in config.chains.items():
        for step_index, step in enumerate(chain.steps):
            if (
                step.preset is not None
                and step.preset not in config.presets
                and step.preset not in unreadable
            ):
                problems.append(
                    (
                        ("chains", name, "steps", step_index, "preset"),
                        f'no preset named "{step.preset}"; '
                        f"{_suggested(step.preset, [*config.presets, *unreadable])}known: "
                        f"{', '.join(sorted(config.presets)) or 'none defined'}",
                    )
                )
    return problems


def _folder_problems(
    config: Config,
    position: int,
    numbers: Sequence[int],
    roots: list[Path],
    unreadable: Collection[str],
) -> list[Problem]:
    problems: list[Problem] = []
    folder = config.folders[position]
    index = numbers[position]
    names = [*config.presets, *config.chains]
    known_presets = ", ".join(sorted(names)) or "none defined"
    where: tuple[str | int, ...] = ("folders", index)
    for preset_name in folder.preset_names:
        if preset_name not in names and preset_name not in unreadable:
            problems.append(
                (
                    (*where, "preset"),
                    f'no preset or chain named "{preset_name}"; '
                    f"{_suggested(preset_name, [*names, *unreadable])}known: {known_presets}",
                )
            )
    if folder.reference is not None:
        reference = absolute(folder.reference)
        if naming.is_within(reference, roots[position]):
            problems.append(
                (
                    (*where, "reference"),
                    f"{reference} lies inside the folder it is the reference for; it would "
                    "be taken as a target too; keep it outside",
                )
            )
    for other_position, other in enumerate(roots):
        if other_position == position:
            continue
        other_index = numbers[other_position]
        if roots[position] == other and other_position < position:
            problems.append(((*where, "path"), f"the same folder as folders[{other_index}]"))
        elif naming.is_within(roots[position], other) and roots[position] != other:
            problems.append(
                (
                    (*where, "path"),
                    f"lies inside folders[{other_index}] ({other}); hot folders may not nest",
                )
            )
    output_root = absolute(folder.output_root())
    for other_position, other in enumerate(roots):
        if naming.is_within(output_root, other):
            problems.append(
                (
                    (*where, "output"),
                    f"stems would be written to {output_root}, inside the watched folder "
                    f"folders[{numbers[other_position]}] ({other}); choose a place outside it",
                )
            )
    problems.extend(_move_problems(folder, where, roots, numbers))
    return problems


def _suggested(name: str, names: Sequence[str]) -> str:
    hint = did_you_mean(name, names)
    return f"{hint} " if hint else ""


def _move_problems(
    folder: FolderConfig, where: tuple[str | int, ...], roots: list[Path], numbers: Sequence[int]
) -> list[Problem]:
    if folder.after_success != "move":
        return []
    if folder.move_to is None:
        return [((*where, "move_to"), "after_success: move needs move_to")]
    target = absolute(folder.move_to)
    return [
        (
            (*where, "move_to"),
            f"{target} lies inside the watched folder folders[{numbers[other_position]}]",
        )
        for other_position, other in enumerate(roots)
        if naming.is_within(target, other)
    ]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
