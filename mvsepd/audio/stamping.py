"""What a source gives every stem besides its samples, written onto the finished ``.part`` files:
the Broadcast WAV timestamp (``bext`` with the TimeReference at the stem's rate, the source's
origination date and time, a description naming the stem and preset and a coding-history line;
iXML rewritten to match, or dropped) and the source's tags (``tagging``). A WAV stem gets its
chunks in one copy, all before ``data``; a FLAC or AIFF stem its tags in place."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mvsepd import __version__
from mvsepd.audio import passes, riff, tagging
from mvsepd.audio.reports import ConformReport


def stamp_all(
    layout: passes.Layout,
    parts: Sequence[Path],
    labels: Sequence[str],
    report: ConformReport,
    *,
    origin: str,
    source_name: str,
    copy_tags: bool,
) -> None:
    """Give every output the source's timestamp (WAV) and tags; say what in ``report``."""
    target = layout.target
    stamps, report.timestamp = _timestamps(layout, labels, origin)
    tags, report.tags = tagging.for_stems(
        layout.source.tags,
        labels,
        copy=copy_tags,
        container=target.container,
        source_name=source_name,
    )
    for part, label, stamp, stem_tags in zip(parts, labels, stamps, tags, strict=True):
        if not target.carries_bext:
            tagging.write(part, target.container, stem_tags, label)
            continue
        chunks = stamp + tagging.riff_chunks(stem_tags)
        if not chunks:
            continue
        stamped_part = part.with_name(part.name + ".bwf")
        try:
            if not riff.insert_chunks(part, stamped_part, chunks):
                report.notes.append(f"{label}: too large for a RIFF WAV, no bext or tags written")
                continue
            os.replace(stamped_part, part)
        finally:
            stamped_part.unlink(missing_ok=True)


def _timestamps(
    layout: passes.Layout, labels: Sequence[str], origin: str
) -> tuple[list[list[tuple[bytes, bytes]]], dict[str, Any] | None]:
    """The ``bext`` (and iXML) chunks of each WAV output, and the timestamp written."""
    source, target, channels = layout.source, layout.target, layout.channels
    none: list[list[tuple[bytes, bytes]]] = [[] for _ in labels]
    original = riff.Bext.parse(source.bext) if source.bext is not None else None
    if original is None:
        return none, None
    if not target.carries_bext:
        return none, {"written": False, "why": f"{target.container} has no Broadcast WAV timestamp"}
    # The stems are at the source's rate, so the sample count since midnight stays as it is;
    # a timestamp copied across a rate change would place them minutes off.
    stamped = original.rescaled(source.rate, source.rate)
    ixml = None
    if source.ixml is not None and channels == source.channels:
        ixml = riff.ixml_with_timestamp(
            source.ixml, time_reference=stamped.time_reference, rate=source.rate
        )
    bits = target.integer_bits or (64 if target.subtype == "DOUBLE" else 32)
    mode = "mono" if channels == 1 else "stereo" if channels == 2 else "multichannel"
    # CodingHistory lines are comma-separated fields: keep the free text free of commas.
    text = origin.replace(",", ";")
    stamps = []
    for label in labels:
        bext = riff.Bext(
            description=f"{label} stem of {origin}",
            originator="mvsepd",
            originator_reference=f"MVSEPD{uuid.uuid4().hex[:26].upper()}",
            origination_date=original.origination_date,
            origination_time=original.origination_time,
            time_reference=stamped.time_reference,
            coding_history=_history(original.coding_history)
            + f"A=PCM,F={source.rate},W={bits},M={mode},T=mvsepd {__version__} {label}: {text}",
        )
        chunks = [(b"bext", bext.pack())]
        if ixml is not None:
            chunks.append((b"iXML", ixml))
        stamps.append(chunks)
    return stamps, {
        "written": True,
        "time_reference": stamped.time_reference,
        "rate": source.rate,
        "seconds_since_midnight": round(stamped.time_reference / source.rate, 6),
        "ixml": "rewritten" if ixml is not None else ("dropped" if source.ixml else None),
    }


def _history(previous: str) -> str:
    lines = [line for line in previous.replace("\r\n", "\n").split("\n") if line.strip()]
    return "".join(line + "\r\n" for line in lines)
