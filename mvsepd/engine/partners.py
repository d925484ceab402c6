"""The files that go with a dropped one: its sidecar, its text, its matchering reference or
target, found by name beside it; and whether the intake already found such a file complete
(only a file it handed over, unchanged since, counts)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mvsepd.engine.context import Context, FolderRuntime
from mvsepd.intake import triggers
from mvsepd.models import AUDIO_EXTENSIONS


@dataclass(frozen=True)
class Waiting:
    """The file waits for a partner (``reason`` says which); its arrival makes the job."""

    reason: str


def reference_partner(target: Path) -> Path | None:
    for extension in AUDIO_EXTENSIONS:
        for candidate in (extension, extension.upper()):
            found = target.with_name(f"{target.stem}{triggers.REFERENCE_MARK}.{candidate}")
            if is_file(found):
                return found
    return None


def target_partner(partner: Path) -> Path | None:
    track = triggers.track_of(partner.name)
    if track.casefold().endswith(triggers.REFERENCE_MARK):
        track = track[: -len(triggers.REFERENCE_MARK)]
    return first_audio(partner.parent, track, skip_references=True)


def audio_partner(partner: Path) -> Path | None:
    return first_audio(partner.parent, triggers.track_of(partner.name), skip_references=False)


def first_audio(folder: Path, track: str, *, skip_references: bool) -> Path | None:
    for extension in AUDIO_EXTENSIONS:
        for candidate in (extension, extension.upper()):
            found = folder / f"{track}.{candidate}"
            if is_file(found) and not (skip_references and triggers.is_reference_name(found.name)):
                return found
    return None


# --- partners --------------------------------------------------------------------------------


def sidecar_of(
    context: Context, folder: FolderRuntime, path: Path
) -> triggers.Sidecar | Waiting | None:
    sidecar = path.with_name(triggers.track_of(path.name) + triggers.SIDECAR_SUFFIX)
    if sidecar == path or not exists(sidecar):
        return None
    if not is_ready(context, folder, sidecar):
        return Waiting(f"waiting for {sidecar.name} to be completely written")
    return triggers.read_sidecar(sidecar)


def is_ready(context: Context, folder: FolderRuntime, path: Path) -> bool:
    """True when the intake already found ``path`` complete and it is unchanged since."""
    record = context.store.source(str(folder.path), relative(folder, path))
    if record is None:
        return False
    try:
        status = path.stat()
    except OSError:
        return False
    return record.size == status.st_size and record.mtime_ns == status.st_mtime_ns


def relative(folder: FolderRuntime, path: Path) -> str:
    try:
        return path.relative_to(folder.path).as_posix()
    except ValueError:
        return path.name


def exists(path: Path) -> bool:
    """``path.exists()``, False where its name cannot even be looked up (too long)."""
    try:
        return path.exists()
    except OSError:
        return False


def is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False
