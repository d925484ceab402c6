"""A hostile or broken server: every error class of the client, poisoned result lists, answers
no parser should trust.

The real emulator's faults give the honest failures (429, 502 HTML pages, 503, dropped
connections, lost answers, broken JSON, a revoked token); the hostile front
(``tests/hostile/front.py``) gives what only a compromised server would send: result files named
``../../.bashrc``, URLs on ``file://`` or another host, redirects there, a 2 GB body for a
2 KB stem, JSON nested 10,000 deep. Rules match only requests about the file called
``hostile.wav`` (MVSEP puts the file's name into its hash and its result names), so the good
file every row drops afterwards meets an honest server.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from werkzeug.wrappers import Response

from mvsepd.models import JobState
from tests.hostile.front import (
    Answer,
    Body,
    HostileFront,
    Rule,
    Trap,
    after_forwarding,
    json_answer,
    nested_json,
    replace_with,
    rewrite_files,
)
from tests.hostile.support import Case, Harness, ids, run_case
from tests.integration.support import Setup, wait_until, wav_bytes

NAME = "hostile.wav"
CREATE = "/api/separation/create"
GET = "/api/separation/get"
STORAGE = "/storage/"
#: The smallest download cap mvsepd uses (engine/fetch.py): a "2 KB" stem may not exceed it.
DOWNLOAD_CAP = 8 * 1024 * 1024
TWO_GIGABYTES = 2 * 1024**3


def _drop(harness: Harness) -> None:
    harness.drop(NAME, wav_bytes(0.2, seed=21))


def _refused(body: dict[str, Any]) -> Answer:
    """MVSEP's 400 answer to a create, with ``body``."""
    return replace_with(lambda: json_answer(body, status=400))


def _create_answered(answer: Answer, state: JobState = JobState.FAILED) -> Callable[[Harness], str]:
    """The first create is answered with ``answer``; what the job then shows."""

    def scenario(harness: Harness) -> str:
        harness.front.add(Rule(CREATE, answer, times=1))
        _drop(harness)
        return harness.shown_reason(harness.job(NAME, (state,)))

    return scenario


def _waited_out(fault: str, endpoint: str, count: int = 1) -> Callable[[Harness], str]:
    """An honest emulator fault that the daemon must wait out: the job still finishes, once;
    the log says what happened."""

    def scenario(harness: Harness) -> str:
        setup = harness.setup
        setup.server.faults.set(fault, count=count, endpoints=[endpoint])
        _drop(harness)
        harness.job(NAME, (JobState.DONE,))
        assert setup.server.state.create_count(setup.token) == 1
        return harness.log.text()

    return scenario


def _status_unreadable(spoil: Callable[[Harness], None]) -> Callable[[Harness], str]:
    """The first status answer of the hostile job cannot be read: the job keeps waiting at
    MVSEP (it is checked again after a pause: test_flow proves those pauses end in stems) and
    says why while it waits."""

    def scenario(harness: Harness) -> str:
        spoil(harness)
        _drop(harness)

        def said() -> str | None:
            job = next((job for job in harness.jobs() if job.source_name == NAME), None)
            reason = harness.shown_reason(job) if job is not None else ""
            return reason if "checking MVSEP failed" in reason else None

        shown: str = wait_until(said, 15, message="the failed check to be shown")
        (job,) = [job for job in harness.jobs() if job.source_name == NAME]
        assert job.state is JobState.SUBMITTED and job.separation_hash is not None
        return shown

    return scenario


def _front_status(answer: Answer) -> Callable[[Harness], None]:
    def spoil(harness: Harness) -> None:
        harness.front.add(Rule(GET, answer, containing="hostile", times=1))

    return spoil


def _invalid_token(harness: Harness) -> str:
    setup = harness.setup
    setup.server.faults.set("invalid_token", count=1, endpoints=[CREATE])
    _drop(harness)
    job = harness.job(NAME, (JobState.HELD,))
    assert setup.server.state.create_count(setup.token) == 0
    return harness.shown_reason(job)


def _queue_full(harness: Harness) -> str:
    harness.front.add(
        Rule(
            CREATE,
            _refused(
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
    _drop(harness)
    job = harness.job(NAME, (JobState.RETRY_WAIT,))
    assert job.resume_state is JobState.STABLE  # it is submitted again, not lost
    return harness.shown_reason(job)


def _gone_at_download(harness: Harness) -> str:
    harness.front.add(
        Rule(STORAGE, replace_with(lambda: Response("gone", status=404)), containing="hostile")
    )
    _drop(harness)
    return harness.shown_reason(harness.job(NAME))


def _web_page_for_a_stem(harness: Harness) -> str:
    page = replace_with(lambda: Response("<html>Just a moment...</html>", mimetype="text/html"))
    rule = harness.front.add(Rule(STORAGE, page, containing="hostile", times=1))
    _drop(harness)
    waiting = harness.job(NAME, (JobState.RETRY_WAIT,))
    shown = harness.shown_reason(waiting)
    assert rule.used == 1
    # Nothing lost: the next attempt, against an honest server, places every stem.
    harness.job(NAME, (JobState.DONE,), timeout=30)
    return shown


def _garbled_create(harness: Harness) -> str:
    # MVSEP made the job, but its answer is JSON nested 10,000 deep: the daemon must find the
    # job in the history instead of paying for a second upload.
    deep = after_forwarding(lambda: Response(nested_json(10_000), mimetype="application/json"))
    harness.front.add(Rule(CREATE, deep, times=1))
    _drop(harness)
    harness.job(NAME, (JobState.DONE,))
    setup = harness.setup
    assert setup.server.state.create_count(setup.token) == 1
    return harness.log.text()


def _result_urls(url: Callable[[Harness], str]) -> Callable[[Harness], str]:
    """Every result file of the hostile job points at ``url(harness)``."""

    def scenario(harness: Harness) -> str:
        target = url(harness)

        def change(files: list[dict[str, Any]]) -> None:
            for item in files:
                item["url"] = target

        harness.front.add(Rule(GET, rewrite_files(change), containing="hostile"))
        _drop(harness)
        job = harness.job(NAME)
        assert harness.trap.requests == [], "mvsepd contacted another host"
        return harness.shown_reason(job)

    return scenario


def _redirected(location: Callable[[Harness], str]) -> Callable[[Harness], str]:
    """The hostile job's files answer with a redirect to ``location(harness)``."""

    def scenario(harness: Harness) -> str:
        def answer(request: Any, forward: Any) -> Response:
            return Response(status=302, headers={"Location": location(harness)})

        harness.front.add(Rule(STORAGE, answer, containing="hostile"))
        _drop(harness)
        job = harness.job(NAME)
        assert harness.trap.requests == [], "mvsepd followed the redirect"
        return harness.shown_reason(job)

    return scenario


def _huge_body(*, declared: bool) -> Callable[[Harness], str]:
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
        _drop(harness)
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
        return harness.shown_reason(job)

    return scenario


def _poisoned_names(value: str) -> Callable[[Harness], str]:
    """Every result file of the hostile job is labelled and named ``value``."""

    def scenario(harness: Harness) -> str:
        def change(files: list[dict[str, Any]]) -> None:
            for item in files:
                item["type"] = value
                item["download"] = value

        harness.front.add(Rule(GET, rewrite_files(change), containing="hostile"))
        _drop(harness)
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


SERVER: list[Case] = [
    # Every error class of the client (mvsepd.errors, MvsepError branch).
    Case(
        "invalid-token",
        "InvalidTokenError: the token is revoked at the first upload",
        "MVSEP refused the API token",
        _invalid_token,
        logged="Invalid API key",
        good_file_after=False,  # the server refuses every job now
    ),
    Case(
        "invalid-request",
        "InvalidRequestError: a 400 with MVSEP's own words",
        "The selected add opt1 is invalid.",
        _create_answered(
            _refused({"success": False, "errors": ["The selected add opt1 is invalid."]})
        ),
    ),
    Case(
        "queue-full",
        "QueueFullError: another client holds the free plan's slot",
        "another job of this account is still unfinished",
        _queue_full,
    ),
    Case(
        "premium-required",
        "PremiumRequiredError: the model needs premium",
        "this model needs a premium MVSEP account",
        _create_answered(
            _refused(
                {
                    "success": False,
                    "errors": [
                        "Seperation type is unavailable until you purchase premium membership"
                    ],
                }
            )
        ),
    ),
    Case(
        "file-too-large",
        "FileTooLargeError: over the plan's upload limit",
        "the file is larger than the MVSEP plan allows",
        _create_answered(
            _refused(
                {
                    "success": False,
                    "errors": ["The audiofile field must not be greater than 102400 kilobytes."],
                }
            )
        ),
    ),
    Case(
        "not-found",
        "NotFoundError: the result files answer 404",
        "MVSEP no longer has the results",
        _gone_at_download,
    ),
    Case(
        "rate-limited",
        "RateLimitedError: two 429s with Retry-After on status checks",
        "HTTP 429",
        _waited_out("http_429", GET, count=2),
    ),
    Case(
        "html-502-page",
        "ServerError: nginx's HTML 502 page instead of a status",
        "HTTP 502",
        _waited_out("http_502", GET),
    ),
    Case(
        "503-on-a-stem",
        "ServerError: a 503 while a stem downloads",
        "the file server failed",
        _waited_out("http_503", STORAGE),
    ),
    Case(
        "dropped-connection",
        "NetworkError: the connection closes without an answer",
        "connection dropped",
        _waited_out("drop_connection", GET),
    ),
    Case(
        "lost-create-answer",
        "OutcomeUnknownError: the job is made and charged, its answer lost",
        "its answer was lost",
        _waited_out("lost_response", CREATE),
    ),
    Case(
        "malformed-json",
        "ProtocolError: a status answer cut off in the middle",
        "checking MVSEP failed (/separation/get: malformed or truncated JSON)",
        _status_unreadable(
            lambda harness: harness.setup.server.faults.set(
                "malformed_json", count=1, endpoints=[GET]
            )
        ),
        logged="malformed or truncated JSON",
        plan="premium",  # the waiting job keeps its slot; the good file needs another
    ),
    Case(
        "html-page-with-200",
        "ProtocolError: a web page with status 200 instead of JSON",
        "checking MVSEP failed (/separation/get: HTML page instead of JSON)",
        _status_unreadable(
            _front_status(
                replace_with(
                    lambda: Response("<html>Checking your browser</html>", mimetype="text/html")
                )
            )
        ),
        logged="HTML page instead of JSON",
        plan="premium",
    ),
    Case(
        "json-10000-deep-status",
        "ProtocolError: a status answer nested 10,000 deep",
        "checking MVSEP failed (/separation/get: malformed or truncated JSON)",
        _status_unreadable(
            _front_status(
                replace_with(lambda: Response(nested_json(10_000), mimetype="application/json"))
            )
        ),
        logged="malformed or truncated JSON",
        plan="premium",
    ),
    Case(
        "json-10000-deep-create",
        "ProtocolError: the create answer nested 10,000 deep (the job exists)",
        "lost_upload_found",
        _garbled_create,
    ),
    Case(
        "web-page-for-a-stem",
        "DownloadError: an HTML page served as a stem",
        "the server sent a web page instead of the file",
        _web_page_for_a_stem,
    ),
    Case(
        "url-file-scheme",
        "UnsafeDownloadError: files[].url is file:///etc/passwd",
        "refusing to fetch 'file:///etc/passwd': only http(s) URLs",
        _result_urls(lambda harness: "file:///etc/passwd"),
    ),
    Case(
        "url-other-host",
        "UnsafeDownloadError: files[].url on another host",
        "host is not the job's server",
        _result_urls(lambda harness: harness.trap.url + "/storage/processed/stems.wav"),
    ),
    Case(
        "redirect-other-host",
        "UnsafeDownloadError: a stem redirects to another host",
        "host is not the job's server",
        _redirected(lambda harness: harness.trap.url + "/storage/processed/stems.wav"),
    ),
    Case(
        "redirect-to-file",
        "UnsafeDownloadError: a stem redirects to file:///etc/passwd",
        "only http(s) URLs",
        _redirected(lambda harness: "file:///etc/passwd"),
    ),
    Case(
        "2gb-for-a-2kb-stem",
        "a 2 KB stem whose body never ends (2 GB, no length given)",
        f"the server sent more than {DOWNLOAD_CAP} bytes; download cut off",
        _huge_body(declared=False),
    ),
    Case(
        "2gb-declared-for-a-2kb-stem",
        "a 2 KB stem served with Content-Length: 2147483648",
        f"the server offers {TWO_GIGABYTES} bytes, more than the limit of {DOWNLOAD_CAP}",
        _huge_body(declared=True),
    ),
    # Result names from the server become safe names inside the output root.
    Case(
        "download-dot-dot-bashrc",
        "files[].type and files[].download are ../../.bashrc",
        "hostile - _.._.bashrc.wav",
        _poisoned_names("../../.bashrc"),
    ),
    Case(
        "download-etc-passwd",
        "files[].type and files[].download are /etc/passwd",
        "hostile - _etc_passwd.wav",
        _poisoned_names("/etc/passwd"),
    ),
    Case(
        "download-con",
        "files[].type and files[].download are CON (a Windows device)",
        "hostile - _CON.wav",
        _poisoned_names("CON"),
    ),
    Case(
        "download-a-slash-b",
        "files[].type and files[].download are a/b",
        "hostile - a_b.wav",
        _poisoned_names("a/b"),
    ),
    Case(
        "download-nul-byte",
        "files[].type and files[].download hold a NUL byte",
        "hostile - a_b.wav",
        _poisoned_names("a\0b"),
    ),
    Case(
        "download-1000-characters",
        "files[].type and files[].download are 1,000 characters long",
        "hostile - " + "y" * 100 + ".wav",
        _poisoned_names("y" * 1000),
    ),
]


@pytest.mark.parametrize("case", SERVER, ids=ids(SERVER))
def test_hostile_server(case: Case, setup: Setup, front: HostileFront, trap: Trap) -> None:
    run_case(case, setup, front, trap)
