"""Audio files (adapter; with ``mvsepd.emulator`` the only importer of soundfile and soxr).

``readiness`` answers whether a file in a hot folder is complete and what it is; ``formats``
describes a source as its stems must match it and picks the stems' format; ``conform`` brings
MVSEP's stems to that format (``decode``, ``stream``, ``align`` and ``riff`` are its parts);
``demo`` writes the demo's track the way a DAW exports one.
"""

from mvsepd.audio.conform import conform, verify
from mvsepd.audio.formats import (
    Conform,
    SourceAudio,
    StemFormat,
    TargetFormat,
    choose_target,
    describe,
)
from mvsepd.audio.readiness import AudioCheck, AudioInfo, Completeness, check, probe
from mvsepd.audio.reports import RESIDUAL_LABEL, ConformReport, StemFile
from mvsepd.audio.upload import UploadEncoding, UploadPlan, plan_upload

__all__ = [
    "RESIDUAL_LABEL",
    "AudioCheck",
    "AudioInfo",
    "Completeness",
    "Conform",
    "ConformReport",
    "SourceAudio",
    "StemFile",
    "StemFormat",
    "TargetFormat",
    "UploadEncoding",
    "UploadPlan",
    "check",
    "choose_target",
    "conform",
    "describe",
    "plan_upload",
    "probe",
    "verify",
]
