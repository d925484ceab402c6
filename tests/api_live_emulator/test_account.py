"""The ``/app/*`` and ``/quality_checker/*`` methods of MvsepClient against the emulator.

Catalog (each scope, raw answer), news, queue, demo, register and login round trip, user,
history paging, the premium and long-filename switches, and the Quality Checker from add to
delete.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mvsepd.api import MvsepClient
from mvsepd.emulator import EmulatorServer
from mvsepd.errors import InputError, InvalidRequestError, NotFoundError
from mvsepd.models import AlgorithmScope, RemoteStatus
from tests.api_live_emulator.conftest import ClientFactory, ServerFactory
from tests.api_live_emulator.support import finished, settle, write_audio, write_zip

MEL_ROFORMER = 48


def test_algorithms_for_each_scope(make_client: ClientFactory) -> None:
    client = make_client(None)  # the catalog needs no token

    single = client.algorithms()
    no_upload = client.algorithms([AlgorithmScope.NO_UPLOAD])
    matchering = client.algorithms(["matchering_upload"])
    everything = client.algorithms(list(AlgorithmScope))

    assert len(single) == 117
    assert {a.audio_widget for a in single} == {AlgorithmScope.SINGLE_UPLOAD}
    mel = next(a for a in single if a.render_id == MEL_ROFORMER)
    assert mel.name == "MelBand Roformer (vocals, instrumental)"
    assert mel.outputs == {"vocals": "Vocals", "other": "Other"}
    assert {a.audio_widget for a in no_upload} == {AlgorithmScope.NO_UPLOAD}
    assert 115 in {a.render_id for a in no_upload}
    assert [a.render_id for a in matchering] == [68]
    assert len(everything) == len(single) + len(no_upload) + len(matchering)
    with pytest.raises(InputError, match="accepted: single_upload"):
        client.algorithms(["karaoke"])


def test_algorithms_answer_is_the_raw_catalog(make_client: ClientFactory) -> None:
    client = make_client(None)

    answer = client.algorithms_answer([AlgorithmScope.SINGLE_UPLOAD, AlgorithmScope.NO_UPLOAD])

    listing = json.loads(answer)
    assert isinstance(listing, list)
    parsed = client.algorithms([AlgorithmScope.SINGLE_UPLOAD, AlgorithmScope.NO_UPLOAD])
    assert [entry["render_id"] for entry in listing] == [a.render_id for a in parsed]
    assert b"\\/" in answer or b"\\u" in answer  # PHP's escaping, kept as received
    with pytest.raises(InputError, match="accepted: single_upload"):
        client.algorithms_answer(["karaoke"])


def test_news_by_language_and_page(make_client: ClientFactory) -> None:
    client = make_client(None)

    english = client.news()
    russian = client.news(lang="ru", limit=1)
    second_page = client.news(start=1, limit=1)

    assert english and {item.lang for item in english} == {"en"}
    assert english[0].title == "Emulator: new models"
    assert len(russian) == 1 and russian[0].title == "Эмулятор: новые модели"
    assert second_page == [english[1]]


def test_queue_with_and_without_a_token(
    server: EmulatorServer, make_client: ClientFactory, premium: MvsepClient
) -> None:
    anonymous = make_client(None)

    site = anonymous.queue()
    own = premium.queue()

    assert (site.in_process, site.premium, site.registered, site.unregistered) == (0, 0, 0, 0)
    assert site.plan_name is None and site.plan_queue is None
    assert (own.plan_name, own.plan_queue) == ("premium", 0)


def test_demo_lists_finished_demo_jobs(
    server: EmulatorServer, make_client: ClientFactory, premium: MvsepClient, audio: Path
) -> None:
    public = premium.create_separation(audio, sep_type=MEL_ROFORMER, is_demo=True)
    premium.create_separation(audio, sep_type=MEL_ROFORMER)  # private: not listed
    settle(server)

    entries = make_client(None).demo()

    (entry,) = entries
    assert entry.hash == public.hash
    assert entry.render_id == MEL_ROFORMER
    assert entry.algorithm_name == "MelBand Roformer (vocals, instrumental)"
    assert entry.input_audio_url == f"{server.url}/storage/temp/{public.hash}"
    assert entry.date == "2023-11-14 22:13"


def test_register_then_login_gives_a_working_token(
    server: EmulatorServer, make_client: ClientFactory
) -> None:
    anonymous = make_client(None)

    registered = anonymous.register("Ann Example", "ann@example.com", "correct horse")
    user = anonymous.login("ann@example.com", "correct horse")

    assert registered.message == "Account verification email sent to ann@example.com"
    assert (user.name, user.email) == ("Ann Example", "ann@example.com")
    assert user.api_token is not None and len(user.api_token) == 30
    assert "correct horse" not in repr(user) and user.api_token.reveal() not in repr(user)
    own = make_client(user.api_token.reveal()).user()
    assert (own.email, own.credits, own.premium_enabled) == ("ann@example.com", 0, False)
    assert own.is_premium is False
    with pytest.raises(InvalidRequestError, match="do not match"):
        anonymous.login("ann@example.com", "wrong password")
    with pytest.raises(InvalidRequestError, match="already been taken"):
        anonymous.register("Ann Again", "ann@example.com", "another password")
    with pytest.raises(InvalidRequestError, match="confirmation does not match"):
        anonymous.register("Bob", "bob@example.com", "password one", "password two")


def test_user_reports_credits_switches_and_current_queue(
    make_server: ServerFactory, make_client: ClientFactory, audio: Path
) -> None:
    server = make_server(queue_seconds=60.0)
    token = server.add_account(plan="premium", credits=42).token
    client = make_client(token, on=server)
    client.create_separation(audio, sep_type=MEL_ROFORMER)

    user = client.user()

    assert user.credits == 41
    assert user.premium_enabled is True and user.is_premium is True
    assert user.long_filenames_enabled is False
    assert user.current_queue == 1
    assert user.copy_metadata is False
    assert user.created_at == "2023-11-14 22:13:20"


def test_separation_history_is_newest_first_and_paged(
    server: EmulatorServer, premium: MvsepClient, tmp_path: Path
) -> None:
    hashes = [
        premium.create_separation(
            write_audio(tmp_path / f"Take {number}.wav", 0.5, seed=number), sep_type=MEL_ROFORMER
        ).hash
        for number in range(3)
    ]
    server.advance(3600.0)

    newest = premium.separation_history(limit=2)
    oldest = premium.separation_history(start=2, limit=2)

    assert [entry.hash for entry in newest + oldest] == hashes[::-1]
    first = oldest[0]
    assert first.algorithm_name == "MelBand Roformer (vocals, instrumental)"
    assert first.render_id == MEL_ROFORMER
    assert first.credits == 1 and first.job_exists is True
    assert first.time_left_hours == 71
    assert first.created_at == "2023-11-14 22:13:20"
    assert first.id is not None


def test_disabling_premium_stops_spending_credits(
    server: EmulatorServer, premium: MvsepClient, premium_token: str, audio: Path
) -> None:
    assert premium.disable_premium().message == "successfully disabled"
    user = premium.user()
    assert user.premium_enabled is False and user.is_premium is False
    assert premium.queue().plan_name == "registered"

    free_job = premium.create_separation(audio, sep_type=MEL_ROFORMER)
    assert server.state.credits(premium_token) == 100
    assert finished(server, premium, free_job.hash).status is RemoteStatus.DONE

    assert premium.enable_premium().message == "successfully enabled"
    assert premium.user().premium_enabled is True
    paid_job = premium.create_separation(audio, sep_type=MEL_ROFORMER)
    assert server.state.credits(premium_token) == 99
    history = {entry.hash: entry.credits for entry in premium.separation_history()}
    assert history == {free_job.hash: 0, paid_job.hash: 1}


def test_quality_checker_from_add_to_delete(
    server: EmulatorServer, premium: MvsepClient, make_client: ClientFactory, tmp_path: Path
) -> None:
    archive = write_zip(tmp_path / "stems.zip")

    created = premium.quality_add(
        archive,
        algo_name="My Model",
        main_text="Trained on my own data",
        password="entry password",
        dataset_type="0",
    )

    assert created.id >= 1
    assert created.link == f"{server.url}/api/quality_checker/entry?id={created.id}"
    anonymous = make_client(None)  # reading needs no token
    entry = anonymous.quality_entry(created.id)
    assert (entry.id, entry.algo_name, entry.main_text) == (
        created.id,
        "My Model",
        "Trained on my own data",
    )
    assert entry.proc == 1 and entry.msg == "OK"
    assert set(entry.metrics) == {"sdr_vocals", "sdr_instrum"}
    assert [item.id for item in anonymous.quality_queue()] == [created.id]
    board = anonymous.quality_leaderboard("0", sort="sdr_instrum", algo_name_filter="my")
    assert [item.id for item in board.entries] == [created.id]
    assert board.sort == "sdr_instrum"
    assert board.sortables == ("sdr_vocals", "sdr_instrum")
    assert anonymous.quality_leaderboard("2").entries == ()

    with pytest.raises(InvalidRequestError, match="Wrong password"):
        anonymous.quality_delete(created.id, "guess")
    assert anonymous.quality_delete(created.id, "entry password").message == (
        "successfully deleted"
    )
    with pytest.raises(NotFoundError):
        anonymous.quality_entry(created.id)
    assert anonymous.quality_queue() == []
