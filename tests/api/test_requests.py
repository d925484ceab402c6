"""What each client method puts on the wire: method, path, query, form, parts, token placement."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mvsepd import __version__, errors
from mvsepd.api import MvsepClient, Transport
from mvsepd.models import AlgorithmScope, OutputFormat, SeparationCreated
from tests.api.conftest import Sleeps
from tests.api.scripted import TOKEN, Reply, ScriptedAdapter

HASH = "20240119124024-413c481b80-10-luke-s-theme-a-madman-s-symphony.mp3"
LINK = f"https://mvsep.com/api/separation/get?hash={HASH}"
CREATED = {"success": True, "data": {"link": LINK, "hash": HASH}}
ACTION = {"success": True, "message": "successfully enabled"}
USER = {
    "success": True,
    "data": {"name": "n", "email": "e", "api_token": None, "premium_minutes": 54,
             "premium_enabled": 1, "long_filenames_enabled": 1},
}  # fmt: skip
WAITING = {"success": True, "status": "waiting", "data": {"queue_count": 3, "current_order": 2}}
QUEUE_FULL = "You already have unprocessed file in queue. Please wait before adding new file!"


def verifies_tls(verify: object) -> bool:
    """requests passes True, or the CA bundle path from REQUESTS_CA_BUNDLE; never False."""
    return verify is True or (isinstance(verify, str) and bool(verify))


@pytest.fixture
def audio(tmp_path: Path) -> Path:
    path = tmp_path / "10 - Luke's Theme.mp3"
    path.write_bytes(b"ID3" + bytes(range(256)) * 40)
    return path


def test_create_separation_sends_the_official_multipart_form(
    client: MvsepClient, adapter: ScriptedAdapter, audio: Path
) -> None:
    adapter.add("POST", "/api/separation/create", Reply(body=CREATED))

    created = client.create_separation(
        audio,
        sep_type=40,
        options={"add_opt2": "1", "add_opt1": "81", "add_opt3": ""},
        output_format=OutputFormat.FLAC16,
        is_demo=True,
    )

    (request,) = adapter.requests
    assert (request.method, request.path, request.query) == ("POST", "/api/separation/create", {})
    assert [part.name for part in request.parts] == [
        "api_token", "sep_type", "add_opt1", "add_opt2", "output_format", "is_demo", "audiofile",
    ]  # fmt: skip
    assert request.fields == {
        "api_token": TOKEN, "sep_type": "40", "add_opt1": "81", "add_opt2": "1",
        "output_format": "2", "is_demo": "1",
    }  # fmt: skip
    upload = request.part("audiofile")
    assert upload.filename == "10 - Luke's Theme.mp3"
    assert upload.content == audio.read_bytes()
    assert upload.content_type == "audio/mpeg"
    assert verifies_tls(request.verify)
    assert request.timeout == (10, 600)
    assert created == SeparationCreated(hash=HASH, link=LINK, server="https://mvsep.com")


def test_create_always_sends_output_format_and_is_demo(
    client: MvsepClient, adapter: ScriptedAdapter, audio: Path
) -> None:
    adapter.add("POST", "/api/separation/create", Reply(body=CREATED))
    client.create_separation(audio, sep_type=20)
    assert adapter.requests[0].fields == {
        "api_token": TOKEN, "sep_type": "20", "output_format": "1", "is_demo": "0",
    }  # fmt: skip


def test_create_reports_upload_progress(
    client: MvsepClient, adapter: ScriptedAdapter, audio: Path
) -> None:
    adapter.add("POST", "/api/separation/create", Reply(body=CREATED))
    seen: list[tuple[int, int]] = []
    client.create_separation(
        audio, sep_type=20, progress=lambda sent, total: seen.append((sent, total))
    )
    total = int(adapter.requests[0].headers["Content-Length"])
    assert seen[-1] == (total, total)
    assert [sent for sent, _ in seen] == sorted(sent for sent, _ in seen)
    assert all(t == total for _, t in seen)


def test_create_from_url_sends_url_and_remote_type_without_a_file(
    client: MvsepClient, adapter: ScriptedAdapter
) -> None:
    adapter.add(
        "POST",
        "/api/separation/create",
        Reply(body={"success": "true", "data": {"hash": "n2AwBjy4KsFZfqqR", "link": None}}),
    )
    created = client.create_separation_from_url(
        "https://www.dropbox.com/s/x/song.mp3", remote_type="dropbox", sep_type=48
    )
    (request,) = adapter.requests
    assert [p.filename for p in request.parts] == [None] * len(request.parts)
    assert request.fields == {
        "api_token": TOKEN, "url": "https://www.dropbox.com/s/x/song.mp3", "remote_type": "dropbox",
        "sep_type": "48", "output_format": "1", "is_demo": "0",
    }  # fmt: skip
    assert created.short_hash == "n2AwBjy4KsFZfqqR"
    assert created.server == "https://mvsep.com"


def test_create_matchering_uploads_target_and_reference(
    client: MvsepClient, adapter: ScriptedAdapter, tmp_path: Path
) -> None:
    target = tmp_path / "mix.wav"
    reference = tmp_path / "ref.flac"
    target.write_bytes(b"RIFF-target")
    reference.write_bytes(b"fLaC-reference")
    adapter.add("POST", "/api/separation/create", Reply(body=CREATED))

    client.create_matchering(target, reference, output_format=OutputFormat.WAV32)

    (request,) = adapter.requests
    assert request.fields == {
        "api_token": TOKEN, "sep_type": "68", "output_format": "4", "is_demo": "0",
    }  # fmt: skip
    assert request.part("target_audiofile").content == b"RIFF-target"
    assert request.part("target_audiofile").filename == "mix.wav"
    assert request.part("reference_audiofile").content == b"fLaC-reference"
    assert not [p for p in request.parts if p.name == "audiofile"]


def test_create_without_upload_sends_text_options_only(
    client: MvsepClient, adapter: ScriptedAdapter
) -> None:
    adapter.add("POST", "/api/separation/create", Reply(body=CREATED))
    client.create_without_upload(
        sep_type=62, options={"add_opt1": "rain on a tin roof", "add_opt2": "20"}
    )
    (request,) = adapter.requests
    assert all(p.filename is None for p in request.parts)
    assert request.fields["add_opt1"] == "rain on a tin roof"
    assert request.fields["sep_type"] == "62"


def test_get_separation_carries_no_token(client: MvsepClient, adapter: ScriptedAdapter) -> None:
    adapter.add("GET", "/api/separation/get", Reply(body=WAITING))
    client.get_separation(HASH)
    (request,) = adapter.requests
    assert request.query == {"hash": HASH}
    assert "api_token" not in request.url
    assert request.timeout == (10, 60)


def test_get_separation_with_mirror_sends_the_token(
    client: MvsepClient, adapter: ScriptedAdapter
) -> None:
    adapter.add("GET", "/api/separation/get", Reply(body=WAITING))
    client.get_separation(HASH, mirror=True)
    assert adapter.requests[0].query == {"hash": HASH, "mirror": "1", "api_token": TOKEN}


def test_job_calls_go_to_the_jobs_own_server(client: MvsepClient, adapter: ScriptedAdapter) -> None:
    adapter.add("GET", "/api/separation/get", Reply(body=WAITING))
    adapter.add("GET", "/api/separation/get-remote", Reply(body=WAITING))
    adapter.add("POST", "/api/separation/cancel", Reply(body={"success": True}))
    adapter.add("POST", "/api/separation/delete", Reply(body={"success": True}))
    client.get_separation(HASH, server="de")
    client.get_remote("n2AwBjy4KsFZfqqR", server="https://hk.mvsep.com")
    client.cancel_separation(HASH, server="de2")
    client.delete_separation(HASH, server="sg")
    hosts = [request.url.split("/")[2] for request in adapter.requests]
    assert hosts == ["de.mvsep.com", "hk.mvsep.com", "de2.mvsep.com", "sg.mvsep.com"]
    assert adapter.requests[1].query == {"hash": "n2AwBjy4KsFZfqqR"}


@pytest.mark.parametrize("method", ["cancel_separation", "delete_separation"])
def test_cancel_and_delete_post_token_and_hash(
    client: MvsepClient, adapter: ScriptedAdapter, method: str
) -> None:
    path = "/api/separation/" + method.split("_")[0]
    adapter.add("POST", path, Reply(body={"success": True, "message": "cancelled"}))
    result = getattr(client, method)(HASH)
    (request,) = adapter.requests
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.form == {"api_token": TOKEN, "hash": HASH}
    assert request.query == {}
    assert result.message == "cancelled"


def test_algorithms_sends_scopes_as_a_comma_list(
    client: MvsepClient, adapter: ScriptedAdapter
) -> None:
    adapter.add("GET", "/api/app/algorithms", Reply(body=[]))
    client.algorithms()
    client.algorithms([AlgorithmScope.SINGLE_UPLOAD, "no_upload", AlgorithmScope.MATCHERING_UPLOAD])
    assert [r.query for r in adapter.requests] == [
        {"scopes": "single_upload"},
        {"scopes": "single_upload,no_upload,matchering_upload"},
    ]


@pytest.mark.parametrize(
    ("call", "path", "query"),
    [
        (lambda c: c.news("en", 2, 1), "/api/app/news", {"lang": "en", "start": "2", "limit": "1"}),
        (lambda c: c.news(), "/api/app/news", {"start": "0", "limit": "10"}),
        (lambda c: c.demo(0, 2), "/api/app/demo", {"start": "0", "limit": "2"}),
        (
            lambda c: c.quality_queue(1, 2),
            "/api/quality_checker/queue",
            {"start": "1", "limit": "2"},
        ),
        (lambda c: c.quality_entry(7675), "/api/quality_checker/entry", {"id": "7675"}),
        (
            lambda c: c.quality_leaderboard("2", 1, 2, algo_name_filter="MVSep", sort="sdr_vocals"),
            "/api/quality_checker/leaderboard",
            {
                "dataset_type": "2",
                "start": "1",
                "limit": "2",
                "algo_name_filter": "MVSep",
                "sort": "sdr_vocals",
            },
        ),
    ],
)
def test_public_reads_carry_no_token(
    client: MvsepClient, adapter: ScriptedAdapter, call: object, path: str, query: dict[str, str]
) -> None:
    adapter.add("GET", path, Reply(body={"success": True, "data": [], "id": 1, "algo_name": "x"}))
    adapter.script[("GET", path)] = [Reply(body=_answer_for(path))]
    call(client)  # type: ignore[operator]
    (request,) = adapter.requests
    assert request.query == query
    assert TOKEN not in request.url


def _answer_for(path: str) -> object:
    if path == "/api/quality_checker/entry":
        return {"success": True, "data": {"id": 7675, "algo_name": "x"}}
    if path == "/api/quality_checker/leaderboard":
        return {"data": [], "dataset_type": "2", "sortables": ["sdr_vocals"], "sort": "sdr_vocals"}
    return []


def test_account_reads_put_the_token_in_the_query(
    client: MvsepClient, adapter: ScriptedAdapter
) -> None:
    adapter.add("GET", "/api/app/user", Reply(body=USER))
    adapter.add("GET", "/api/app/separation_history", Reply(body={"success": True, "data": []}))
    adapter.add("GET", "/api/app/queue", Reply(body={"queue": {}}))
    client.user()
    client.separation_history(1, 2)
    client.queue()
    assert [r.query for r in adapter.requests] == [
        {"api_token": TOKEN},
        {"api_token": TOKEN, "start": "1", "limit": "2"},
        {"api_token": TOKEN},
    ]


def test_queue_without_a_token_sends_none(transport: Transport, adapter: ScriptedAdapter) -> None:
    adapter.add("GET", "/api/app/queue", Reply(body={"queue": {"in_process": 1}}))
    MvsepClient(None, transport=transport).queue()
    assert adapter.requests[0].query == {}


@pytest.mark.parametrize(
    "method",
    ["enable_premium", "disable_premium", "enable_long_filenames", "disable_long_filenames"],
)
def test_profile_toggles_post_only_the_token(
    client: MvsepClient, adapter: ScriptedAdapter, method: str
) -> None:
    adapter.add("POST", f"/api/app/{method}", Reply(body=ACTION))
    assert getattr(client, method)().message == "successfully enabled"
    (request,) = adapter.requests
    assert request.form == {"api_token": TOKEN}
    assert request.query == {}


def test_login_and_register_send_credentials_without_a_token(
    client: MvsepClient, adapter: ScriptedAdapter
) -> None:
    adapter.add("POST", "/api/app/login", Reply(body=USER))
    adapter.add("POST", "/api/app/register", Reply(body={"success": True, "message": "sent"}))
    client.login("a@example.com", "pw")
    client.register("user", "a@example.com", "ASDFQWEr123")
    login, register = adapter.requests
    assert login.form == {"email": "a@example.com", "password": "pw"}
    assert register.form == {
        "name": "user", "email": "a@example.com", "password": "ASDFQWEr123",
        "password_confirmation": "ASDFQWEr123",
    }  # fmt: skip


def test_quality_add_uploads_the_zip_with_its_description(
    client: MvsepClient, adapter: ScriptedAdapter, tmp_path: Path
) -> None:
    archive = tmp_path / "stems.zip"
    archive.write_bytes(b"PK\x03\x04zip")
    adapter.add(
        "POST",
        "/api/quality_checker/add",
        Reply(
            body={
                "success": True,
                "data": {"id": 7772, "link": "https://mvsep.com/api/quality_checker/entry?id=7772"},
            }
        ),
    )
    created = client.quality_add(
        archive,
        algo_name="Test",
        main_text="Desc",
        password="test",
        dataset_type="2",
        ensemble=True,
    )
    (request,) = adapter.requests
    assert request.fields == {
        "api_token": TOKEN, "algo_name": "Test", "main_text": "Desc", "dataset_type": "2",
        "ensemble": "1", "password": "test",
    }  # fmt: skip
    assert request.part("zipfile").filename == "stems.zip"
    assert request.part("zipfile").content == b"PK\x03\x04zip"
    assert created.id == 7772


def test_quality_delete_posts_id_and_password(
    client: MvsepClient, adapter: ScriptedAdapter
) -> None:
    adapter.add(
        "POST",
        "/api/quality_checker/delete",
        Reply(body={"success": True, "data": {"message": "successfully deleted"}}),
    )
    assert client.quality_delete(7720, "test").message == "successfully deleted"
    assert adapter.requests[0].form == {"id": "7720", "password": "test"}


def test_every_request_says_who_it_is_and_verifies_tls(
    adapter: ScriptedAdapter, sleeps: Sleeps
) -> None:
    session = requests.Session()
    session.verify = False  # whatever a caller's session says, mvsepd verifies TLS
    transport = Transport(session=session, sleep=sleeps)
    transport.mount("https://", adapter)
    adapter.add("GET", "/api/app/news", Reply(body=[]))
    MvsepClient(None, transport=transport).news()
    (request,) = adapter.requests
    assert verifies_tls(request.verify)
    assert request.headers["User-Agent"] == f"mvsepd/{__version__}"


def test_an_emulator_base_url_is_used_as_given(
    adapter: ScriptedAdapter, transport: Transport
) -> None:
    adapter.add("GET", "/api/separation/get", Reply(body=WAITING))
    client = MvsepClient(TOKEN, "http://127.0.0.1:8765/", transport=transport)
    client.get_separation(HASH)
    assert adapter.requests[0].url.startswith("http://127.0.0.1:8765/api/separation/get?")
    assert client.server == "http://127.0.0.1:8765"


def test_a_streamed_create_goes_chunked_with_the_stream_as_its_file_part(
    client: MvsepClient, adapter: ScriptedAdapter, audio: Path
) -> None:
    adapter.add("POST", "/api/separation/create", Reply(body=CREATED))
    made: list[int] = []

    def stream() -> Iterator[bytes]:
        for index in range(3):
            made.append(index)
            yield bytes([index]) * 1000

    created = client.create_separation(
        audio, sep_type=20, upload_name="10 - Luke's Theme.flac", stream=stream()
    )
    (request,) = adapter.requests
    assert request.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in request.headers
    assert request.fields == {
        "api_token": TOKEN, "sep_type": "20", "output_format": "1", "is_demo": "0",
    }  # fmt: skip
    upload = request.part("audiofile")
    assert upload.filename == "10 - Luke's Theme.flac" and upload.content_type == "audio/flac"
    assert upload.content == b"\0" * 1000 + b"\1" * 1000 + b"\2" * 1000
    assert made == [0, 1, 2] and created.hash == HASH


@pytest.mark.parametrize(
    ("status", "body", "refused"),
    [
        (411, "<html>Length Required</html>", True),
        (401, {"success": False, "data": {"message": "Invalid API key"}}, True),
        (400, {"success": False, "errors": ["The audiofile field is required."]}, True),
        # A value of the body refused: the body arrived, and that is MVSEP's answer.
        (400, {"success": False, "errors": ["The selected add opt1 is invalid."]}, False),
        (400, {"success": False, "errors": [QUEUE_FULL]}, False),
        (429, {"message": "Too Many Attempts."}, False),
    ],
)
def test_a_streamed_create_refused_as_a_body_never_seen_says_so(
    client: MvsepClient,
    adapter: ScriptedAdapter,
    audio: Path,
    status: int,
    body: object,
    refused: bool,
) -> None:
    adapter.add("POST", "/api/separation/create", Reply(status=status, body=body))
    with pytest.raises(errors.MvsepError) as caught:
        client.create_separation(audio, sep_type=20, stream=iter([b"fLaC"]))
    assert isinstance(caught.value, errors.StreamRefusedError) is refused
    if refused:
        assert isinstance(caught.value, errors.StreamRefusedError)
        assert caught.value.refusal.status == status
    # The same answers to an upload with its length are taken as they are.
    adapter.add("POST", "/api/separation/create", Reply(status=status, body=body))
    with pytest.raises(errors.MvsepError) as plain:
        client.create_separation(audio, sep_type=20)
    assert not isinstance(plain.value, errors.StreamRefusedError)
