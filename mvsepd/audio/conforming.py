"""Conform a job's stems to their source: rate, channels, exact length, start, sample format,
container, Broadcast WAV timestamp and tags (``verifying.verify`` is ``conform: off``: MVSEP's
files are then placed as sent, without tags).

Everything streams in blocks (memory stays flat for a two-hour stem) and writes ``.part``
files beside the outputs, renamed into place only when every output of the job is complete:
a stem is conformed whole or not at all. The work is ``stemwise.Conversion``'s, one stem at a
time (the daemon hands it each stem as soon as its download is complete); ``conform`` is for
stems that are all at hand, converted side by side on every core. The null figure (RMS of
source − Σ stems relative to the source, in dB) and the subset of stems that nulls best (models
that add a derived stem, such as an instrumental beside vocals, drums, bass and other, do not
sum to the mix with all of them) come from products kept while each stem is written; the
optional ``Residual`` is the source minus that subset: what the model left out.

A stem that will not decode raises ``AudioError`` naming it; a source format that cannot be
matched is written in the nearest one, and the report says which and why.
"""

from __future__ import annotations

import concurrent.futures
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from mvsepd.audio.formats import SourceAudio, StemFormat
from mvsepd.audio.reports import ConformReport, StemFile
from mvsepd.audio.stemwise import Conversion


def conform(
    source: SourceAudio,
    source_path: Path | None,
    stems: Sequence[StemFile],
    wanted: StemFormat,
    *,
    source_name: str,
    origin: str,
    residual_output: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ConformReport:
    """Write every stem in the source's format (see the module docstring).

    ``source_path`` is the original when it still holds the job's audio (None otherwise: no
    lag check, null figure or residual then). ``source_name`` and ``origin`` (the preset and
    model) go into the stems' ``bext`` description and coding history. ``progress`` is told
    the frames written so far and in all, block by block.
    """
    scratch = next(
        (stem.output.parent for stem in stems if stem.output is not None),
        stems[0].downloaded.parent if stems else Path.cwd(),
    )
    conversion = Conversion(
        source,
        source_path,
        stems,
        wanted,
        source_name=source_name,
        origin=origin,
        scratch=scratch,
        residual_output=residual_output,
        progress=progress,
    )
    workers = max(1, min(len(stems), os.cpu_count() or 1))
    try:
        with concurrent.futures.ThreadPoolExecutor(workers, "mvsepd-conform") as pool:
            futures = [pool.submit(conversion.convert, index) for index in range(len(stems))]
        for future in futures:
            future.result()
    except BaseException:
        conversion.abandon()
        raise
    return conversion.finish()
