"""Every error class, from the bodies MVSEP (and the servers in front of it) really send."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mvsepd.api import MvsepClient, Transport
from mvsepd.errors import (
    FileTooLargeError,
    InvalidRequestError,
    InvalidTokenError,
    MvsepError,
    NetworkError,
    NotFoundError,
    OutcomeUnknownError,
    PremiumRequiredError,
    ProtocolError,
    QueueFullError,
    RateLimitedError,
    ServerError,
)
from mvsepd.models import RemoteStatus
from tests.api.conftest import Sleeps
from tests.api.scripted import (
    TOKEN,
    Reply,
    ScriptedAdapter,
    connect_timeout,
    read_timeout,
    refused,
)

HASH = "20240119124024-413c481b80-10-luke-s-theme-a-madman-s-symphony.mp3"
QUEUE_FULL = "You already have unprocessed file in queue. Please wait before adding new file!"
PREMIUM = "Seperation type is unavailable until you purchase premium membership"
NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
NGINX_413 = NGINX_502.replace("502 Bad Gateway", "413 Request Entity Too Large")
HTML = {"Content-Type": "text/html"}
TEXT = {"Content-Type": "text/plain"}

Call = Callable[[MvsepClient], object]


@pytest.fixture
def audio(tmp_path: Path) -> Path:
    path = tmp_path / "song.wav"
    path.write_bytes(b"RIFF" + bytes(1000))
    return path


def create(audio_path: Path) -> Call:
    return lambda client: client.create_separation(audio_path, sep_type=20)


def case(
    name: str, method: str, path: str, reply: Reply, error_class: type[MvsepError], words: str
) -> object:
    """One row: the answer, the error class it must raise, words its message must contain."""
    return pytest.param(method, path, reply, error_class, words, id=name)


CASES = [
    case(
        "queue-full",
        "POST",
        "/api/separation/create",
        Reply(400, {"success": False, "errors": [QUEUE_FULL]}),
        QueueFullError,
        QUEUE_FULL,
    ),
    case(
        "premium-only",
        "POST",
        "/api/separation/create",
        Reply(400, {"success": False, "errors": [PREMIUM]}),
        PremiumRequiredError,
        PREMIUM,
    ),
    case(
        "invalid-model",
        "POST",
        "/api/separation/create",
        Reply(400, {"success": False, "errors": ["Seperation type is not set"]}),
        InvalidRequestError,
        "Seperation type is not set",
    ),
    case(
        "too-large-laravel",
        "POST",
        "/api/separation/create",
        Reply(
            400,
            {
                "success": False,
                "message": {
                    "audiofile": ["The audiofile may not be greater than 102400 kilobytes."]
                },
            },
        ),
        FileTooLargeError,
        "102400 kilobytes",
    ),
    case(
        "too-large-413",
        "POST",
        "/api/separation/create",
        Reply(413, NGINX_413, HTML),
        FileTooLargeError,
        "413 Request Entity Too Large",
    ),
    case(
        "docs-data-message",
        "POST",
        "/api/separation/create",
        Reply(200, {"success": False, "data": {"message": "Some parameters are invalid"}}),
        InvalidRequestError,
        "Some parameters are invalid",
    ),
    case(
        "invalid-key-on-create",
        "POST",
        "/api/separation/create",
        Reply(200, {"success": False, "data": {"message": "Invalid API key"}}),
        InvalidTokenError,
        "Invalid API key",
    ),
    case(
        "401",
        "POST",
        "/api/separation/create",
        Reply(401, {"message": "Unauthenticated."}),
        InvalidTokenError,
        "Unauthenticated.",
    ),
    case(
        "invalid-key-user",
        "GET",
        "/api/app/user",
        Reply(400, {"success": False, "data": {"message": "Invalid API key"}}),
        InvalidTokenError,
        "Invalid API key",
    ),
    case(
        "bare-400-user",
        "GET",
        "/api/app/user",
        Reply(400, {"success": False}),
        InvalidTokenError,
        "refused the API token",
    ),
    case(
        "bare-400-history",
        "GET",
        "/api/app/separation_history",
        Reply(400, {"success": False, "message": "Bad request"}),
        InvalidTokenError,
        "Bad request",
    ),
    case(
        "success-false-user",
        "GET",
        "/api/app/user",
        Reply(200, {"success": False}),
        InvalidTokenError,
        "refused the API token",
    ),
    case(
        "bare-400-toggle",
        "POST",
        "/api/app/enable_premium",
        Reply(400, {"success": False}),
        InvalidTokenError,
        "refused the API token",
    ),
    case(
        "401-html",
        "GET",
        "/api/app/user",
        Reply(401, "<html><title>401</title></html>", HTML),
        InvalidTokenError,
        "refused the API token",
    ),
    case(
        "login-validation",
        "POST",
        "/api/app/login",
        Reply(
            400,
            {
                "success": False,
                "message": {
                    "email": ["The email field is required."],
                    "password": ["The password field is required."],
                },
            },
        ),
        InvalidRequestError,
        "The email field is required.; The password field is required.",
    ),
    case(
        "cancel-running",
        "POST",
        "/api/separation/cancel",
        Reply(400, {"success": False, "message": "Separation is already being processed"}),
        InvalidRequestError,
        "already being processed",
    ),
    case(
        "http-404",
        "GET",
        "/api/separation/get",
        Reply(404, {"message": "Not Found"}),
        NotFoundError,
        "Not Found",
    ),
    case(
        "qc-entry-missing",
        "GET",
        "/api/quality_checker/entry",
        Reply(200, {"success": False, "data": {"message": "Entry not found"}}),
        NotFoundError,
        "Entry not found",
    ),
    case(
        "delete-unsupported",
        "POST",
        "/api/separation/delete",
        Reply(404, "<!DOCTYPE html><html><head><title>Not Found</title></head></html>", HTML),
        NotFoundError,
        "HTML page",
    ),
    case(
        "html-502",
        "POST",
        "/api/app/enable_premium",
        Reply(502, NGINX_502, HTML),
        ServerError,
        "502 Bad Gateway",
    ),
    case(
        "text-503",
        "POST",
        "/api/app/disable_premium",
        Reply(503, "Service Unavailable", TEXT),
        ServerError,
        "Service Unavailable",
    ),
    case(
        "json-500",
        "POST",
        "/api/app/login",
        Reply(500, {"message": "Server Error"}),
        ServerError,
        "Server Error",
    ),
    case(
        "html-200",
        "GET",
        "/api/app/news",
        Reply(
            200, "<!DOCTYPE html><html><head><title>Just a moment...</title></head></html>", HTML
        ),
        ProtocolError,
        "Just a moment...",
    ),
    case(
        "truncated-json",
        "GET",
        "/api/separation/get",
        Reply(200, '{"success": true, "status": "done", "data": {"files": [{"url": "htt'),
        ProtocolError,
        "truncated",
    ),
    case(
        "empty-body", "GET", "/api/app/algorithms", Reply(200, b""), ProtocolError, "empty answer"
    ),
    case(
        "plain-text-200", "GET", "/api/app/queue", Reply(200, "OK", TEXT), ProtocolError, "not JSON"
    ),
    case(
        "odd-success",
        "GET",
        "/api/app/user",
        Reply(200, {"success": "maybe", "data": {}}),
        ProtocolError,
        "success",
    ),
    case(
        "create-without-hash",
        "POST",
        "/api/separation/create",
        Reply(200, {"success": True, "data": {"link": "x"}}),
        OutcomeUnknownError,  # a 2xx create answer we cannot read may hide a created job
        "no usable hash",
    ),
    case(
        "object-not-array",
        "GET",
        "/api/app/algorithms",
        Reply(200, {"success": True}),
        ProtocolError,
        "array",
    ),
    case(
        "redirect",
        "GET",
        "/api/app/news",
        Reply(302, "", {"Location": "https://elsewhere.example/"}),
        ProtocolError,
        "redirect",
    ),
]


CALLS: dict[str, Call] = {
    "/api/app/user": lambda c: c.user(),
    "/api/app/separation_history": lambda c: c.separation_history(),
    "/api/app/enable_premium": lambda c: c.enable_premium(),
    "/api/app/disable_premium": lambda c: c.disable_premium(),
    "/api/app/login": lambda c: c.login("a@example.com", "pw"),
    "/api/separation/cancel": lambda c: c.cancel_separation(HASH),
    "/api/separation/delete": lambda c: c.delete_separation(HASH),
    "/api/separation/get": lambda c: c.get_separation(HASH),
    "/api/quality_checker/entry": lambda c: c.quality_entry(7),
    "/api/app/news": lambda c: c.news(),
    "/api/app/algorithms": lambda c: c.algorithms(),
    "/api/app/queue": lambda c: c.queue(),
}


@pytest.mark.parametrize(("method", "path", "reply", "error_class", "words"), CASES)
def test_answers_raise_the_matching_error(
    client: MvsepClient,
    adapter: ScriptedAdapter,
    audio: Path,
    method: str,
    path: str,
    reply: Reply,
    error_class: type[MvsepError],
    words: str,
) -> None:
    adapter.add(method, path, reply)
    call = create(audio) if path == "/api/separation/create" else CALLS[path]

    with pytest.raises(error_class) as caught:
        call(client)

    error = caught.value
    assert type(error) is error_class
    endpoint = path.removeprefix("/api")
    assert error.endpoint == endpoint
    assert error.status == reply.status
    assert words in str(error)
    assert str(error).startswith(f"{endpoint} (HTTP {reply.status}): ")


def test_queue_full_is_transient_and_premium_is_not(
    client: MvsepClient, adapter: ScriptedAdapter, audio: Path
) -> None:
    adapter.add(
        "POST",
        "/api/separation/create",
        Reply(400, {"success": False, "errors": [QUEUE_FULL]}),
        Reply(400, {"success": False, "errors": [PREMIUM]}),
    )
    with pytest.raises(QueueFullError) as queue_full:
        client.create_separation(audio, sep_type=20)
    with pytest.raises(PremiumRequiredError) as premium:
        client.create_separation(audio, sep_type=20)
    assert queue_full.value.transient is True
    assert queue_full.value.messages == (QUEUE_FULL,)
    assert premium.value.transient is False


def test_rate_limit_carries_retry_after(
    client: MvsepClient, adapter: ScriptedAdapter, sleeps: Sleeps
) -> None:
    adapter.add(
        "GET",
        "/api/app/news",
        Reply(
            429, {"message": "Too Many Attempts."}, {"Retry-After": "120", "X-RateLimit-Reset": "1"}
        ),
    )
    with pytest.raises(RateLimitedError) as caught:
        client.news()
    assert caught.value.retry_after == 120.0
    assert caught.value.status == 429
    assert "Too Many Attempts." in str(caught.value)
    assert sleeps == []  # longer than the backoff cap: handed back to the caller at once


def test_rate_limit_reads_an_http_date_retry_after(
    client: MvsepClient, adapter: ScriptedAdapter
) -> None:
    adapter.add(
        "POST",
        "/api/app/login",
        Reply(
            429,
            {"message": "Too Many Attempts."},
            {
                "Retry-After": "Fri, 10 May 2024 08:03:47 GMT",
                "Date": "Fri, 10 May 2024 08:02:47 GMT",
            },
        ),
    )
    with pytest.raises(RateLimitedError) as caught:
        client.login("a@example.com", "pw")
    assert caught.value.retry_after == 60.0


def test_a_refused_connection_is_a_network_error(
    client: MvsepClient, adapter: ScriptedAdapter
) -> None:
    adapter.add("GET", "/api/app/news", Reply(error=refused()))
    with pytest.raises(NetworkError) as caught:
        client.news()
    assert caught.value.endpoint == "/app/news"
    assert caught.value.status is None
    # The host it tried is named (never the query string, which may carry the token).
    assert "cannot connect to mvsep.com (refused" in str(caught.value)


def test_every_connection_error_names_the_host_and_never_the_query(
    transport: Transport, adapter: ScriptedAdapter
) -> None:
    # A regional server on a port of its own: the words name exactly where mvsepd knocked.
    client = MvsepClient(TOKEN, "https://de.mvsep.com:8443", transport=transport)
    cases = [
        (refused(), "cannot connect to de.mvsep.com:8443 (refused, unreachable or DNS failure)"),
        (connect_timeout(), "connect to de.mvsep.com:8443 timed out"),
        (read_timeout(), "no answer from de.mvsep.com:8443 before the read timeout"),
    ]
    for failure, words in cases:
        adapter.add("GET", "/api/app/user", *[Reply(error=failure)] * 5)
        with pytest.raises(NetworkError) as caught:
            client.user()
        assert caught.value.detail == words
        assert TOKEN not in str(caught.value) and "api_token" not in str(caught.value)


def test_unknown_hash_reads_as_not_found_status(
    client: MvsepClient, adapter: ScriptedAdapter
) -> None:
    adapter.add(
        "GET",
        "/api/separation/get",
        Reply(
            200,
            {
                "success": False,
                "status": "not_found",
                "data": {"message": "File or File Hash not found"},
            },
        ),
        Reply(200, {"success": False, "data": {"message": "File or File Hash not found"}}),
    )
    for _ in range(2):
        status = client.get_separation(HASH)
        assert status.status is RemoteStatus.NOT_FOUND
        assert status.status.finished
        assert status.message == "File or File Hash not found"


def test_failed_job_is_a_status_not_an_error(client: MvsepClient, adapter: ScriptedAdapter) -> None:
    adapter.add(
        "GET",
        "/api/separation/get",
        Reply(
            200,
            {"success": False, "status": "failed", "data": {"message": "Audio file is corrupted"}},
        ),
    )
    status = client.get_separation(HASH)
    assert status.status is RemoteStatus.FAILED
    assert status.message == "Audio file is corrupted"


def test_mirror_with_invalid_key_raises_invalid_token(
    client: MvsepClient, adapter: ScriptedAdapter
) -> None:
    adapter.add(
        "GET",
        "/api/separation/get",
        Reply(200, {"success": False, "data": {"message": "Invalid API key"}}),
    )
    with pytest.raises(InvalidTokenError):
        client.get_separation(HASH, mirror=True)


def test_server_error_after_retries_keeps_the_servers_words(
    client: MvsepClient, adapter: ScriptedAdapter, sleeps: Sleeps
) -> None:
    adapter.add(
        "GET", "/api/separation/get", Reply(503, {"success": False, "message": "Maintenance"})
    )
    with pytest.raises(ServerError) as caught:
        client.get_separation(HASH)
    assert caught.value.messages == ("Maintenance",)
    assert len(adapter.requests) == 5
    assert sleeps == [1.0, 2.0, 4.0, 8.0]
