"""Writing stems into the output folders (adapter: the file system below each output root).

Downloads land in a hidden staging folder inside the output root (``.mvsepd-staging/job-N``),
so they are on the same file system as their final place. Once every stem of a job is there,
``finalize`` gives each its final name (exclusively: a file that appeared there, another
studio host's on a share, is never overwritten) and writes ``manifest.json`` last: a stem on
disk is complete or absent, never half-written, and the staging folder is gone when the job
is done. The plan (which final name each stem gets) is saved in the staging folder,
so a job interrupted half-way through finishing picks the same names again instead of adding
" (2)" copies of its own stems.

The file operations that never overwrite or half-write are in ``mvsepd.outputs.files``.
Originals are never changed; ``after_success: move`` moves one to a folder outside the watched
tree, never over an existing file, and nothing is ever deleted.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from mvsepd.domain import naming
from mvsepd.domain.hashing import file_sha256
from mvsepd.errors import OutputError
from mvsepd.models import AUDIO_EXTENSIONS, OTHER_RESULT_EXTENSIONS
from mvsepd.outputs import files
from mvsepd.outputs.files import Collision as Collision
from mvsepd.outputs.files import move_original as move_original

STAGING_DIR_NAME = ".mvsepd-staging"
MANIFEST_NAME = "manifest.json"
_PLAN_NAME = "plan.json"


@dataclass(frozen=True)
class StemRequest:
    """One file to place: what the stem is (``label``, the template's ``{stem}``) and its
    extension, MVSEP's own label when it differs (``{mvsep_stem}``, kept in the manifest),
    optionally the name it is staged under and a subfolder of the stems' folder it goes into
    (MVSEP's files kept as sent)."""

    label: str
    extension: str
    staged_name: str | None = None
    subfolder: str | None = None
    mvsep_label: str | None = None


@dataclass(frozen=True)
class OutputTarget:
    """Where one stem is staged and where it ends up."""

    label: str
    staged: Path
    final: Path
    mvsep_label: str | None = None


@dataclass(frozen=True)
class OutputPlan:
    """Every file of one job, and where its manifest goes."""

    job_id: int
    root: Path
    staging_dir: Path
    targets: tuple[OutputTarget, ...]
    manifest: Path


@dataclass(frozen=True)
class WrittenFile:
    """A stem in its final place: what it is (``label``) and what MVSEP called it."""

    label: str
    path: Path
    size: int
    sha256: str
    mvsep_label: str | None = None


#: A stem keeps the server's extension only when it is an audio one (``AUDIO_EXTENSIONS``):
#: the server names the file and sends its bytes, and were any extension taken it could place
#: "song - Vocals.desktop" (or .exe, .command, .lnk) where the user double-clicks stems.
#: Longest stem label used in a file name: real labels ("Instrumental") are far shorter, and
#: a bounded label leaves room in 255 bytes for the " 2" that keeps two stems apart.
MAX_LABEL_BYTES = 100


def extension_of(names: Iterable[str | None], default: str) -> str:
    """Return the extension of the first name (a download name, a URL) with an audio one, or
    with one of the other kinds of result MVSEP makes (MIDI, text); else ``default``."""
    for name in names:
        if not name:
            continue
        last = PurePosixPath(urlsplit(name).path).name if "://" in name else name
        if "." in last:
            extension = last.rsplit(".", 1)[1].lower()
            if extension in AUDIO_EXTENSIONS or extension in OTHER_RESULT_EXTENSIONS:
                return extension
    return default


def is_audio(extension: str) -> bool:
    """True for the extensions of audio stems (not MIDI or text results)."""
    return extension in AUDIO_EXTENSIONS


def staging_dir(root: Path, job_id: int, lease_epoch: int = 0) -> Path:
    """Return the staging folder of a job below an output root. A studio job taken over by
    another host stages apart (``job-N-eE``), so what the host that lost it may still write
    is never placed."""
    suffix = f"-e{lease_epoch}" if lease_epoch > 1 else ""
    return root / STAGING_DIR_NAME / f"job-{job_id}{suffix}"


def delivery_staging_dir(root: Path, delivery_id: int) -> Path:
    """Return the staging folder of a second place a job's results go (its own output root)."""
    return root / STAGING_DIR_NAME / f"delivery-{delivery_id}"


def plan(
    *,
    job_id: int,
    root: Path,
    template: str,
    values: Mapping[str, str],
    stems: Sequence[StemRequest],
    staging: Path | None = None,
    manifest_name: str = MANIFEST_NAME,
) -> OutputPlan:
    """Return the job's output plan, reusing the one saved by an interrupted earlier attempt.

    ``values`` holds the per-track placeholders (``track``, ``preset``, ``subdir``, ``step``).
    Two stems with the same label get " 2", " 3" added to the later ones so that none
    overwrites another. ``staging`` defaults to the job's own staging folder; a second place
    for the same job's results stages apart (``delivery_staging_dir``).
    """
    staging = staging or staging_dir(root, job_id)
    saved = _load_plan(staging)
    if saved is not None and [t.label for t in saved.targets] == [s.label for s in stems]:
        return saved
    targets: list[OutputTarget] = []
    used: set[Path] = set()
    for index, stem in enumerate(stems):
        label = naming.truncate_bytes(stem.label, MAX_LABEL_BYTES) or "Result"
        mvsep = naming.truncate_bytes(stem.mvsep_label or stem.label, MAX_LABEL_BYTES) or label
        names = {"stem": label, "mvsep_stem": mvsep, "ext": stem.extension}
        final = naming.render(template, {**values, **names}, root=root)
        if stem.subfolder is not None:
            final = final.parent / naming.safe_component(stem.subfolder) / final.name
        # At most len(stems) names are taken, so one of these numbers is free; the bound keeps
        # a template that cannot tell numbered names apart from looping for ever.
        for counter in range(2, len(stems) + 2):
            if final not in used:
                break
            numbered = {"stem": f"{label} {counter}", "mvsep_stem": f"{mvsep} {counter}"}
            final = naming.render(
                template, {**values, **numbered, "ext": stem.extension}, root=root
            )
            if stem.subfolder is not None:
                final = final.parent / naming.safe_component(stem.subfolder) / final.name
        if final in used:
            raise OutputError(f"cannot give the stem {stem.label!r} a name of its own")
        used.add(final)
        staged = staging / (
            stem.staged_name or f"{index:02d}.{naming.safe_component(stem.extension)}"
        )
        targets.append(OutputTarget(label, staged, final, stem.mvsep_label or stem.label))
    directories = {
        target.final.parent
        for target, stem in zip(targets, stems, strict=True)
        if stem.subfolder is None
    } or {target.final.parent for target in targets}
    if not directories:
        # Nothing is kept (a chain step that only feeds the next): its manifest goes where
        # its stems would have gone.
        directories = {
            naming.render(template, {**values, "stem": "_", "ext": "_"}, root=root).parent
        }
    if len(directories) == 1:
        manifest = next(iter(directories)) / manifest_name
    else:
        common = Path(os.path.commonpath([str(d) for d in directories]))
        track = naming.safe_component(values.get("track", "track"))
        manifest = common / naming.truncate_name(f"{track}.{manifest_name}")
    result = OutputPlan(job_id, root, staging, tuple(targets), manifest)
    return result


def prepare(output_plan: OutputPlan) -> None:
    """Create the staging folder and save the plan. Raise OutputError if the root is unusable."""
    try:
        output_plan.staging_dir.mkdir(parents=True, exist_ok=True)
        files.write_atomically(
            output_plan.staging_dir / _PLAN_NAME,
            json.dumps(
                {
                    "job_id": output_plan.job_id,
                    "root": str(output_plan.root),
                    "manifest": str(output_plan.manifest),
                    "targets": [
                        {
                            "label": t.label,
                            "mvsep_label": t.mvsep_label,
                            "staged": str(t.staged),
                            "final": str(t.final),
                        }
                        for t in output_plan.targets
                    ],
                },
                indent=2,
            ),
        )
    except OSError as error:
        raise OutputError(
            f"cannot write below {output_plan.root}: {error.strerror or error}"
        ) from None


def finalize(
    output_plan: OutputPlan,
    manifest: Mapping[str, Any],
    *,
    on_collision: Collision = "unique",
    keep_staging: bool = False,
    owned: frozenset[Path] = frozenset(),
    digests: Mapping[Path, str] | None = None,
) -> list[WrittenFile]:
    """Move every staged stem to its final name, write the manifest, remove the staging folder
    (unless ``keep_staging``: it also holds downloads the caller still needs, such as a chain
    step's stem for the next step; the caller removes it). A final name in ``owned`` (an
    output an earlier attempt of the same job placed, per its manifest) is replaced, whatever
    the collision policy: a retried job's stems take their own earlier place. ``digests``
    holds the SHA-256 of staged files already hashed when they were written (by staged path):
    a stem moved into place is not read again for the manifest.

    Safe to call again after an interruption: stems already moved are recognised. Raise
    OutputError when a stem is missing, a name is taken and the policy is "fail", or the disk
    refuses.
    """
    progress = _load_progress(output_plan.staging_dir)
    known = dict(digests or {})
    written: list[WrittenFile] = []
    try:
        for target in output_plan.targets:
            key = str(target.final)
            recorded = Path(progress[key]) if key in progress else None
            digest = known.get(target.staged)
            if not target.staged.exists():
                digest = None
                if recorded is None or not recorded.exists():
                    raise OutputError(f"the stem {target.label!r} was not downloaded")
                placed = recorded  # moved by an earlier, interrupted attempt
            elif recorded is not None and files.same_file(recorded, target.staged):
                placed = recorded  # linked by an earlier attempt that died before the unlink
                target.staged.unlink()
            else:
                # A name recorded by an interrupted attempt is this job's own unless a file
                # appeared there since; then (or with no record) the policy picks the name.
                if recorded is not None and not recorded.exists():
                    placed = recorded
                elif target.final in owned:
                    placed = target.final
                else:
                    placed = files.free_name(target.final, on_collision)
                placed.parent.mkdir(parents=True, exist_ok=True)
                while True:
                    # Recorded before the move: a stem moved by an attempt that died right
                    # after must be known as this job's, not placed a second time as "(2)".
                    if progress.get(key) != str(placed):
                        progress[key] = str(placed)
                        _save_progress(output_plan.staging_dir, progress)
                    try:
                        files.publish(
                            target.staged,
                            placed,
                            replace=on_collision == "replace" or placed in owned,
                        )
                        break
                    except FileExistsError:
                        # Taken since it was found free (another host placing on a share).
                        placed = files.free_name(target.final, on_collision)
            written.append(
                WrittenFile(
                    target.label,
                    placed,
                    placed.stat().st_size,
                    digest or file_sha256(placed),
                    target.mvsep_label or target.label,
                )
            )
        document = {**manifest, "outputs": [_written_entry(item) for item in written]}
        manifest_path = output_plan.manifest
        if manifest_path.exists() and on_collision != "replace":
            existing = files.read_json(manifest_path)
            if existing.get("job_id") != manifest.get("job_id"):
                manifest_path = files.free_name(manifest_path, "unique")
        # Written through the staging folder, so a half-written manifest goes with it.
        files.write_atomically(
            manifest_path,
            json.dumps(document, indent=2, ensure_ascii=False),
            temporary_dir=output_plan.staging_dir,
        )
    except OSError as error:
        raise OutputError(
            f"cannot write stems below {output_plan.root}: {error.strerror or error}"
        ) from None
    if not keep_staging:
        discard(output_plan.staging_dir)
    return written


def make_staging(staging: Path) -> None:
    """Create a staging folder. Raise OutputError if its output root is unusable."""
    try:
        staging.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        root = staging.parent.parent
        raise OutputError(f"cannot write below {root}: {error.strerror or error}") from None


def write_json(path: Path, document: Mapping[str, Any]) -> None:
    """Write a JSON document whole or not at all (through a temporary file beside it)."""
    files.write_atomically(path, json.dumps(dict(document), indent=2, ensure_ascii=False))


def already_placed(output_plan: OutputPlan) -> set[Path]:
    """Return the final names of the stems an interrupted ``finalize`` already moved in place."""
    progress = _load_progress(output_plan.staging_dir)
    return {
        target.final
        for target in output_plan.targets
        if str(target.final) in progress and Path(progress[str(target.final)]).is_file()
    }


def written_manifest(output_plan: OutputPlan) -> dict[str, Any] | None:
    """Return the manifest ``finalize`` wrote for the plan's job, or None if it got not so far.

    Looks at the plan's manifest name and the " (n)" names ``finalize`` picks when another
    job's manifest is in the way.
    """
    manifest = output_plan.manifest
    pattern = f"{glob.escape(manifest.stem)} (*){glob.escape(manifest.suffix)}"
    for path in [manifest, *sorted(manifest.parent.glob(pattern))]:
        document = files.read_json(path)
        if document.get("job_id") == output_plan.job_id:
            return document
    return None


def sweep_staging(
    root: Path, keep: Callable[[int], bool], keep_delivery: Callable[[int], bool]
) -> list[Path]:
    """Remove the staging folders below ``root`` of jobs and deliveries that are over (failed,
    cancelled, done, unknown: ``keep`` and ``keep_delivery`` say False); return what went."""
    removed: list[Path] = []
    parent = root / STAGING_DIR_NAME
    try:
        entries = list(parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        kind, _, rest = entry.name.partition("-")
        number = rest.split("-e", 1)[0]
        if number.isdigit() and (
            (kind == "job" and keep(int(number)))
            or (kind == "delivery" and keep_delivery(int(number)))
        ):
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    with contextlib.suppress(OSError):
        parent.rmdir()
    return removed


def discard(staging: Path) -> None:
    """Remove a job's staging folder (and the staging parent when it is left empty)."""
    shutil.rmtree(staging, ignore_errors=True)
    # Other jobs may still stage there (rmdir refuses a non-empty folder), or it is gone.
    with contextlib.suppress(OSError):
        staging.parent.rmdir()


def _written_entry(item: WrittenFile) -> dict[str, Any]:
    entry = asdict(item)
    entry["path"] = str(item.path)
    entry["name"] = item.path.name
    return entry


def _load_plan(staging: Path) -> OutputPlan | None:
    data = files.read_json(staging / _PLAN_NAME)
    try:
        targets = tuple(
            OutputTarget(
                str(t["label"]),
                Path(t["staged"]),
                Path(t["final"]),
                str(t.get("mvsep_label") or t["label"]),
            )
            for t in data["targets"]
        )
        return OutputPlan(
            int(data["job_id"]), Path(data["root"]), staging, targets, Path(data["manifest"])
        )
    except (KeyError, TypeError, ValueError):
        return None


def _load_progress(staging: Path) -> dict[str, str]:
    data = files.read_json(staging / "moved.json")
    return {str(key): str(value) for key, value in data.items()}


def _save_progress(staging: Path, progress: Mapping[str, str]) -> None:
    files.write_atomically(staging / "moved.json", json.dumps(dict(progress)))
