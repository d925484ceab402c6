"""Every error class of the MvsepError branch, as MvsepClient raises it against the emulator.

Real refusals (bad tokens, bad requests, plan limits, unknown hashes, the rate limit) and the
emulator's injected faults (429, 502, 503, dropped connections, lost answers, broken JSON,
``"success":"true"``), plus the download refusals. Transports retry 0 times unless a test is
about the retry policy; their sleeps are recorded, never waited.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mvsepd.api import MvsepClient
from mvsepd.api.wire import hash_matches_filename
from mvsepd.emulator import EmulatorServer
from mvsepd.errors import (
    ConnectionClosedError,
    DownloadError,
    FileTooLargeError,
    InvalidRequestError,
    InvalidTokenError,
    MvsepError,
    NetworkError,
    NotFoundError,
    OutcomeUnknownError,
    OversizeDownloadError,
    PremiumRequiredError,
    ProtocolError,
    QueueFullError,
    RateLimitedError,
    ServerError,
    StreamRefusedError,
    UnsafeDownloadError,
)
from mvsepd.models import RemoteStatus
from tests.api_live_emulator.conftest import ClientFactory, ServerFactory, Sleeps
from tests.api_live_emulator.support import finished

MEL_ROFORMER = 48
ENSEMBLE = 26  # premium-only at MVSEP
CREATE = "/api/separation/create"
UNKNOWN_TOKEN = "AbCdEfGhIjKlMnOpQrStUvWxYz0123"  # well formed, but no account has it


def test_an_unknown_token_is_invalid_everywhere_it_is_sent(
    server: EmulatorServer, make_client: ClientFactory, audio: Path
) -> None:
    client = make_client(UNKNOWN_TOKEN)

    calls: dict[str, Callable[[], object]] = {
        "/separation/create": lambda: client.create_separation(audio, sep_type=MEL_ROFORMER),
        "/app/user": client.user,
        "/app/separation_history": client.separation_history,
        "/app/enable_premium": client.enable_premium,
        "/separation/cancel": lambda: client.cancel_separation("20231114221320-0a1b2c3d4e-x.wav"),
    }
    for endpoint, call in calls.items():
        with pytest.raises(InvalidTokenError) as refused:
            call()
        assert refused.value.endpoint == endpoint
        assert refused.value.status in (400, 401)
        assert UNKNOWN_TOKEN not in str(refused.value)
        assert refused.value.transient is False
    assert server.state.create_count() == 0


def test_a_token_revoked_by_the_invalid_token_fault_stays_invalid(
    server: EmulatorServer, premium: MvsepClient, premium_token: str, audio: Path
) -> None:
    created = premium.create_separation(audio, sep_type=MEL_ROFORMER)
    assert finished(server, premium, created.hash).status is RemoteStatus.DONE
    server.faults.set("invalid_token", count=1, endpoints=["/api/app/user"])

    with pytest.raises(InvalidTokenError, match="Invalid API key"):
        premium.user()

    account = server.state.account(premium_token)
    assert account is not None and account.revoked
    with pytest.raises(InvalidTokenError):
        premium.create_separation(audio, sep_type=MEL_ROFORMER)
    with pytest.raises(InvalidTokenError):
        premium.get_separation(created.hash, mirror=True)  # the mirror read needs the token
    # Reads that carry no token still work.
    assert premium.get_separation(created.hash).status is RemoteStatus.DONE


def test_unknown_models_and_options_are_invalid_requests(
    server: EmulatorServer, premium: MvsepClient, premium_token: str, audio: Path
) -> None:
    with pytest.raises(InvalidRequestError) as unknown_model:
        premium.create_separation(audio, sep_type=9999)  # no catalog: MVSEP decides
    with pytest.raises(InvalidRequestError) as unknown_option:
        premium.create_separation(audio, sep_type=MEL_ROFORMER, options={"add_opt1": "zzz"})

    assert type(unknown_model.value) is InvalidRequestError
    assert unknown_model.value.messages == ("Seperation type is not set",)
    assert unknown_model.value.status == 400
    assert type(unknown_option.value) is InvalidRequestError
    assert unknown_option.value.messages == ("The selected add opt1 is invalid.",)
    assert server.state.create_count(premium_token) == 0


def test_a_free_account_gets_one_unfinished_job(
    make_server: ServerFactory, make_client: ClientFactory, audio: Path
) -> None:
    server = make_server(queue_seconds=60.0)
    client = make_client(server.add_account(plan="free").token, on=server)
    first = client.create_separation(audio, sep_type=MEL_ROFORMER)

    with pytest.raises(QueueFullError) as refused:
        client.create_separation(audio, sep_type=MEL_ROFORMER)

    assert refused.value.transient is True
    assert "unprocessed file in queue" in refused.value.messages[0]
    server.advance(60.0)
    assert finished(server, client, first.hash).status is RemoteStatus.DONE
    client.create_separation(audio, sep_type=MEL_ROFORMER)  # the slot is free again


def test_ensembles_need_premium(
    server: EmulatorServer, make_client: ClientFactory, premium: MvsepClient, audio: Path
) -> None:
    free = make_client(server.add_account(plan="free").token)

    with pytest.raises(PremiumRequiredError, match="purchase premium membership"):
        free.create_separation(audio, sep_type=ENSEMBLE)

    assert premium.create_separation(audio, sep_type=ENSEMBLE).hash


def test_a_free_upload_over_the_size_limit_is_too_large(
    make_server: ServerFactory, make_client: ClientFactory, audio: Path
) -> None:
    server = make_server(free_max_upload_bytes=16 * 1024)
    client = make_client(server.add_account(plan="free").token, on=server)
    assert audio.stat().st_size > 16 * 1024

    with pytest.raises(FileTooLargeError, match="greater than 16 kilobytes"):
        client.create_separation(audio, sep_type=MEL_ROFORMER)

    assert server.state.create_count() == 0


def test_not_found_where_the_client_raises_it(
    server: EmulatorServer, premium: MvsepClient, audio: Path, tmp_path: Path
) -> None:
    created = premium.create_separation(audio, sep_type=MEL_ROFORMER)
    vocals = finished(server, premium, created.hash).files_of_type("Vocals")[0]
    premium.delete_separation(created.hash)

    with pytest.raises(NotFoundError, match="File or File Hash not found"):
        premium.cancel_separation(created.hash)
    with pytest.raises(NotFoundError):
        premium.delete_separation("20231114221320-0123456789-never.wav")
    with pytest.raises(NotFoundError) as gone:
        premium.download_result(vocals, tmp_path / "vocals.wav")
    assert gone.value.status == 404
    with pytest.raises(NotFoundError, match="Entry not found"):
        premium.quality_entry(12345)


def test_the_rate_limit_answers_429_with_retry_after(
    make_server: ServerFactory, make_client: ClientFactory, sleeps: Sleeps
) -> None:
    server = make_server(rate_limit_default=2, rate_limit_window_seconds=60.0)
    client = make_client(None, on=server, retries=3)
    client.news()
    client.news()

    with pytest.raises(RateLimitedError) as limited:
        client.news()

    assert limited.value.status == 429
    assert limited.value.retry_after == 60.0
    assert limited.value.messages == ("Too Many Attempts.",)
    assert sleeps == []  # 60 s is past the transport's 30 s cap: the caller's scheduler waits
    server.advance(60.0)
    assert client.news()


def test_a_429_fault_is_retried_after_its_retry_after(
    server: EmulatorServer, make_client: ClientFactory, sleeps: Sleeps
) -> None:
    no_retries = make_client(None)
    server.faults.set("http_429", count=1)
    with pytest.raises(RateLimitedError) as limited:
        no_retries.news()
    assert limited.value.retry_after == 1.0

    retrying = make_client(None, retries=2)
    server.faults.set("http_429", count=1)
    assert retrying.news()
    assert sleeps == [1.0]


def test_5xx_answers_are_server_errors(
    server: EmulatorServer, make_client: ClientFactory, premium: MvsepClient, sleeps: Sleeps
) -> None:
    server.faults.set("http_503", count=1, endpoints=["/api/app/enable_premium"])
    retrying = make_client(server.add_account(plan="premium", credits=5).token, retries=4)
    with pytest.raises(ServerError) as unavailable:
        retrying.enable_premium()  # a form POST is never repeated once sent
    assert unavailable.value.status == 503
    assert unavailable.value.transient is True
    assert sleeps == []

    server.faults.set("http_502", count=1, endpoints=["/api/app/news"])
    with pytest.raises(ServerError, match="502 Bad Gateway") as gateway:
        premium.news()
    assert gateway.value.status == 502


def test_a_503_on_create_is_a_server_error_and_creates_nothing(
    server: EmulatorServer, premium: MvsepClient, audio: Path
) -> None:
    server.faults.set("http_503", count=1, endpoints=[CREATE])

    with pytest.raises(ServerError) as unavailable:
        premium.create_separation(audio, sep_type=MEL_ROFORMER)

    assert not isinstance(unavailable.value, OutcomeUnknownError)
    assert server.state.create_count() == 0


def test_network_failures_are_network_errors(
    server: EmulatorServer, make_client: ClientFactory, sleeps: Sleeps
) -> None:
    client = make_client(None)
    server.faults.set("drop_connection", count=1, endpoints=["/api/app/news"])
    host = server.url.removeprefix("http://")
    with pytest.raises(
        NetworkError, match=f"{host} closed the connection before answering"
    ) as dropped:
        client.news()
    # Closed without an answer (what a kept-alive connection the server timed out looks like)
    assert type(dropped.value) is ConnectionClosedError
    assert dropped.value.status is None

    retrying = make_client(None, retries=1)
    server.faults.set("drop_connection", count=1, endpoints=["/api/app/news"])
    assert retrying.news()  # a GET is repeated after a drop: at once, on a new connection
    assert sleeps == [0.0]


def test_a_closed_port_is_a_network_error(
    make_server: ServerFactory, make_client: ClientFactory
) -> None:
    stopped = make_server()
    client = make_client(None, on=stopped)
    stopped.stop()

    host = stopped.url.removeprefix("http://")
    with pytest.raises(NetworkError, match=f"cannot connect to {host} ") as refused:
        client.queue()

    assert type(refused.value) is NetworkError


def test_a_lost_create_answer_is_outcome_unknown_and_the_job_is_in_the_history(
    server: EmulatorServer, premium: MvsepClient, premium_token: str, audio: Path
) -> None:
    server.faults.set("lost_response", count=1)

    with pytest.raises(OutcomeUnknownError, match="the job may exist") as lost:
        premium.create_separation(audio, sep_type=MEL_ROFORMER)

    assert isinstance(lost.value, NetworkError) and lost.value.transient
    assert server.state.create_count(premium_token) == 1
    assert server.state.credits(premium_token) == 99  # created and charged
    matches = [
        entry
        for entry in premium.separation_history()
        if hash_matches_filename(entry.hash, audio.name)
    ]
    (entry,) = matches
    assert entry.job_exists and entry.render_id == MEL_ROFORMER
    assert finished(server, premium, entry.hash).status is RemoteStatus.DONE


def test_a_gateway_error_on_create_is_outcome_unknown(
    server: EmulatorServer, premium: MvsepClient, audio: Path
) -> None:
    # Behind a proxy a 502 may hide a job the application created; the client never assumes.
    server.faults.set("http_502", count=1, endpoints=[CREATE])

    with pytest.raises(OutcomeUnknownError) as unknown:
        premium.create_separation(audio, sep_type=MEL_ROFORMER)

    assert unknown.value.status == 502
    assert premium.separation_history() == []  # this time nothing was created: reconcile finds it


def test_malformed_json_is_a_protocol_error(
    server: EmulatorServer, premium: MvsepClient, audio: Path
) -> None:
    created = premium.create_separation(audio, sep_type=MEL_ROFORMER)
    server.faults.set("malformed_json", count=2, endpoints=["/api/separation/get", "/api/app/news"])

    with pytest.raises(ProtocolError, match="malformed or truncated JSON") as broken:
        premium.get_separation(created.hash)
    assert broken.value.status == 200
    with pytest.raises(ProtocolError):
        premium.news()

    assert finished(server, premium, created.hash).status is RemoteStatus.DONE


def test_success_as_a_string_still_reads_as_created(
    server: EmulatorServer, premium: MvsepClient, audio: Path
) -> None:
    server.faults.set("success_string", count=1)

    created = premium.create_separation(audio, sep_type=MEL_ROFORMER)

    assert server.faults.fired()["success_string"] == 1
    assert hash_matches_filename(created.hash, audio.name)
    assert server.state.job(created.hash) is not None


@pytest.mark.parametrize("mode", ["empty_body", "length_required"])
def test_an_upload_without_a_length_refused_creates_nothing_and_goes_again_with_one(
    make_server: ServerFactory, make_client: ClientFactory, audio: Path, mode: str
) -> None:
    # A server that takes no chunked body (Apache handing PHP-FPM nothing; mod_fcgid's 411).
    server = make_server(chunked_uploads=mode)
    client = make_client(server.add_account(plan="premium", credits=100).token, on=server)
    with pytest.raises(StreamRefusedError, match="without a length was refused"):
        client.create_separation(audio, sep_type=MEL_ROFORMER, stream=iter([audio.read_bytes()]))
    assert server.state.jobs() == []
    created = client.create_separation(audio, sep_type=MEL_ROFORMER)
    assert [job.hash for job in server.state.jobs()] == [created.hash]


def test_every_error_here_belongs_to_the_mvsep_branch() -> None:
    # The classes this module raises are the whole MvsepError branch of mvsepd.errors, except
    # DownloadError and UnsafeDownloadError, which test_downloads raises.
    raised = {
        InvalidTokenError,
        InvalidRequestError,
        QueueFullError,
        PremiumRequiredError,
        FileTooLargeError,
        NotFoundError,
        RateLimitedError,
        ServerError,
        NetworkError,
        ConnectionClosedError,
        OutcomeUnknownError,
        ProtocolError,
        StreamRefusedError,
    }
    branch = set()
    pending: list[type[MvsepError]] = [MvsepError]
    while pending:
        kind = pending.pop()
        if kind.__module__ == "mvsepd.errors":  # not a subclass some test made up
            branch.add(kind)
        pending.extend(kind.__subclasses__())

    assert branch - {MvsepError} == raised | {
        DownloadError,
        OversizeDownloadError,
        UnsafeDownloadError,
    }
