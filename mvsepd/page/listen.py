"""A take's audio: the source and every result's stems, their waveforms (peaks) and their
sound (the whole file with HTTP Range, or short 16-bit segments that a browser decodes as it
plays); and "Show in folder" for a result's stems.

A file is named only by the take's id, a job of that take and a stem's index in the job's
manifest (``TakeView`` decides what may be served); a job of another take, or of another
folder, under a take's id is "not here" (404), as is an index the manifest does not list.
numpy and libsndfile load on the first waveform or segment asked for (``PageHost.listening``).
"""

from __future__ import annotations

from pathlib import Path

from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.utils import send_file
from werkzeug.wrappers import Response

from mvsepd.errors import AudioError, NotServedError
from mvsepd.page.visit import Visit, as_json
from mvsepd.statusapi.takeview import ServedFile

#: Content-Type of each container a stem or source may be in (anything else: octet-stream).
CONTENT_TYPES = {
    ".wav": "audio/wav",
    ".wave": "audio/wav",
    ".bwf": "audio/wav",
    ".rf64": "audio/wav",
    ".w64": "audio/x-w64",
    ".flac": "audio/flac",
    ".aif": "audio/aiff",
    ".aiff": "audio/aiff",
    ".aifc": "audio/aiff",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".mp4": "audio/mp4",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
}
#: The most frames one segment may hold (a minute at 192 kHz): a page asks for seconds.
MOST_SEGMENT_FRAMES = 192_000 * 60


def content_type(path: Path) -> str:
    return CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")


def stem(visit: Visit, take_id: int, job_id: int, index: int, what: str = "audio") -> Response:
    """Stem ``index`` of job ``job_id`` of take ``take_id``: ``what`` is ``audio`` (the file
    as placed, Range answered with 206), ``peaks`` or ``segment``."""
    view = visit.host.takes
    try:
        view.member(take_id, job_id)
        served = view.stem_file(job_id, index)
    except NotServedError as error:
        return _not_here(error)
    return _answer(visit, served, what)


def source(visit: Visit, take_id: int, what: str = "audio") -> Response:
    """The take's source, for A/B (``what`` as for ``stem``)."""
    try:
        served = visit.host.takes.source_file(take_id)
    except NotServedError as error:
        return _not_here(error)
    return _answer(visit, served, what)


def _answer(visit: Visit, served: ServedFile, what: str) -> Response:
    if what == "peaks":
        return _peaks(visit, served)
    if what == "segment":
        return _segment(visit, served)
    return _send(visit, served)


def reveal(visit: Visit, take_id: int, job_id: int) -> Response:
    """Show the folder a job's stems were placed in, in the desktop's file manager."""
    view = visit.host.takes
    try:
        view.member(take_id, job_id)
        served = view.stem_file(job_id, 0)
    except NotServedError as error:
        return _not_here(error)
    folder = served.path.parent
    visit.host.reveal(folder)
    return as_json({"shown": str(folder)})


def _send(visit: Visit, served: ServedFile) -> Response:
    """The file, or the bytes a Range asks for (206; 416 for a range past its end)."""
    try:
        return send_file(
            served.path,
            visit.request.environ,
            mimetype=content_type(served.path),
            as_attachment=False,
            download_name=served.name,
            conditional=True,
            etag=True,
        )
    except RequestedRangeNotSatisfiable as error:
        return Response(
            f"{error.description}\n",
            status=416,
            mimetype="text/plain",
            headers={"Content-Range": f"bytes */{served.size}"},
        )
    except OSError:
        return Response("not here: the file is gone\n", status=404, mimetype="text/plain")


def _peaks(visit: Visit, served: ServedFile) -> Response:
    try:
        peaks = visit.host.listening.peaks(served.path)
    except AudioError as error:
        return as_json({"problem": str(error)}, 422)
    return as_json(peaks.as_json())


def _segment(visit: Visit, served: ServedFile) -> Response:
    arguments = visit.request.args
    try:
        start = int(arguments.get("start", "0"))
        frames = int(arguments.get("frames", "0"))
    except ValueError:
        return as_json({"problem": "start and frames are whole numbers of frames"}, 400)
    if start < 0 or not 0 < frames <= MOST_SEGMENT_FRAMES:
        return as_json({"problem": f"start is 0 or more; frames 1 to {MOST_SEGMENT_FRAMES}"}, 400)
    try:
        cut = visit.host.listening.segment(served.path, start, frames)
    except AudioError as error:
        return as_json({"problem": str(error)}, 422)
    return Response(
        cut.data,
        status=200,
        mimetype="audio/wav",
        headers={
            "X-Mvsepd-Start": str(cut.start),
            "X-Mvsepd-Frames": str(cut.frames),
            "X-Mvsepd-Total-Frames": str(cut.total_frames),
        },
    )


def _not_here(error: NotServedError) -> Response:
    return Response(f"not here: {error}\n", status=404, mimetype="text/plain")
