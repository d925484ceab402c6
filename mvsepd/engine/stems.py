"""Between download and placing: which of a job's result files are audio stems, what each is
written as, and conforming them to their source in the job's staging folder.

``lay_out`` decides, before anything is downloaded, the files a job places: one per MVSEP
result (audio stems in the source's container when they are conformed; MIDI and text as they
come), a ``Residual`` when asked, and MVSEP's own files in a subfolder with
``keep_mvsep_files``. ``process`` runs ``mvsepd.audio`` on the downloads and saves its report
in the staging folder: the report is the mark that the stems are conformed, so a job killed
while placing them does not conform them again, and a job killed while conforming starts the
conversion over (its ``.part`` files are never placed).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from mvsepd import audio, naming, outputs
from mvsepd.config import StemSettings
from mvsepd.errors import AudioError
from mvsepd.models import JobRecord, ResultFile

log = structlog.get_logger("mvsepd.engine")

_REPORT_NAME = "conform.json"
MVSEP_FILES_FOLDER = "MVSEP files"


@dataclass(frozen=True)
class ResultLayout:
    """The files one job places, in ``outputs.plan`` order, and where each download goes."""

    requests: tuple[outputs.StemRequest, ...]
    #: Staging file name of each MVSEP result's download, in ``files`` order.
    downloads: tuple[str, ...]
    #: Which MVSEP results are audio stems.
    is_audio: tuple[bool, ...]
    #: The stems are conformed (else placed as MVSEP sent them).
    conforming: bool
    residual: bool
    settings: StemSettings
    source: audio.SourceAudio | None
    #: Why stems are placed as sent although the folder asks to conform them.
    unconformed_because: str | None = None


def stem_format(settings: StemSettings) -> audio.StemFormat:
    """The audio adapter's view of a folder's stem settings."""
    return audio.StemFormat(
        conform=audio.Conform(settings.conform),
        container=settings.container,
        sample_format=settings.sample_format,
        channels=settings.channels,
        residual=settings.residual,
    )


def source_audio(job: JobRecord) -> audio.SourceAudio | None:
    """What the job's source is, as recorded when it was probed (or read now)."""
    if job.source_audio:
        try:
            return audio.SourceAudio.from_json(json.loads(job.source_audio))
        except (AudioError, ValueError):
            pass
    try:
        return audio.describe(Path(job.source_path))
    except (AudioError, OSError):
        return None


def lay_out(
    files: Sequence[ResultFile],
    default_extension: str,
    settings: StemSettings,
    source_of: Callable[[], audio.SourceAudio | None],
) -> ResultLayout:
    """Decide the files a job places (see the module docstring); ``source_of`` tells what the
    source is (asked only when there are stems to conform)."""
    extensions = [
        outputs.extension_of((result.download_name, result.url), default_extension)
        for result in files
    ]
    is_audio = tuple(outputs.is_audio(extension) for extension in extensions)
    source = source_of() if settings.conform == "source" and any(is_audio) else None
    why = None
    if settings.conform == "source" and any(is_audio) and source is None:
        why = "the source cannot be decoded here (m4a/AAC needs ffmpeg): stems placed as sent"
    conforming = source is not None
    target = audio.choose_target(source, stem_format(settings)) if source is not None else None
    requests: list[outputs.StemRequest] = []
    downloads: list[str] = []
    for index, (result, extension, stem_is_audio) in enumerate(
        zip(files, extensions, is_audio, strict=True)
    ):
        label = result.type or "Result"
        safe = naming.safe_component(extension)
        if stem_is_audio and target is not None:
            requests.append(outputs.StemRequest(label, target.extension))
            downloads.append(f"mvsep-{index:02d}.{safe}")
        else:
            requests.append(outputs.StemRequest(label, extension))
            downloads.append(f"{index:02d}.{safe}")
    residual = target is not None and settings.residual
    if residual and target is not None:
        requests.append(outputs.StemRequest(audio.RESIDUAL_LABEL, target.extension))
    if conforming and settings.keep_mvsep_files:
        for index, result in enumerate(files):
            if is_audio[index]:
                requests.append(
                    outputs.StemRequest(
                        result.type or "Result",
                        extensions[index],
                        staged_name=downloads[index],
                        subfolder=MVSEP_FILES_FOLDER,
                    )
                )
    return ResultLayout(
        tuple(requests), tuple(downloads), is_audio, conforming, residual, settings, source, why
    )


def saved_report(plan: outputs.OutputPlan) -> dict[str, Any] | None:
    """The report of a conversion that finished in this staging folder, if there is one."""
    try:
        document = json.loads((plan.staging_dir / _REPORT_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def process(
    plan: outputs.OutputPlan,
    layout: ResultLayout,
    files: Sequence[ResultFile],
    *,
    source_name: str,
    original: Path | None,
    origin: str,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Conform (or, with ``conform: off``, decode-check) the downloaded stems; save and return
    the report. ``original`` is the source file when it still holds the job's audio.

    Raises AudioError naming a stem that does not decode.
    """
    stems = []
    for index, result in enumerate(files):
        if not layout.is_audio[index]:
            continue
        downloaded = plan.staging_dir / layout.downloads[index]
        stems.append(
            audio.StemFile(
                label=result.type or "Result",
                downloaded=downloaded,
                output=plan.targets[index].staged,
                name=result.download_name or downloaded.name,
            )
        )
    if layout.conforming and layout.source is not None:
        residual_output = plan.targets[len(files)].staged if layout.residual else None
        report = audio.conform(
            layout.source,
            original,
            stems,
            stem_format(layout.settings),
            source_name=source_name,
            origin=origin,
            residual_output=residual_output,
            progress=progress,
        )
    else:
        report = audio.verify(stems)
        if layout.unconformed_because:
            report.notes.append(layout.unconformed_because)
    document = report.to_json()
    _save(plan.staging_dir / _REPORT_NAME, document)
    for note in document.get("notes", []):
        log.info("stems_note", job=plan.job_id, note=note)
    return document


def _save(path: Path, document: dict[str, Any]) -> None:
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(document, handle, ensure_ascii=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
