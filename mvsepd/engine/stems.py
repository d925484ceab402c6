"""Between download and placing: which of a job's result files one delivery places, what each
is written as, and conforming them to their source in the delivery's staging folder.

``lay_out`` decides, before anything is downloaded, the files a delivery places: one per kept
MVSEP result (audio stems in the source's container when they are conformed; MIDI and text as
they come), a ``Residual`` when asked, and MVSEP's own files in a subfolder with
``keep_mvsep_files``. Downloads are shared by every delivery of a job (``mvsep-NN.ext`` in the
job's staging folder); ``engine.converting`` runs ``mvsepd.audio`` on them, each as its
download completes, copies what is placed as sent, and saves its report (``save_report``) in
the delivery's staging folder: the report is the mark that the stems are ready, so a delivery
killed while placing them does not convert them again, and one killed while converting starts
over (its ``.part`` files are never placed).
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
    #: For each request, the result whose samples are written unchanged in another container
    #: (MVSEP's FLAC 16 as the WAV 16 the preset asked for; None: not rewrapped).
    rewrap_from: tuple[int | None, ...] = ()

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
    *,
    rewrap_as: str | None = None,
) -> ResultLayout:
    """Decide the files a delivery places (see the module docstring); ``source_of`` tells what
    the source is (asked only when there are stems to conform), ``keeps`` which labels are
    written out (a chain step's ``keep``), ``name_of`` what a stem MVSEP labels so is called
    in file names (``naming.stem_namer``), ``rewrap_as`` the extension of the format the
    preset asked for when MVSEP was asked for another holding the same samples (its audio
    stems, when not conformed, are rewrapped into it)."""
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
    rewrap_from: list[int | None] = []
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
            rewrap_from.append(None)
        elif stem_is_audio and rewrap_as is not None:
            requests.append(outputs.StemRequest(label, rewrap_as))
            copy_from.append(None)
            rewrap_from.append(index)
        else:
            requests.append(outputs.StemRequest(name, extension, mvsep_label=label))
            copy_from.append(index)
            rewrap_from.append(None)
    residual_index = None
    if target is not None and settings.residual:
        residual_index = len(requests)
        requests.append(outputs.StemRequest(audio.RESIDUAL_LABEL, target.extension))
        copy_from.append(None)
        rewrap_from.append(None)
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
                rewrap_from.append(None)
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
        rewrap_from=tuple(rewrap_from),
    )


def saved_report(plan: outputs.OutputPlan) -> dict[str, Any] | None:
    """The report of a conversion that finished in this staging folder, if there is one."""
    try:
        document = json.loads((plan.staging_dir / _REPORT_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def save_report(plan: outputs.OutputPlan, report: audio.ConformReport) -> dict[str, Any]:
    """Save a conversion's report in the staging folder (the mark that its stems are ready);
    return it as JSON."""
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
