"""Audio files (adapter; with ``mvsepd.emulator`` the only importer of soundfile and soxr; the
only importer of mutagen).

``readiness`` answers whether a file in a hot folder is complete and what it is; ``formats``
describes a source as its stems must match it and picks the stems' format; ``conforming`` brings
MVSEP's stems to that format (``decode``, ``stream``, ``align``, ``riff``, ``stamping`` and
``tagging`` are its parts); ``upload`` chooses what an upload sends (the file, or its samples
as lossless FLAC); ``demo`` writes the demo's track the way a DAW exports one.

Every name is imported on first use: numpy and libsndfile cost an idle daemon 12 MB and, via
OpenBLAS, a thread per core, and are not needed until the first file arrives. The daemon does
no linear algebra, so BLAS gets one thread.

No submodule may carry the name of a public function or class: importing a submodule binds it
as an attribute of this package, and from then on that attribute (the module) hides the name
``__getattr__`` would have resolved. The module that conforms stems was once ``conform.py``:
after the first ``verify`` imported it, ``audio.conform`` was that module, and every conforming
job failed with "'module' object is not callable". tests/audio/test_package.py keeps the rule.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

# Before numpy loads anywhere through this package: OpenBLAS starts a thread per core otherwise.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

if TYPE_CHECKING:
    from mvsepd.audio.conforming import conform
    from mvsepd.audio.formats import (
        Conform,
        SourceAudio,
        StemFormat,
        TargetFormat,
        choose_target,
        describe,
    )
    from mvsepd.audio.listening import Listening, Peaks, Segment, compute_peaks, segment
    from mvsepd.audio.readiness import AudioCheck, AudioInfo, Completeness, check, probe
    from mvsepd.audio.reports import RESIDUAL_LABEL, ConformReport, StemFile
    from mvsepd.audio.rewrapping import rewrap
    from mvsepd.audio.stemwise import Conversion
    from mvsepd.audio.upload import UploadEncoding, UploadPlan, plan_upload
    from mvsepd.audio.verifying import verify, verify_one

_HOMES = {
    "conform": "conforming",
    "verify": "verifying",
    "verify_one": "verifying",
    "Conversion": "stemwise",
    "Conform": "formats",
    "SourceAudio": "formats",
    "StemFormat": "formats",
    "TargetFormat": "formats",
    "choose_target": "formats",
    "describe": "formats",
    "Listening": "listening",
    "Peaks": "listening",
    "Segment": "listening",
    "compute_peaks": "listening",
    "segment": "listening",
    "AudioCheck": "readiness",
    "AudioInfo": "readiness",
    "Completeness": "readiness",
    "check": "readiness",
    "probe": "readiness",
    "RESIDUAL_LABEL": "reports",
    "ConformReport": "reports",
    "StemFile": "reports",
    "rewrap": "rewrapping",
    "UploadEncoding": "upload",
    "UploadPlan": "upload",
    "plan_upload": "upload",
}

__all__ = [
    "RESIDUAL_LABEL",
    "AudioCheck",
    "AudioInfo",
    "Completeness",
    "Conform",
    "ConformReport",
    "Conversion",
    "Listening",
    "Peaks",
    "Segment",
    "SourceAudio",
    "StemFile",
    "StemFormat",
    "TargetFormat",
    "UploadEncoding",
    "UploadPlan",
    "check",
    "choose_target",
    "compute_peaks",
    "conform",
    "describe",
    "plan_upload",
    "probe",
    "rewrap",
    "segment",
    "verify",
    "verify_one",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
