"""Retry policy: GETs retried with backoff and Retry-After; creates never retried blindly."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from mvsepd.api import MvsepClient, Transport
from mvsepd.errors import (
    ConnectionClosedError,
    NetworkError,
    OutcomeUnknownError,
    ProtocolError,
    RateLimitedError,
    ServerError,
)
from tests.api.conftest import Sleeps
from tests.api.scripted import (
    TOKEN,
    Reply,
    ScriptedAdapter,
    connect_timeout,
    read_timeout,
    refused,
    reset_after_send,
)

HASH = "20240119124024-413c481b80-song.wav"
WAITING = {"success": True, "status": "waiting", "data": {"queue_count": 1, "current_order": 1}}
CREATED = {"success": True, "data": {"hash": HASH, "link": None}}


@pytest.fixture
def audio(tmp_path: Path) -> Path:
    path = tmp_path / "song.wav"
    path.write_bytes(b"RIFF" + bytes(5000))
    return path


@pytest.mark.parametrize(
    "first",
    [
        Reply(502, "<html><title>502 Bad Gateway</title></html>", {"Content-Type": "text/html"}),
        Reply(503, "Service Unavailable", {"Content-Type": "text/plain"}),
        Reply(500, {"message": "Server Error"}),
        Reply(504, ""),
        Reply(error=refused()),
        Reply(error=read_timeout()),
        Reply(error=connect_timeout()),
        Reply(200, WAITING, fail_after=10),
    ],
    ids=[
        "502-html",
        "503-text",
        "500",
        "504",
        "refused",
        "read-timeout",
        "connect-timeout",
        "cut-off",
    ],
)
def test_a_poll_is_retried_after_a_transient_failure(
    client: MvsepClient, adapter: ScriptedAdapter, sleeps: Sleeps, first: Reply
) -> None:
    adapter.add("GET", "/api/separation/get", first, Reply(body=WAITING))
    status = client.get_separation(HASH)
    assert status.queue_count == 1
    assert len(adapter.requests) == 2
    assert sleeps == [1.0]


def test_a_poll_on_a_connection_the_server_closed_is_retried_at_once(
    client: MvsepClient, adapter: ScriptedAdapter, sleeps: Sleeps
) -> None:
    """The keep-alive race: MVSEP closes an idle connection as the next poll goes out on it.
    Tried again at once (a new connection); a second such failure backs off as usual."""
    adapter.add(
        "GET",
        "/api/separation/get",
        Reply(error=reset_after_send()),
        Reply(error=reset_after_send()),
        Reply(body=WAITING),
    )
    status = client.get_separation(HASH)
    assert status.queue_count == 1
    assert len(adapter.requests) == 3
    assert sleeps == [0.0, 2.0]


def test_retry_after_is_honoured(
    client: MvsepClient, adapter: ScriptedAdapter, sleeps: Sleeps
) -> None:
    adapter.add(
        "GET",
        "/api/separation/get",
        Reply(429, {"message": "Too Many Attempts."}, {"Retry-After": "7"}),
        Reply(503, "down", {"Retry-After": "2", "Content-Type": "text/plain"}),
        Reply(body=WAITING),
    )
    client.get_separation(HASH)
    assert sleeps == [7.0, 2.0]


def test_backoff_doubles_up_to_the_cap_then_gives_up(
    adapter: ScriptedAdapter, sleeps: Sleeps
) -> None:
    transport = Transport(retries=6, backoff_base=1.0, backoff_cap=5.0, sleep=sleeps)
    transport.mount("https://", adapter)
    adapter.add("GET", "/api/app/news", Reply(502, "bad gateway", {"Content-Type": "text/plain"}))
    with pytest.raises(ServerError) as caught:
        MvsepClient(None, transport=transport).news()
    assert caught.value.status == 502
    assert sleeps == [1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    assert len(adapter.requests) == 7


def test_network_failures_exhaust_into_a_network_error(
    client: MvsepClient, adapter: ScriptedAdapter, sleeps: Sleeps
) -> None:
    adapter.add("GET", "/api/app/user", Reply(error=refused()))
    with pytest.raises(NetworkError) as caught:
        client.user()
    assert type(caught.value) is NetworkError
    assert caught.value.transient
    assert len(adapter.requests) == 5
    assert sleeps == [1.0, 2.0, 4.0, 8.0]


def test_rate_limit_after_retries_reports_the_last_retry_after(
    client: MvsepClient, adapter: ScriptedAdapter, sleeps: Sleeps
) -> None:
    adapter.add(
        "GET", "/api/app/queue", Reply(429, {"message": "Too Many Attempts."}, {"Retry-After": "3"})
    )
    with pytest.raises(RateLimitedError) as caught:
        client.queue()
    assert caught.value.retry_after == 3.0
    assert sleeps == [3.0] * 4


def test_no_retries_when_configured_off(adapter: ScriptedAdapter, sleeps: Sleeps) -> None:
    transport = Transport(retries=0, sleep=sleeps)
    transport.mount("https://", adapter)
    adapter.add("GET", "/api/separation/get", Reply(503, "x", {"Content-Type": "text/plain"}))
    with pytest.raises(ServerError):
        MvsepClient(None, transport=transport).get_separation(HASH)
    assert sleeps == []


@pytest.mark.parametrize(
    "reply",
    [
        Reply(502, "<html>bad gateway</html>", {"Content-Type": "text/html"}),
        Reply(429, {"message": "Too Many Attempts."}, {"Retry-After": "1"}),
        Reply(error=connect_timeout()),
    ],
    ids=["502", "429", "connect-timeout"],
)
def test_create_is_never_retried(
    client: MvsepClient, adapter: ScriptedAdapter, sleeps: Sleeps, audio: Path, reply: Reply
) -> None:
    adapter.add("POST", "/api/separation/create", reply, Reply(body=CREATED))
    with pytest.raises((ServerError, RateLimitedError, NetworkError)):
        client.create_separation(audio, sep_type=20)
    assert len(adapter.requests) == 1
    assert sleeps == []


@pytest.mark.parametrize(
    "lost", [reset_after_send(), read_timeout()], ids=["reset", "read-timeout"]
)
def test_an_upload_whose_answer_was_lost_has_an_unknown_outcome(
    client: MvsepClient, adapter: ScriptedAdapter, audio: Path, lost: Exception
) -> None:
    adapter.add("POST", "/api/separation/create", Reply(error=lost))
    with pytest.raises(OutcomeUnknownError) as caught:
        client.create_separation(audio, sep_type=20)
    assert caught.value.endpoint == "/separation/create"
    assert "may exist" in str(caught.value)
    assert len(adapter.requests) == 1
    assert adapter.requests[0].part("audiofile").content == audio.read_bytes()  # it was sent


def test_a_create_cut_off_mid_answer_has_an_unknown_outcome(
    client: MvsepClient, adapter: ScriptedAdapter, audio: Path
) -> None:
    adapter.add("POST", "/api/separation/create", Reply(200, CREATED, fail_after=12))
    with pytest.raises(OutcomeUnknownError):
        client.create_separation(audio, sep_type=20)


@pytest.mark.parametrize(
    "answer",
    [
        Reply(200, "<html><title>Welcome</title></html>", {"Content-Type": "text/html"}),
        Reply(200, '{"success": true, "data": {"hash": "2024'),
        Reply(200, {"success": True, "data": {}}),
        Reply(502, "<html>502 Bad Gateway</html>", {"Content-Type": "text/html"}),
        Reply(504, "<html>504 Gateway Time-out</html>", {"Content-Type": "text/html"}),
    ],
    ids=["html-200", "truncated-200", "no-hash-200", "502", "504"],
)
def test_a_create_answer_that_may_hide_a_job_has_an_unknown_outcome(
    client: MvsepClient, adapter: ScriptedAdapter, audio: Path, answer: Reply
) -> None:
    adapter.add("POST", "/api/separation/create", answer)
    with pytest.raises(OutcomeUnknownError) as caught:
        client.create_separation(audio, sep_type=20)
    assert caught.value.status == answer.status
    assert caught.value.endpoint == "/separation/create"
    assert caught.value.__context__ is None


@pytest.mark.parametrize(
    ("answer", "error_class"),
    [
        (Reply(503, "Service Unavailable", {"Content-Type": "text/plain"}), ServerError),
        (Reply(500, {"message": "Server Error"}), ServerError),
        (Reply(429, {"message": "Too Many Attempts."}), RateLimitedError),
    ],
    ids=["503", "500", "429"],
)
def test_a_create_refused_by_the_application_keeps_its_error(
    client: MvsepClient,
    adapter: ScriptedAdapter,
    audio: Path,
    answer: Reply,
    error_class: type[Exception],
) -> None:
    adapter.add("POST", "/api/separation/create", answer)
    with pytest.raises(error_class) as caught:
        client.create_separation(audio, sep_type=20)
    assert not isinstance(caught.value, OutcomeUnknownError)


@pytest.mark.parametrize(
    "before", [refused(), connect_timeout()], ids=["refused", "connect-timeout"]
)
def test_a_create_that_never_connected_is_a_plain_network_error(
    client: MvsepClient, adapter: ScriptedAdapter, audio: Path, before: Exception
) -> None:
    adapter.add("POST", "/api/separation/create", Reply(error=before))
    with pytest.raises(NetworkError) as caught:
        client.create_separation(audio, sep_type=20)
    assert type(caught.value) is NetworkError  # nothing was sent: safe to try again
    assert caught.value.transient


def test_url_and_no_upload_creates_are_outcome_unknown_too(
    client: MvsepClient, adapter: ScriptedAdapter
) -> None:
    adapter.add("POST", "/api/separation/create", Reply(error=reset_after_send()))
    with pytest.raises(OutcomeUnknownError):
        client.create_separation_from_url("https://example.com/a.mp3", sep_type=20)
    with pytest.raises(OutcomeUnknownError):
        client.create_without_upload(sep_type=62, options={"add_opt1": "rain"})


def test_a_form_post_is_retried_only_when_nothing_was_sent(
    client: MvsepClient, adapter: ScriptedAdapter, sleeps: Sleeps
) -> None:
    adapter.add(
        "POST",
        "/api/app/enable_premium",
        Reply(error=refused()),
        Reply(body={"success": True, "message": "successfully enabled"}),
    )
    assert client.enable_premium().message == "successfully enabled"
    assert sleeps == [1.0]

    adapter.add("POST", "/api/separation/cancel", Reply(error=reset_after_send()))
    with pytest.raises(NetworkError) as caught:
        client.cancel_separation(HASH)
    # The server closed the connection (not a lost create's OutcomeUnknownError), and the
    # POST, which may have been acted on, is not sent again.
    assert type(caught.value) is ConnectionClosedError
    assert len(adapter.on("POST", "/api/separation/cancel")) == 1


def test_a_form_post_answered_with_5xx_is_not_retried(
    client: MvsepClient, adapter: ScriptedAdapter, sleeps: Sleeps
) -> None:
    adapter.add("POST", "/api/app/login", Reply(503, "x", {"Content-Type": "text/plain"}))
    with pytest.raises(ServerError):
        client.login("a@example.com", "pw")
    assert sleeps == []


def test_an_oversized_answer_is_refused(adapter: ScriptedAdapter, sleeps: Sleeps) -> None:
    transport = Transport(max_answer_bytes=1000, sleep=sleeps)
    transport.mount("https://", adapter)
    adapter.add("GET", "/api/app/news", Reply(body=[{"title": "x" * 5000}]))
    with pytest.raises(ProtocolError, match="larger than 1000 bytes"):
        MvsepClient(TOKEN, transport=transport).news()


def test_a_request_that_cannot_be_built_is_not_retried(
    client: MvsepClient, adapter: ScriptedAdapter, sleeps: Sleeps
) -> None:
    adapter.add("GET", "/api/app/news", Reply(error=requests.exceptions.InvalidURL("bad url")))
    with pytest.raises(ProtocolError, match="could not be sent"):
        client.news()
    assert sleeps == []
