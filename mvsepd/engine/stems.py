"""Between download and placing: which of a job's result files one delivery places, what each
is written as, and conforming them to their source in the delivery's staging folder.

``lay_out`` decides, before anything is downloaded, the files a delivery places: one per kept
MVSEP result (audio stems in the source's container when they are conformed; MIDI and text as
they come), a ``Residual`` when asked, and MVSEP's own files in a subfolder with
``keep_mvsep_files``. Downloads are shared by every delivery of a job (``mvsep-NN.ext`` in the
job's staging folder); ``process`` runs ``mvsepd.audio`` on them, copies what is placed as sent,
and saves its report in the delivery's staging folder: the report is the mark that the stems
are ready, so a delivery killed while placing them does not convert them again, and one killed
while converting starts over (its ``.part`` files are never placed).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from mvsepd import audio, outputs
from mvsepd.config.defaults import FolderSettings
from mvsepd.domain import naming
from mvsepd.errors import AudioError
from mvsepd.models import JobRecord, ResultFile

log = structlog.get_logger("mvsepd.engine")

_REPORT_NAME = "conform.json"
MVSEP_FILES_FOLDER = "MVSEP files"


@dataclass(frozen=True)
class ResultLayout:
    """The files one delivery places, in ``outputs.plan`` order, and where each comes from."""

    requests: tuple[outputs.StemRequest, ...]
    #: Staging file name of each MVSEP result's download (shared by a job's deliveries).
    downloads: tuple[str, ...]
    #: Which MVSEP results are audio stems.
    is_audio: tuple[bool, ...]
    #: For each MVSEP result, the request that places it (None when it is not kept).
    target_of: tuple[int | None, ...]
    #: For each request, the result whose download is copied as it is (None: written here).
    copy_from: tuple[int | None, ...]
    #: The stems are conformed (else placed as MVSEP sent them).
    conforming: bool
    #: The request of the Residual stem, if one is written.
    residual_index: int | None
    settings: FolderSettings
    source: audio.SourceAudio | None
    #: Why stems are placed as sent although the folder asks to conform them.
    unconformed_because: str | None = None
    #: What each MVSEP result is called (``name_of`` its label): in file names, in the
    #: stems' Broadcast WAV description and in the conform report.
    names: tuple[str, ...] = ()

    @property
    def needed(self) -> frozenset[int]:
        """The results this delivery reads (all audio, for the null figure; kept others)."""
        return frozenset(
            index
            for index in range(len(self.downloads))
            if self.target_of[index] is not None or (self.is_audio[index] and self.conforming)
        )


def stem_format(settings: FolderSettings) -> audio.StemFormat:
    """The audio adapter's view of a folder's stem settings."""
    return audio.StemFormat(
        conform=audio.Conform(settings.conform),
        container=settings.container,
        sample_format=settings.sample_format,
        channels=settings.channels,
        residual=settings.residual,
        tags=settings.tags,
    )


def source_audio(job: JobRecord, path: Path | None = None) -> audio.SourceAudio | None:
    """What a job's source is, as recorded when it was probed (or read now from ``path``)."""
    if job.source_audio and path is None:
        try:
            return audio.SourceAudio.from_json(json.loads(job.source_audio))
        except (AudioError, ValueError):
            pass
    try:
        return audio.describe(path or Path(job.source_path))
    except (AudioError, OSError):
        return None


def download_name(index: int, result: ResultFile, default_extension: str) -> str:
    """Where result ``index`` is downloaded in the job's staging folder."""
    extension = outputs.extension_of((result.download_name, result.url), default_extension)
    return f"mvsep-{index:02d}.{naming.safe_component(extension)}"


def lay_out(
    files: Sequence[ResultFile],
    default_extension: str,
    settings: FolderSettings,
    source_of: Callable[[], audio.SourceAudio | None],
    keeps: Callable[[str], bool] = lambda label: True,
    name_of: Callable[[str], str] = lambda label: label,
) -> ResultLayout:
    """Decide the files a delivery places (see the module docstring); ``source_of`` tells what
    the source is (asked only when there are stems to conform), ``keeps`` which labels are
    written out (a chain step's ``keep``), ``name_of`` what a stem MVSEP labels so is called
    in file names (``naming.stem_namer``)."""
    extensions = [
        outputs.extension_of((result.download_name, result.url), default_extension)
        for result in files
    ]
    is_audio = tuple(outputs.is_audio(extension) for extension in extensions)
    source = source_of() if settings.conform == "source" and any(is_audio) else None
    why = None
    if settings.conform == "source" and any(is_audio) and source is None:
        why = "the source cannot be decoded here (m4a/AAC needs ffmpeg): stems placed as sent"
    target = audio.choose_target(source, stem_format(settings)) if source is not None else None
    requests: list[outputs.StemRequest] = []
    copy_from: list[int | None] = []
    target_of: list[int | None] = []
    for index, (result, extension, stem_is_audio) in enumerate(
        zip(files, extensions, is_audio, strict=True)
    ):
        label = result.type or "Result"
        if not keeps(label):
            target_of.append(None)
            continue
        target_of.append(len(requests))
        name = name_of(label)
        if stem_is_audio and target is not None:
            requests.append(outputs.StemRequest(name, target.extension, mvsep_label=label))
            copy_from.append(None)
        else:
            requests.append(outputs.StemRequest(name, extension, mvsep_label=label))
            copy_from.append(index)
    residual_index = None
    if target is not None and settings.residual:
        residual_index = len(requests)
        requests.append(outputs.StemRequest(audio.RESIDUAL_LABEL, target.extension))
        copy_from.append(None)
    if target is not None and settings.keep_mvsep_files:
        for index, result in enumerate(files):
            if is_audio[index] and target_of[index] is not None:
                requests.append(
                    outputs.StemRequest(
                        name_of(result.type or "Result"),
                        extensions[index],
                        staged_name=f"kept-{index:02d}.{naming.safe_component(extensions[index])}",
                        subfolder=MVSEP_FILES_FOLDER,
                        mvsep_label=result.type or "Result",
                    )
                )
                copy_from.append(index)
    return ResultLayout(
        requests=tuple(requests),
        downloads=tuple(
            download_name(index, result, default_extension) for index, result in enumerate(files)
        ),
        is_audio=is_audio,
        target_of=tuple(target_of),
        copy_from=tuple(copy_from),
        conforming=target is not None,
        residual_index=residual_index,
        settings=settings,
        source=source,
        unconformed_because=why,
        names=tuple(name_of(result.type or "Result") for result in files),
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
    downloads: Path,
    source_name: str,
    original: Path | None,
    origin: str,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Conform (or, with ``conform: off``, decode-check) the downloaded stems, copy what is
    placed as sent into the staging folder; save and return the report. ``original`` is the
    source file when it still holds the job's audio.

    Raises AudioError naming a stem that does not decode.
    """
    stems: list[audio.StemFile] = []
    placed: list[audio.StemFile] = []
    for index, result in enumerate(files):
        if not layout.is_audio[index] or index not in layout.needed:
            continue
        downloaded = downloads / layout.downloads[index]
        request = layout.target_of[index]
        output = plan.targets[request].staged if request is not None else None
        stem = audio.StemFile(
            label=layout.names[index] if layout.names else result.type or "Result",
            downloaded=downloaded,
            output=output if layout.conforming else None,
            name=result.download_name or downloaded.name,
        )
        stems.append(stem)
        if request is not None:
            placed.append(stem)
    if layout.conforming and layout.source is not None:
        residual = layout.residual_index
        report = audio.conform(
            layout.source,
            original,
            stems,
            stem_format(layout.settings),
            source_name=source_name,
            origin=origin,
            residual_output=plan.targets[residual].staged if residual is not None else None,
            progress=progress,
        )
    else:
        report = audio.verify(placed)
        if layout.unconformed_because:
            report.notes.append(layout.unconformed_because)
    for request, source in enumerate(layout.copy_from):
        if source is not None:
            copy_into(downloads / layout.downloads[source], plan.targets[request].staged)
    document = report.to_json()
    outputs.write_json(plan.staging_dir / _REPORT_NAME, document)
    for note in document.get("notes", []):
        log.info("stems_note", job=plan.job_id, note=note)
    return document


def copy_into(source: Path, target: Path) -> None:
    """Place a download in the staging folder as it is: a hard link where the file system
    allows (no second copy of the bytes), else a copy through a temporary name."""
    if target.exists():
        return
    try:
        os.link(source, target)
        return
    except OSError:
        pass
    temporary = target.with_name(f".{target.name}.part")
    shutil.copyfile(source, temporary)
    os.replace(temporary, target)
