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

import re

import pytest
from werkzeug.wrappers import Response

from tests.hostile.front import HostileFront, Trap, nested_json, replace_with
from tests.hostile.server_scenarios import (
    CREATE,
    GET,
    STORAGE,
    addresses_after,
    create_answered,
    cut_after_header,
    front_status,
    garbled_create,
    gone_at_download,
    huge_body,
    invalid_token,
    no_files,
    poisoned_names,
    published_late,
    queue_full,
    random_bytes,
    redirected,
    refused,
    result_urls,
    spoiled_stems,
    status_unreadable,
    waited_out,
    web_page_for_a_stem,
)
from tests.hostile.support import Case, ids, run_case
from tests.integration.support import Setup

SERVER: list[Case] = [
    # Every error class of the client (mvsepd.errors, MvsepError branch).
    Case(
        "invalid-token",
        "InvalidTokenError: the token is revoked at the first upload",
        "MVSEP refused the API token",
        invalid_token,
        logged="Invalid API key",
        good_file_after=False,  # the server refuses every job now
    ),
    Case(
        "invalid-request",
        "InvalidRequestError: a 400 with MVSEP's own words",
        "The selected add opt1 is invalid.",
        create_answered(
            refused({"success": False, "errors": ["The selected add opt1 is invalid."]})
        ),
    ),
    Case(
        "queue-full",
        "QueueFullError: another client holds the free plan's slot",
        "another job of this account is still unfinished",
        queue_full,
    ),
    Case(
        "premium-required",
        "PremiumRequiredError: the model needs premium",
        "this model needs a premium MVSEP account",
        create_answered(
            refused(
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
        create_answered(
            refused(
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
        gone_at_download,
    ),
    Case(
        "rate-limited",
        "RateLimitedError: two 429s with Retry-After on status checks",
        "HTTP 429",
        waited_out("http_429", GET, count=2),
    ),
    Case(
        "html-502-page",
        "ServerError: nginx's HTML 502 page instead of a status",
        "HTTP 502",
        waited_out("http_502", GET),
    ),
    Case(
        "503-on-a-stem",
        "ServerError: a 503 while a stem downloads",
        "the file server failed",
        waited_out("http_503", STORAGE),
    ),
    Case(
        "dropped-connection",
        "ConnectionClosedError: the connection closes without an answer",
        re.compile(r"127\.0\.0\.1:\d+ closed the connection before answering"),
        waited_out("drop_connection", GET),
    ),
    Case(
        "lost-create-answer",
        "OutcomeUnknownError: the job is made and charged, its answer lost",
        "its answer was lost",
        waited_out("lost_response", CREATE),
    ),
    Case(
        "malformed-json",
        "ProtocolError: a status answer cut off in the middle",
        "checking MVSEP failed (/separation/get: malformed or truncated JSON)",
        status_unreadable(
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
        status_unreadable(
            front_status(
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
        "checking MVSEP failed (/separation/get: JSON nested too deeply to read)",
        status_unreadable(
            front_status(
                replace_with(lambda: Response(nested_json(10_000), mimetype="application/json"))
            )
        ),
        logged="JSON nested too deeply to read",
        plan="premium",
    ),
    Case(
        "json-10000-deep-create",
        "ProtocolError: the create answer nested 10,000 deep (the job exists)",
        "MVSEP had the job; not uploading again",
        garbled_create,
    ),
    Case(
        "web-page-for-a-stem",
        "DownloadError: an HTML page served as a stem",
        "the server sent a web page instead of the file",
        web_page_for_a_stem,
    ),
    Case(
        "url-file-scheme",
        "UnsafeDownloadError: files[].url is file:///etc/passwd",
        "refusing to fetch 'file:///etc/passwd': only http(s) URLs",
        result_urls(lambda harness: "file:///etc/passwd"),
    ),
    Case(
        "url-other-host",
        "UnsafeDownloadError: files[].url on another host",
        "host is not the job's server",
        result_urls(lambda harness: harness.trap.url + "/storage/processed/stems.wav"),
    ),
    Case(
        "redirect-other-host",
        "UnsafeDownloadError: a stem redirects to another host",
        "host is not the job's server",
        redirected(lambda harness: harness.trap.url + "/storage/processed/stems.wav"),
    ),
    Case(
        "redirect-to-file",
        "UnsafeDownloadError: a stem redirects to file:///etc/passwd",
        "only http(s) URLs",
        redirected(lambda harness: "file:///etc/passwd"),
    ),
    Case(
        "2gb-for-a-2kb-stem",
        "a 2 KB stem whose body never ends (2 GB, no length given)",
        "the server sent more than 8.0 MB; download cut off",
        huge_body(declared=False),
    ),
    Case(
        "2gb-declared-for-a-2kb-stem",
        "a 2 KB stem served with Content-Length: 2147483648",
        "the server offers 2048.0 MB, more than the limit of 8.0 MB",
        huge_body(declared=True),
    ),
    # Stems that arrive whole but are not audio: decoded end to end before anything is placed.
    Case(
        "random-bytes-stem",
        "every stem is random bytes of the right length",
        "is not audio: not an audio file mvsepd can read",
        spoiled_stems(random_bytes),
    ),
    Case(
        "truncated-wav-stem",
        "every stem is a WAV header announcing all its audio, then a third of it",
        "is cut short: the WAV header says",
        spoiled_stems(cut_after_header),
        # MVSEP's WAV 16 as asked: a folder that keeps MVSEP's files does not fetch FLAC.
        config={"folder": "keep_mvsep_files: true"},
    ),
    Case(
        "truncated-flac-stem",
        "every stem (fetched as FLAC 16 for a conforming folder) is cut to a third",
        "is cut short: it does not decode to its end",
        spoiled_stems(cut_after_header),
    ),
    Case(
        "random-bytes-stem-unconformed",
        "every stem is random bytes, in a folder with conform: off",
        "is not audio: not an audio file mvsepd can read",
        spoiled_stems(random_bytes),
        config={"folder": "conform: off"},
    ),
    # MVSEP says done before its stems are published (exported to its storage).
    Case(
        "done-without-files",
        "status done with files: [] for three polls, then the stems",
        "MVSEP is publishing the stems",
        published_late([no_files, no_files, no_files]),
        logged="stems_publishing",
    ),
    Case(
        "done-with-empty-urls",
        "status done listing every stem, all but one with url '', filled one per poll",
        "MVSEP is publishing the stems (1 of 5 ready)",
        published_late([addresses_after(1), addresses_after(2), addresses_after(3)]),
        logged="stems_publishing",
    ),
    # Result names from the server become safe names inside the output root.
    Case(
        "download-dot-dot-bashrc",
        "files[].type and files[].download are ../../.bashrc",
        "hostile - _.._.bashrc.wav",
        poisoned_names("../../.bashrc"),
    ),
    Case(
        "download-etc-passwd",
        "files[].type and files[].download are /etc/passwd",
        "hostile - _etc_passwd.wav",
        poisoned_names("/etc/passwd"),
    ),
    Case(
        "download-con",
        "files[].type and files[].download are CON (a Windows device)",
        "hostile - _CON.wav",
        poisoned_names("CON"),
    ),
    Case(
        "download-a-slash-b",
        "files[].type and files[].download are a/b",
        "hostile - a_b.wav",
        poisoned_names("a/b"),
    ),
    Case(
        "download-nul-byte",
        "files[].type and files[].download hold a NUL byte",
        "hostile - a_b.wav",
        poisoned_names("a\0b"),
    ),
    Case(
        "download-1000-characters",
        "files[].type and files[].download are 1,000 characters long",
        "hostile - " + "y" * 100 + ".wav",
        poisoned_names("y" * 1000),
    ),
]


@pytest.mark.parametrize("case", SERVER, ids=ids(SERVER))
def test_hostile_server(case: Case, setup: Setup, front: HostileFront, trap: Trap) -> None:
    run_case(case, setup, front, trap)
