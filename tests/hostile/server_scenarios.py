"""The scenarios of the server rows (``test_server.py``): what the hostile server does, and
what each scenario shows the user.

Rules of the hostile front match only requests about the file called ``hostile.wav`` (MVSEP
puts the file's name into its hash and its result names), so the good file every row drops
afterwards meets an honest server.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from werkzeug.wrappers import Response

from mvsepd.engine.fetch import OVERSIZE_ATTEMPTS
from mvsepd.models import JobState
from tests.hostile.front import (
    Answer,
    Body,
    Rule,
    after_forwarding,
    json_answer,
    nested_json,
    replace_with,
    rewrite_files,
)
from tests.hostile.support import Harness
from tests.integration.support import wait_until, wav_bytes

NAME = "hostile.wav"
CREATE = "/api/separation/create"
GET = "/api/separation/get"
STORAGE = "/storage/"
#: The smallest download cap mvsepd uses (engine/fetch.py): a "2 KB" stem may not exceed it.
DOWNLOAD_CAP = 8 * 1024 * 1024
TWO_GIGABYTES = 2 * 1024**3


def drop_hostile(harness: Harness) -> None:
    harness.drop(NAME, wav_bytes(0.2, seed=21))


def refused(body: dict[str, Any]) -> Answer:
    """MVSEP's 400 answer to a create, with ``body``."""
    return replace_with(lambda: json_answer(body, status=400))


def create_answered(answer: Answer, state: JobState = JobState.FAILED) -> Callable[[Harness], str]:
    """The first create is answered with ``answer``; what the job then shows."""

    def scenario(harness: Harness) -> str:
        harness.front.add(Rule(CREATE, answer, times=1))
        drop_hostile(harness)
        return harness.shown_reason(harness.job(NAME, (state,)))

    return scenario


def waited_out(fault: str, endpoint: str, count: int = 1) -> Callable[[Harness], str]:
    """An honest emulator fault that the daemon must wait out: the job still finishes, once;
    the log says what happened."""

    def scenario(harness: Harness) -> str:
        setup = harness.setup
        setup.server.faults.set(fault, count=count, endpoints=[endpoint])
        drop_hostile(harness)
        harness.job(NAME, (JobState.DONE,))
        assert setup.server.state.create_count(setup.token) == 1
        return harness.log.text()

    return scenario


def status_unreadable(spoil: Callable[[Harness], None]) -> Callable[[Harness], str]:
    """The first status answer of the hostile job cannot be read: the job keeps waiting at
    MVSEP (it is checked again after a pause: test_flow proves those pauses end in stems) and
    says why while it waits."""

    def scenario(harness: Harness) -> str:
        spoil(harness)
        drop_hostile(harness)

        def said() -> str | None:
            job = next((job for job in harness.jobs() if job.source_name == NAME), None)
            reason = harness.shown_reason(job) if job is not None else ""
            return reason if "checking MVSEP failed" in reason else None

        shown: str = wait_until(said, 15, message="the failed check to be shown")
        (job,) = [job for job in harness.jobs() if job.source_name == NAME]
        assert job.state is JobState.SUBMITTED and job.separation_hash is not None
        return shown

    return scenario


def front_status(answer: Answer) -> Callable[[Harness], None]:
    def spoil(harness: Harness) -> None:
        harness.front.add(Rule(GET, answer, containing="hostile", times=1))

    return spoil


def invalid_token(harness: Harness) -> str:
    setup = harness.setup
    setup.server.faults.set("invalid_token", count=1, endpoints=[CREATE])
    drop_hostile(harness)
    job = harness.job(NAME, (JobState.HELD,))
    assert setup.server.state.create_count(setup.token) == 0
    return harness.shown_reason(job)


def queue_full(harness: Harness) -> str:
    harness.front.add(
        Rule(
            CREATE,
            refused(
                {
                    "success": False,
                    "errors": [
                        "You already have unprocessed file in queue. "
                        "Please wait before adding new file!"
                    ],
                }
            ),
            times=1,
        )
    )
    drop_hostile(harness)
    job = harness.job(NAME, (JobState.RETRY_WAIT,))
    assert job.resume_state is JobState.STABLE  # it is submitted again, not lost
    return harness.shown_reason(job)


def gone_at_download(harness: Harness) -> str:
    harness.front.add(
        Rule(STORAGE, replace_with(lambda: Response("gone", status=404)), containing="hostile")
    )
    drop_hostile(harness)
    return harness.shown_reason(harness.job(NAME))


def web_page_for_a_stem(harness: Harness) -> str:
    page = replace_with(lambda: Response("<html>Just a moment...</html>", mimetype="text/html"))
    rule = harness.front.add(Rule(STORAGE, page, containing="hostile", times=1))
    drop_hostile(harness)
    waiting = harness.job(NAME, (JobState.RETRY_WAIT,))
    shown = harness.shown_reason(waiting)
    assert rule.used == 1
    # Nothing lost: the next attempt, against an honest server, places every stem.
    harness.job(NAME, (JobState.DONE,), timeout=30)
    return shown


def garbled_create(harness: Harness) -> str:
    # MVSEP made the job, but its answer is JSON nested 10,000 deep: the daemon must find the
    # job in the history instead of paying for a second upload.
    deep = after_forwarding(lambda: Response(nested_json(10_000), mimetype="application/json"))
    harness.front.add(Rule(CREATE, deep, times=1))
    drop_hostile(harness)
    harness.job(NAME, (JobState.DONE,))
    setup = harness.setup
    assert setup.server.state.create_count(setup.token) == 1
    return harness.log.text()


def result_urls(url: Callable[[Harness], str]) -> Callable[[Harness], str]:
    """Every result file of the hostile job points at ``url(harness)``."""

    def scenario(harness: Harness) -> str:
        target = url(harness)

        def change(files: list[dict[str, Any]]) -> None:
            for item in files:
                item["url"] = target

        harness.front.add(Rule(GET, rewrite_files(change), containing="hostile"))
        drop_hostile(harness)
        job = harness.job(NAME)
        assert harness.trap.requests == [], "mvsepd contacted another host"
        return harness.shown_reason(job)

    return scenario


def redirected(location: Callable[[Harness], str]) -> Callable[[Harness], str]:
    """The hostile job's files answer with a redirect to ``location(harness)``."""

    def scenario(harness: Harness) -> str:
        def answer(request: Any, forward: Any) -> Response:
            return Response(status=302, headers={"Location": location(harness)})

        harness.front.add(Rule(STORAGE, answer, containing="hostile"))
        drop_hostile(harness)
        job = harness.job(NAME)
        assert harness.trap.requests == [], "mvsepd followed the redirect"
        return harness.shown_reason(job)

    return scenario


def huge_body(*, declared: bool) -> Callable[[Harness], str]:
    """MVSEP says each stem is 2 KB; the file server sends 2 GB (saying so, or not)."""

    def scenario(harness: Harness) -> str:
        bodies: list[Body] = []

        def small(files: list[dict[str, Any]]) -> None:
            for item in files:
                item["size"] = "2.00 KB"

        def endless(request: Any, forward: Any) -> Response:
            body = Body(limit=TWO_GIGABYTES)
            bodies.append(body)
            headers = {"Content-Length": str(TWO_GIGABYTES)} if declared else {}
            return Response(body.stream(), mimetype="audio/wav", headers=headers)

        harness.front.add(Rule(GET, rewrite_files(small), containing="hostile"))
        harness.front.add(Rule(STORAGE, endless, containing="hostile"))
        drop_hostile(harness)
        job = harness.job(NAME, (JobState.RETRY_WAIT,))
        assert job.resume_state is JobState.DOWNLOADING
        for body in bodies:
            assert body.finished.wait(10), "the daemon kept reading"
            # What the socket took beyond the cap is the kernel's buffers, not mvsepd's disk.
            assert body.sent <= DOWNLOAD_CAP + 16 * 1024 * 1024, body.sent
        largest = max(
            (path.stat().st_size for path in harness.setup.tmp.rglob("*") if path.is_file()),
            default=0,
        )
        assert largest <= DOWNLOAD_CAP, f"a file of {largest} bytes was written"
        parts = [path for path in harness.setup.leftovers() if path.name.endswith(".part")]
        assert parts == [], "a partial download was kept"
        # Not a passing fault: after a bounded number of attempts the job fails, saying why.
        failed = harness.job(NAME, (JobState.FAILED,), timeout=60)
        assert f"gave up after {OVERSIZE_ATTEMPTS} attempts" in (failed.reason or ""), failed
        return harness.shown_reason(failed)

    return scenario


def poisoned_names(value: str) -> Callable[[Harness], str]:
    """Every result file of the hostile job is labelled and named ``value``."""

    def scenario(harness: Harness) -> str:
        def change(files: list[dict[str, Any]]) -> None:
            for item in files:
                item["type"] = value
                item["download"] = value

        harness.front.add(Rule(GET, rewrite_files(change), containing="hostile"))
        drop_hostile(harness)
        job = harness.job(NAME, (JobState.DONE,))
        stems = harness.stems_of(job)
        assert len(stems) == 6  # five distinct stems and the manifest
        for stem in stems:
            assert harness.setup.outputs in stem.parents
            assert len(stem.name.encode("utf-8")) <= 255
            assert "\0" not in stem.name and "/" not in stem.name
            assert stem.name == "manifest.json" or stem.suffix == ".wav", stem.name
        assert not Path("/.bashrc").exists()
        return " | ".join(stem.name for stem in stems)

    return scenario


def spoiled_stems(spoil: Callable[[bytes], bytes]) -> Callable[[Harness], str]:
    """Every stem of the hostile job arrives as ``spoil(its real bytes)``, whole and with the
    right length: only decoding it shows that it is not audio. The job fails, naming the stem;
    no stem of it is placed, and nothing staged is left."""

    def scenario(harness: Harness) -> str:
        def answer(request: Any, forward: Any) -> Response:
            real = forward()
            return Response(spoil(real.get_data()), mimetype="audio/wav")

        harness.front.add(Rule(STORAGE, answer, containing="hostile"))
        drop_hostile(harness)
        job = harness.job(NAME, (JobState.FAILED,))
        assert job.output_dir is None
        outputs = harness.setup.outputs
        placed = [path for path in outputs.rglob("*") if path.is_file()] if outputs.exists() else []
        assert placed == [], f"files of a job whose stems do not decode: {placed}"
        return harness.shown_reason(job)

    return scenario


def random_bytes(real: bytes) -> bytes:
    return os.urandom(len(real))


def cut_after_header(real: bytes) -> bytes:
    """The header (which announces every frame), then only a third of the audio."""
    return real[: 44 + (len(real) - 44) // 3]


def published_late(
    first_answers: list[Callable[[list[dict[str, Any]]], None]],
) -> Callable[[Harness], str]:
    """MVSEP says ``done`` before its stems are published: the hostile job's first status
    answers are rewritten by ``first_answers`` in turn (no files, or records whose address is
    empty), then the honest answer. The job waits, saying so, then places every stem, once:
    one create, nothing placed from a partial set."""

    def scenario(harness: Harness) -> str:
        answers = iter(first_answers)

        def change(files: list[dict[str, Any]]) -> None:
            next(answers)(files)

        rule = harness.front.add(
            Rule(GET, rewrite_files(change), containing="hostile", times=len(first_answers))
        )
        drop_hostile(harness)
        waiting = harness.job(NAME, (JobState.PUBLISHING,))
        shown = harness.shown_summary(waiting)
        assert waiting.output_dir is None
        done = harness.job(NAME, (JobState.DONE,))
        assert rule.used == len(first_answers)
        setup = harness.setup
        assert setup.server.state.create_count(setup.token) == 1
        stems = [path.name for path in harness.stems_of(done) if path.suffix == ".wav"]
        assert len(stems) == 5, stems  # sep_type 20: every stem, none left out
        return shown

    return scenario


def no_files(files: list[dict[str, Any]]) -> None:
    files.clear()


def addresses_after(published: int) -> Callable[[list[dict[str, Any]]], None]:
    """Keep the first ``published`` records' addresses; the others are not exported yet."""

    def change(files: list[dict[str, Any]]) -> None:
        for item in files[published:]:
            item["url"] = ""

    return change
