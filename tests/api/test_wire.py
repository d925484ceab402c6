"""The wire layer reads MVSEP's loose JSON tolerantly, exactly where MVSEP is loose."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mvsepd.api import wire
from mvsepd.errors import InvalidRequestError, ProtocolError
from mvsepd.models import AlgorithmScope, InputType, RemoteStatus, Secret

FIXTURES = Path(__file__).parent.parent / "fixtures" / "mvsep"
HASH = "20240119124024-413c481b80-10-luke-s-theme-a-madman-s-symphony.mp3"


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


def separation(value: Any, status: int = 200) -> Any:
    return wire.parse_separation("/separation/get", status, {}, body(value), separation_hash=HASH)


@pytest.mark.parametrize("flag", [True, "true", 1, "1", "TRUE"])
def test_success_is_read_as_true_in_every_spelling(flag: object) -> None:
    answer = {"success": flag, "data": {"hash": HASH, "link": "https://mvsep.com/x"}}
    created = wire.parse_created(
        "/separation/create", 200, {}, body(answer), server="https://mvsep.com"
    )
    assert created.hash == HASH


@pytest.mark.parametrize("flag", [False, "false", 0, "0"])
def test_success_false_in_every_spelling_is_a_refusal(flag: object) -> None:
    answer = {"success": flag, "errors": ["Seperation type is not set"]}
    with pytest.raises(InvalidRequestError):
        wire.parse_created("/separation/create", 200, {}, body(answer), server="https://mvsep.com")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("waiting", RemoteStatus.WAITING),
        ("processing", RemoteStatus.PROCESSING),
        ("distributing", RemoteStatus.DISTRIBUTING),
        ("merging", RemoteStatus.MERGING),
        ("done", RemoteStatus.DONE),
        ("failed", RemoteStatus.FAILED),
        ("not_found", RemoteStatus.NOT_FOUND),
        (" Done ", RemoteStatus.DONE),
        ("queued", RemoteStatus.UNKNOWN),
        ("pending", RemoteStatus.UNKNOWN),
        ("error", RemoteStatus.UNKNOWN),
        ("cancelled", RemoteStatus.UNKNOWN),
        ("not-found", RemoteStatus.UNKNOWN),
        ("", RemoteStatus.UNKNOWN),
    ],
)
def test_statuses_map_and_unknown_ones_read_as_still_running(
    raw: str, expected: RemoteStatus
) -> None:
    status = separation({"success": True, "status": raw, "data": {}})
    assert status.status is expected
    assert status.raw_status == raw.strip()
    if expected is RemoteStatus.UNKNOWN:
        assert not status.status.finished


def test_escaped_slashes_are_undone() -> None:
    raw = (
        b'{"success":true,"status":"done","data":{"files":[{"type":"Vocals",'
        b'"url":"https:\\/\\/mvsep.com\\/storage\\/processed\\/a_vocals.flac","size":"5.84 MB",'
        b'"download":"a_vocals.flac"}],"input_file":{"url":"https:\\\\/\\\\/mvsep.com\\\\/storage\\\\/temp\\\\/a.mp3"}}}'
    )
    status = wire.parse_separation("/separation/get", 200, {}, raw, separation_hash=HASH)
    assert status.files[0].url == "https://mvsep.com/storage/processed/a_vocals.flac"
    assert status.input_file is not None
    assert status.input_file.url == "https://mvsep.com/storage/temp/a.mp3"


def test_numbers_sent_as_strings_are_read() -> None:
    status = separation(
        {
            "success": "1",
            "status": "distributing",
            "data": {
                "queue_count": "3",
                "current_order": "2",
                "finished_chunks": "4",
                "all_chunks": 10.0,
            },
        }
    )
    assert (status.queue_count, status.current_order) == (3, 2)
    assert (status.finished_chunks, status.all_chunks) == (4, 10)


def test_result_files_are_matched_by_type_not_position() -> None:
    files = [
        {
            "type": "Other",
            "url": "https://mvsep.com/storage/processed/x_other.wav",
            "size": "30.1 MB",
        },
        {
            "type": "Vocals",
            "url": "https://mvsep.com/storage/processed/x_vocals.wav",
            "size": "30.1 MB",
        },
        {"type": "Vocals", "size": "no url, unusable"},
        "not an object",
    ]
    status = separation({"success": True, "status": "done", "data": {"files": files}})
    assert [f.type for f in status.files] == ["Other", "Vocals"]
    (vocals,) = status.files_of_type("vocals")
    assert vocals.url.endswith("_vocals.wav")
    assert vocals.approximate_size == int(30.1 * 1024**2)


def test_php_empty_array_for_data_is_an_empty_object() -> None:
    status = separation({"success": True, "status": "waiting", "data": []})
    assert status.status is RemoteStatus.WAITING
    assert status.queue_count is None


def test_files_sent_as_a_php_object_with_numeric_keys_are_read() -> None:
    files = {
        "0": {"type": "Bass", "url": "https://mvsep.com/b.mp3"},
        "2": {"type": "Drums", "url": "https://mvsep.com/d.mp3"},
    }
    status = separation({"success": True, "status": "done", "data": {"files": files}})
    assert [f.type for f in status.files] == ["Bass", "Drums"]


def test_get_remote_being_downloaded_is_still_running() -> None:
    answer = {
        "success": False,
        "data": {"message": "Your audio file is being downloaded, please wait a while..."},
    }
    status = wire.parse_remote_status(
        "/separation/get-remote", 200, {}, body(answer), short_hash="n2Aw"
    )
    assert status.status is RemoteStatus.UNKNOWN
    assert not status.status.finished
    assert status.message == "Your audio file is being downloaded, please wait a while..."


def test_get_remote_done_gives_the_real_hash() -> None:
    answer = {
        "success": True,
        "status": "done",
        "data": {
            "hash": HASH,
            "link": f"https:\\/\\/mvsep.com\\/api\\/separation\\/get?hash={HASH}",
        },
    }
    status = wire.parse_remote_status(
        "/separation/get-remote", 200, {}, body(answer), short_hash="n2Aw"
    )
    assert status.status is RemoteStatus.DONE
    assert status.separation_hash == HASH
    assert status.link == f"https://mvsep.com/api/separation/get?hash={HASH}"
    assert status.short_hash == "n2Aw"


def test_bare_arrays_and_wrapped_arrays_are_both_read() -> None:
    item = {"id": 1, "title": "t", "lang": "en", "text": "<p>x</p>", "created_at": "2024-01-01"}
    bare = wire.parse_news("/app/news", 200, {}, body([item]))
    wrapped = wire.parse_news("/app/news", 200, {}, body({"success": True, "data": [item]}))
    assert bare == wrapped
    assert bare[0].title == "t"
    with pytest.raises(ProtocolError):
        wire.parse_news("/app/news", 200, {}, body({"success": True, "message": "no list"}))


@pytest.mark.parametrize(
    ("queue", "expected"), [(2, 2), ("1", 1), ([{"hash": "a"}, {"hash": "b"}], 2), (None, None)]
)
def test_current_queue_is_a_count_or_a_list(queue: object, expected: int | None) -> None:
    answer = {
        "success": True,
        "data": {
            "name": "n",
            "email": "e",
            "api_token": "SeCrEtVaLuE42",
            "premium_minutes": "54.7",
            "premium_enabled": "1",
            "long_filenames_enabled": 0,
            "current_queue": queue,
            "copy_metadata": 1,
        },
    }
    user = wire.parse_user("/app/user", 200, {}, body(answer))
    assert user.current_queue == expected
    assert user.credits == 54
    assert user.premium_enabled and not user.long_filenames_enabled
    assert user.copy_metadata is True
    assert user.api_token == Secret("SeCrEtVaLuE42")
    assert "SeCrEtVaLuE42" not in repr(user)


def test_queue_with_plan() -> None:
    answer = {
        "queue": {"in_process": 10, "premium": "0", "registered": 5, "unregistered": 15},
        "plan": {"plan": "premium", "queue": 0},
    }
    info = wire.parse_queue("/app/queue", 200, {}, body(answer))
    assert (info.in_process, info.premium, info.registered, info.unregistered) == (10, 0, 5, 15)
    assert (info.plan_name, info.plan_queue) == ("premium", 0)


def test_quality_checker_entries_keep_metrics_and_raw() -> None:
    entry = {
        "id": "7675",
        "algo_name": "MVSep",
        "main_text": "x",
        "dataset_type": 0,
        "date": "2024-01-01",
        "proc": 1,
        "msg": "OK",
        "metrics": {"sdr_vocals": 11.2},
        "sdr_other": "17.1",
        "dataset_name": "Multisong",
    }
    (parsed,) = wire.parse_quality_entries("/quality_checker/queue", 200, {}, body([entry]))
    assert parsed.id == 7675
    assert parsed.dataset_type == "0"
    assert parsed.metrics == {"sdr_vocals": 11.2, "sdr_other": "17.1"}
    assert parsed.raw["dataset_name"] == "Multisong"
    # SDR per stem as numbers (the text "17.1" too), by stem; the dataset in MVSEP's words.
    assert parsed.sdr == {"vocals": 11.2, "other": 17.1}
    assert parsed.dataset_name == "Multisong"
    unmeasured = {**entry, "metrics": None, "sdr_other": None, "sdr_vocals": "n/a"}
    (pending,) = wire.parse_quality_entries("/q", 200, {}, body([unmeasured]))
    assert pending.sdr == {}
    board = wire.parse_leaderboard(
        "/quality_checker/leaderboard",
        200,
        {},
        body(
            {
                "data": [entry],
                "dataset_type": "0",
                "sortables": ["sdr_vocals", "sdr_other"],
                "sort": "sdr_vocals",
            }
        ),
    )
    assert board.sortables == ("sdr_vocals", "sdr_other")
    assert board.entries[0].algo_name == "MVSep"
    single = wire.parse_quality_entry(
        "/quality_checker/entry", 200, {}, body({"success": True, "data": entry})
    )
    assert single.id == 7675


def test_real_catalog_options_keep_string_keys_in_server_order() -> None:
    raw = json.loads((FIXTURES / "algorithms.single_upload.json").read_text())
    algorithms = wire.parse_algorithms("/app/algorithms", 200, {}, body(raw))
    assert len(algorithms) == 117
    for raw_algorithm, algorithm in zip(raw, algorithms, strict=True):
        assert algorithm.render_id == raw_algorithm["render_id"]
        for raw_field, parsed in zip(
            raw_algorithm["algorithm_fields"], algorithm.fields, strict=True
        ):
            assert list(parsed.options) == list(json.loads(raw_field["options"]))
    by_render_id = {a.render_id: a for a in algorithms}
    uvr = by_render_id[9].field_named("add_opt2")
    assert uvr is not None
    assert list(uvr.options)[:3] == ["0.3", "0.1", "0.2"]
    qwen = by_render_id[120]
    language = qwen.field_named("add_opt3")
    assert language is not None and "auto" in language.options
    prompt = qwen.field_named("add_opt1")
    assert prompt is not None and prompt.input_type is InputType.TEXTAREA and prompt.is_free_text


def test_real_catalog_prices_conditions_overrides_and_variants() -> None:
    raw = (FIXTURES / "algorithms.single_upload.json").read_bytes()
    by_render_id = {a.render_id: a for a in wire.parse_algorithms("/app/algorithms", 200, {}, raw)}
    ensemble = by_render_id[26]
    assert ensemble.price_coefficient == 2.0
    assert ensemble.output_stems == ("vocals", "instrum")
    assert dict(ensemble.outputs) == {"vocals": "Vocals", "other": "Other"}
    assert ensemble.variant_keys == ("model_type",)
    assert len(ensemble.output_variants) == 3
    assert ensemble.group_name == "Ensembles"
    assert ensemble.audio_widget is AlgorithmScope.SINGLE_UPLOAD
    roformer = by_render_id[40]
    overlap = roformer.field_named("add_opt2")
    assert overlap is not None and overlap.price_multiplier("8") == 2.0
    detail = roformer.field_named("add_opt3")
    assert detail is not None
    assert detail.conditions[0].depends_on_field_id == 25
    assert detail.conditions[0].values == ("171",)
    assert detail.output_overrides["1"].mode == "add"
    assert roformer.outputs_for({"add_opt1": "171"}) == {
        "vocals": "Vocals",
        "instrum": "Instrumental",
    }


def test_real_catalog_usage_and_ratings() -> None:
    raw = (FIXTURES / "algorithms.single_upload.json").read_bytes()
    by_render_id = {a.render_id: a for a in wire.parse_algorithms("/app/algorithms", 200, {}, raw)}
    # "rating": {"average": "4.2500", "total": 24}, "usage": 8567
    assert by_render_id[26].usage == 8567
    assert (by_render_id[26].rating_average, by_render_id[26].rating_count) == (4.25, 24)
    # Nobody rated the Banjo model: {"average": 0, "total": 0} is no rating, not a zero.
    assert (by_render_id[83].rating_average, by_render_id[83].rating_count) == (None, None)


def test_catalog_json_strings_and_2024_shape() -> None:
    algorithm = {
        "id": "27",
        "name": "Ensemble",
        "render_id": "26",
        "price_coefficient": "2",
        "is_active": "0",
        "algorithm_fields": [
            {
                "id": 18,
                "name": "add_opt1",
                "text": "Output files",
                "options": '{\n    "1": "Std",\n    "0": "All"\n}',
                "default_key": 1,
                "price_rules": [{"option_key": 1, "mode": "multiplier", "value": "1.5000"}],
                "conditions": [
                    {"depends_on_field_id": "3", "operator": "in", "value_json": '["5"]'}
                ],
                "output_overrides": '{"1": {"mode": "set", "outputs": {"a": "A"}}}',
            }
        ],
    }
    (parsed,) = wire.parse_algorithms(
        "/app/algorithms", 200, {}, body([algorithm, {"id": "broken"}, 7])
    )
    assert (parsed.id, parsed.render_id, parsed.price_coefficient, parsed.is_active) == (
        27,
        26,
        2.0,
        False,
    )
    (option_field,) = parsed.fields
    assert dict(option_field.options) == {"1": "Std", "0": "All"}
    assert list(option_field.options) == ["1", "0"]
    assert option_field.default_key == "1"
    assert option_field.input_type is InputType.SELECT
    assert option_field.price_rules[0].value == 1.5
    assert option_field.conditions[0].values == ("5",)
    assert option_field.output_overrides["1"].outputs == {"a": "A"}
    assert parsed.audio_widget is AlgorithmScope.SINGLE_UPLOAD


def test_history_entries() -> None:
    answer = {
        "success": True,
        "data": [
            {
                "id": 1074359,
                "hash": HASH,
                "created_at": "2024-02-12 16:19:29",
                "job_exists": True,
                "credits": 2,
                "time_left": -2031,
                "algorithm": {"name": "Demucs4 HT", "render_id": 20},
            },
            {"id": 1, "hash": None},
            {"hash": "x", "credits": None, "job_exists": "0"},
        ],
    }
    first, second = wire.parse_history("/app/separation_history", 200, {}, body(answer))
    assert (first.credits, first.time_left_hours, first.render_id) == (2, -2031, 20)
    assert first.job_exists
    assert second.hash == "x" and not second.job_exists and second.credits is None


@pytest.mark.parametrize(
    ("filename", "slug"),
    [
        ("10 - Luke's Theme -A Madman's Symphony.mp3", "10-luke-s-theme-a-madman-s-symphony.mp3"),
        ("Lxst Cxntury - Carbon Mist.mp3", "lxst-cxntury-carbon-mist.mp3"),
        ("justin bieber - sorry (lyrics) 128k.m4a", "justin-bieber-sorry-lyrics-128k.m4a"),
        ("/music/bounces/Café Del Mar.WAV", "cafe-del-mar.wav"),
        ("C:\\Bounces\\__Mix__  v2!.flac", "mix-v2.flac"),
        ("no extension", "no-extension"),
    ],
)
def test_filename_slug_follows_mvseps_rule(filename: str, slug: str) -> None:
    assert wire.filename_slug(filename) == slug


def test_separation_hashes_are_told_from_short_hashes() -> None:
    assert wire.is_separation_hash(HASH)
    assert not wire.is_separation_hash("n2AwBjy4KsFZfqqR")
    assert not wire.is_separation_hash("2024011912402-413c481b80-x.mp3")
    assert wire.hash_matches_filename(HASH, "10 - Luke's Theme -A Madman's Symphony.mp3")
    assert not wire.hash_matches_filename(HASH, "Luke's Theme.mp3")
    assert not wire.hash_matches_filename("n2AwBjy4KsFZfqqR", "x.mp3")
