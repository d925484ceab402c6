"""Bad local input is refused before the network, naming the field and what is accepted."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mvsepd.api import MvsepClient, Transport, wire
from mvsepd.errors import InputError
from mvsepd.models import Algorithm, AlgorithmScope
from tests.api.scripted import TOKEN, Reply, ScriptedAdapter

FIXTURES = Path(__file__).parent.parent / "fixtures" / "mvsep"


@pytest.fixture(scope="module")
def catalog() -> list[Algorithm]:
    body = (FIXTURES / "algorithms.single_upload.json").read_bytes()
    return wire.parse_algorithms("/app/algorithms", 200, {}, body)


@pytest.fixture
def audio(tmp_path: Path) -> Path:
    path = tmp_path / "song.wav"
    path.write_bytes(b"RIFF" + bytes(100))
    return path


def refused(call: Callable[[], object], field: str, *words: str) -> InputError:
    with pytest.raises(InputError) as caught:
        call()
    assert caught.value.field == field
    for word in words:
        assert word in str(caught.value), str(caught.value)
    return caught.value


@pytest.fixture(autouse=True)
def no_network(adapter: ScriptedAdapter) -> Iterator[None]:
    yield
    assert adapter.requests == [], "an InputError must be raised before any request"


def test_missing_directory_empty_and_unreadable_files(client: MvsepClient, tmp_path: Path) -> None:
    refused(
        lambda: client.create_separation(tmp_path / "nope.wav", sep_type=20),
        "audio",
        "does not exist",
    )
    refused(lambda: client.create_separation(tmp_path, sep_type=20), "audio", "is a directory")
    empty = tmp_path / "empty.wav"
    empty.touch()
    refused(lambda: client.create_separation(empty, sep_type=20), "audio", "is empty")
    fifo = tmp_path / "pipe.wav"
    os.mkfifo(fifo)
    refused(lambda: client.create_separation(fifo, sep_type=20), "audio", "not a regular file")
    if os.geteuid() != 0:  # root reads anything
        locked = tmp_path / "locked.wav"
        locked.write_bytes(b"RIFF")
        locked.chmod(0)
        refused(lambda: client.create_separation(locked, sep_type=20), "audio", "cannot be read")
    refused(lambda: client.create_matchering(tmp_path / "a.wav", tmp_path / "b.wav"), "target")
    refused(
        lambda: client.quality_add(tmp_path / "x.zip", algo_name="a", main_text="b", password="c"),
        "zipfile",
    )


def test_tokens(transport: Transport, audio: Path) -> None:
    refused(lambda: MvsepClient("", transport=transport), "token", "empty")
    refused(lambda: MvsepClient("   \n", transport=transport), "token", "empty")
    anonymous = MvsepClient(None, transport=transport)
    refused(
        lambda: anonymous.create_separation(audio, sep_type=20), "token", "needs an MVSEP API token"
    )
    refused(lambda: anonymous.user(), "token")
    refused(lambda: anonymous.get_separation("h", mirror=True), "token")


@pytest.mark.parametrize("output_format", [6, -1, "wav64", 2.5, True, None])
def test_output_formats_outside_0_to_5(
    client: MvsepClient, audio: Path, output_format: object
) -> None:
    error = refused(
        lambda: client.create_separation(audio, sep_type=20, output_format=output_format),  # type: ignore[arg-type]
        "output_format",
        "accepted: 0 (mp3), 1 (wav16), 2 (flac16), 3 (m4a), 4 (wav32), 5 (flac24)",
    )
    assert isinstance(error, ValueError)


def test_urls_and_remote_types(client: MvsepClient) -> None:
    for url in [
        "file:///etc/passwd",
        "ftp://example.com/a.mp3",
        "example.com/a.mp3",
        "https://",
        "",
    ]:

        def create(url: str = url) -> object:
            return client.create_separation_from_url(url, sep_type=20)

        refused(create, "url", "http")
    refused(
        lambda: client.create_separation_from_url(
            "https://example.com/a.mp3", remote_type="youtube", sep_type=20
        ),
        "remote_type",
        "accepted: direct, mega, drive, dropbox",
    )


def test_sep_type_options_and_flags(client: MvsepClient, audio: Path) -> None:
    refused(lambda: client.create_separation(audio, sep_type="20"), "sep_type")  # type: ignore[arg-type]
    refused(lambda: client.create_separation(audio, sep_type=-1), "sep_type")
    refused(lambda: client.create_separation(audio, sep_type=True), "sep_type")
    refused(
        lambda: client.create_separation(audio, sep_type=20, options={"api_token": "x"}),
        "options",
        "add_opt1",
    )
    refused(
        lambda: client.create_separation(audio, sep_type=20, options={"sep_type": "3"}), "options"
    )
    not_text: dict[str, Any] = {"add_opt1": 1}
    refused(lambda: client.create_separation(audio, sep_type=20, options=not_text), "add_opt1")
    refused(lambda: client.create_separation(audio, sep_type=20, is_demo="yes"), "is_demo")  # type: ignore[arg-type]


def test_identifiers_pages_and_scopes(client: MvsepClient) -> None:
    refused(lambda: client.get_separation(""), "hash")
    refused(lambda: client.get_separation("a b"), "hash")
    refused(lambda: client.get_remote("x\n"), "short_hash")
    refused(lambda: client.cancel_separation(None), "hash")  # type: ignore[arg-type]
    refused(lambda: client.separation_history(-1), "start")
    refused(lambda: client.news(limit=0), "limit")
    refused(
        lambda: client.algorithms(["everything"]),
        "scopes",
        "single_upload, no_upload, matchering_upload",
    )
    refused(lambda: client.algorithms([]), "scopes")
    refused(lambda: client.login("", "pw"), "email")
    refused(lambda: client.quality_leaderboard(dataset_type="vocals"), "dataset_type")
    refused(lambda: client.get_separation("h", server="ftp://mvsep.com"), "server", "http")
    refused(lambda: client.get_separation("h", server="moon"), "server", "de, de2, hk")


def test_an_unknown_model_in_the_catalog_is_refused_listing_render_ids(
    client: MvsepClient, audio: Path, catalog: list[Algorithm]
) -> None:
    error = refused(
        lambda: client.create_separation(audio, sep_type=9999, catalog=catalog),
        "sep_type",
        "9999 is not in the catalog",
        "accepted render_ids: 0, 3, 7,",
    )
    assert ", 26, " in str(error)


def test_unknown_option_names_and_keys_are_refused_listing_what_is_accepted(
    client: MvsepClient, audio: Path, catalog: list[Algorithm]
) -> None:
    refused(
        lambda: client.create_separation(
            audio, sep_type=26, options={"add_opt3": "1"}, catalog=catalog
        ),
        "add_opt3",
        "not an option of Ensemble (vocals, instrum)",
        "add_opt2 (Model Type)",
        "add_opt1 (Output files)",
    )
    refused(
        lambda: client.create_separation(
            audio, sep_type=26, options={"add_opt2": "42"}, catalog=catalog
        ),
        "add_opt2",
        "'42' is not a key of 'Model Type'",
        "accepted keys: 1 (SDR Vocals 10.44",
        "9 (High Instrumental Fullness",
    )


def test_valid_catalog_choices_pass(
    client: MvsepClient, adapter: ScriptedAdapter, audio: Path, catalog: list[Algorithm]
) -> None:
    adapter.add(
        "POST", "/api/separation/create", Reply(body={"success": True, "data": {"hash": "h"}})
    )
    client.create_separation(audio, sep_type=9, options={"add_opt2": "0.3"}, catalog=catalog)
    # free text fields take any text
    client.create_separation(
        audio,
        sep_type=103,
        options={"add_opt2": "Hello there, this is a cloned voice."},
        catalog=catalog,
    )
    assert [r.fields["sep_type"] for r in adapter.requests] == ["9", "103"]
    adapter.requests.clear()  # the autouse check is about refusals


def test_a_model_with_another_kind_of_input_is_refused(
    client: MvsepClient, audio: Path, catalog: list[Algorithm]
) -> None:
    refused(
        lambda: client.create_without_upload(sep_type=26, catalog=catalog),
        "sep_type",
        "takes single_upload input; use create_separation",
    )
    assert all(a.audio_widget is AlgorithmScope.SINGLE_UPLOAD for a in catalog)
    refused(
        lambda: client.create_matchering(audio, audio, catalog=catalog),
        "sep_type",
        "68 is not in the catalog",
    )


def test_client_construction_checks_the_server(transport: Transport) -> None:
    refused(lambda: MvsepClient(TOKEN, "file:///tmp", transport=transport), "server")
    refused(lambda: MvsepClient(TOKEN, "https://user:pw@mvsep.com", transport=transport), "server")
    refused(lambda: MvsepClient(TOKEN, "", transport=transport), "server")
