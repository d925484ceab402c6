"""One take in full, for its page: the source, each result (a preset of a fan-out, a step of a
chain) with the stems its manifest lists and the facts about them, and the files a browser may
fetch.

A browser names a file only by a job id and a stem's index in that job's manifest (or the take's
source by the take's id), never by a path; a file is handed out only when the manifest lists it,
it lies below its folder's stems root (a manifest is a file in the user's folder and could be
edited to point elsewhere), and it is a regular file. Read-only: nothing here changes a job.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mvsepd.audio import riff
from mvsepd.engine.context import Context
from mvsepd.errors import NotServedError, StoreError
from mvsepd.models import JobRecord
from mvsepd.outputs.reading import find_manifest
from mvsepd.statusapi.takes import take_ids

#: Jobs looked at to find a take's members (a take's jobs are made close together).
_NEIGHBOURS = 500


@dataclass(frozen=True)
class ServedFile:
    """A file a browser may fetch, and what to call it."""

    path: Path
    name: str
    size: int


class TakeView:
    """Takes of a running engine's store, as their page shows them."""

    def __init__(self, context: Context) -> None:
        self._context = context

    def members(self, take_id: int) -> list[JobRecord]:
        """The jobs of take ``take_id`` (its first job's id), oldest first; NotServedError
        when there is no such take."""
        store = self._context.store
        try:
            first = store.get(take_id)
        except StoreError:
            raise NotServedError(f"no take {take_id}") from None
        neighbours = {record.id: record for record in store.recent(_NEIGHBOURS)}
        neighbours[first.id] = first
        takes = take_ids(neighbours.values(), store.get)
        if takes.get(take_id) != take_id:
            raise NotServedError(f"no take {take_id}")  # a later job of some take
        return sorted(
            (record for record in neighbours.values() if takes[record.id] == take_id),
            key=lambda record: record.id,
        )

    def member(self, take_id: int, job_id: int) -> JobRecord:
        """Job ``job_id`` when it belongs to take ``take_id``; NotServedError for any other
        pair, such as a forged one naming a job of another take or another folder, or a take
        id that is not a take's first job."""
        for record in self.members(take_id):
            if record.id == job_id:
                return record
        raise NotServedError(f"job {job_id} is not part of take {take_id}")

    def source(self, take_id: int) -> dict[str, Any]:
        """What the take's source is, and whether it can still be played as it was sent."""
        first = self.members(take_id)[0]
        audio = _json(first.source_audio)
        path = Path(str(first.input.get("root_path") or first.source_path))
        playable = _regular_size(path) is not None and first.input_kind == "file"
        seconds = None
        if audio.get("rate") and audio.get("frames") is not None:
            seconds = round(int(audio["frames"]) / int(audio["rate"]), 3)
        return {
            "name": path.name,
            "path": str(path),
            "playable": playable,
            "why_not": None if playable else f"the source is no longer at {path}",
            "rate": audio.get("rate"),
            "channels": audio.get("channels"),
            "frames": audio.get("frames"),
            "seconds": seconds,
            "container": audio.get("container"),
            "sample_format": audio.get("subtype"),
            "bwf_time": _bwf_time(path, audio.get("rate")) if playable else None,
        }

    def results(self, take_id: int) -> list[dict[str, Any]]:
        """Each job of the take with its manifest's facts and stems (none until placed)."""
        return [self._result(job) for job in self.members(take_id)]

    def _result(self, job: JobRecord) -> dict[str, Any]:
        found = find_manifest(Path(job.output_dir), job.id) if job.output_dir else None
        manifest: Mapping[str, Any] = found[1] if found is not None else {}
        conform = manifest.get("conform") or {}
        facts = {str(stem.get("label")): stem for stem in conform.get("stems") or []}
        stems = []
        for index, output in enumerate(manifest.get("outputs") or []):
            label = str(output.get("label", ""))
            stem_facts = facts.get(label, {})
            written = stem_facts.get("written") or stem_facts.get("mvsep") or {}
            sent = stem_facts.get("mvsep") or {}
            stems.append(
                {
                    "index": index,
                    "label": label,
                    "name": output.get("name"),
                    "size": output.get("size"),
                    "rate": written.get("rate"),
                    "channels": written.get("channels"),
                    "frames": written.get("frames"),
                    "container": written.get("container"),
                    "sample_format": written.get("subtype"),
                    "clipped_samples": stem_facts.get("clipped_samples"),
                    "mvsep_sent": {
                        key: sent.get(key)
                        for key in ("name", "container", "subtype", "rate", "channels")
                    }
                    if sent
                    else None,
                    "residual": bool(stem_facts.get("residual")),
                }
            )
        chain, step = job.input.get("chain"), job.input.get("step")
        return {
            "job": job.id,
            "preset": job.preset_name,
            "chain": chain,
            "step": step,
            "from_stem": job.from_stem,
            "algorithm": (manifest.get("preset") or {}).get("algorithm"),
            "state": job.state.value,
            "credits": job.credits_estimate,
            "null_db": conform.get("null_db"),
            "lag_samples": conform.get("lag_samples"),
            "upload": (manifest.get("upload") or {}).get("detail"),
            "timings": manifest.get("timings"),
            "placed": found is not None,
            "stems": stems,
        }

    def stem_file(self, job_id: int, index: int) -> ServedFile:
        """The stem ``index`` of job ``job_id``'s manifest, when it may be served."""
        try:
            job = self._context.store.get(job_id)
        except StoreError:
            raise NotServedError(f"no job {job_id}") from None
        found = find_manifest(Path(job.output_dir), job.id) if job.output_dir else None
        outputs = found[1].get("outputs") if found is not None else None
        if not isinstance(outputs, list) or not 0 <= index < len(outputs):
            raise NotServedError(f"job {job_id} has no stem {index}")
        path = Path(str(outputs[index].get("path", "")))
        if not self._below_stems_root(job, path):
            raise NotServedError(f"job {job_id}'s stem {index} is not where its stems go")
        size = _regular_size(path)
        if size is None:
            raise NotServedError(f"job {job_id}'s stem {index} is gone")
        return ServedFile(path, path.name, size)

    def source_file(self, take_id: int) -> ServedFile:
        """The take's source, when it is still there (for A/B against the stems)."""
        first = self.members(take_id)[0]
        path = Path(str(first.input.get("root_path") or first.source_path))
        size = _regular_size(path)
        if size is None or first.input_kind != "file":
            raise NotServedError(f"take {take_id}'s source is not there")
        return ServedFile(path, path.name, size)

    def _below_stems_root(self, job: JobRecord, path: Path) -> bool:
        folder = self._context.folders.get(Path(job.folder_path))
        roots = [Path(job.output_dir)] if job.output_dir else []
        if folder is not None:
            roots.append(folder.output_root)
        try:
            real = path.resolve(strict=True)
        except OSError:
            return False
        for root in roots:
            try:
                real.relative_to(root.resolve())
            except (OSError, ValueError):
                continue
            return True
        return False


def _regular_size(path: Path) -> int | None:
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_size if stat.S_ISREG(found.st_mode) else None


def _json(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _bwf_time(path: Path, rate: object) -> str | None:
    """The source's Broadcast WAV timestamp as ``hh:mm:ss.mmm`` after midnight, if it has one."""
    if path.suffix.lower() not in (".wav", ".bwf", ".rf64"):
        return None
    if not isinstance(rate, int) or rate <= 0:
        return None
    try:
        bext, _ixml = riff.read_metadata(path)
    except OSError:
        return None
    parsed = riff.Bext.parse(bext) if bext else None
    if parsed is None:
        return None
    seconds = parsed.time_reference / rate
    hours, rest = divmod(seconds, 3600)
    minutes, rest = divmod(rest, 60)
    return f"{int(hours):02d}:{int(minutes):02d}:{rest:06.3f}"
