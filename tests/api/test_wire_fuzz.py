"""Property: on any input at all, the wire parsers return a model or raise an MvsepError.

A KeyError, TypeError, ValueError or RecursionError escaping ``api.wire`` would be a bug: the
engine relies on MvsepError (and its ``transient`` flag) to decide what to do next.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mvsepd.api import wire
from mvsepd.errors import MvsepError

Parser = Callable[[str, int, Mapping[str, str], bytes], object]

PARSERS: dict[str, Parser] = {
    "/separation/create": lambda e, s, h, b: wire.parse_created(
        e, s, h, b, server="https://mvsep.com"
    ),
    "/separation/create#url": lambda e, s, h, b: wire.parse_remote_created(e, s, h, b, server="x"),
    "/separation/get": lambda e, s, h, b: wire.parse_separation(e, s, h, b, separation_hash="h"),
    "/separation/get-remote": lambda e, s, h, b: wire.parse_remote_status(
        e, s, h, b, short_hash="h"
    ),
    "/separation/cancel": wire.parse_action,
    "/app/algorithms": wire.parse_algorithms,
    "/app/news": wire.parse_news,
    "/app/demo": wire.parse_demo,
    "/app/queue": wire.parse_queue,
    "/app/user": wire.parse_user,
    "/app/separation_history": wire.parse_history,
    "/quality_checker/add": wire.parse_quality_created,
    "/quality_checker/queue": wire.parse_quality_entries,
    "/quality_checker/entry": wire.parse_quality_entry,
    "/quality_checker/leaderboard": wire.parse_leaderboard,
    "raise_for_answer": wire.raise_for_answer,
}
FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])

statuses = st.sampled_from(
    [
        200,
        201,
        204,
        206,
        301,
        302,
        400,
        401,
        403,
        404,
        408,
        410,
        413,
        418,
        422,
        429,
        500,
        502,
        503,
        0,
        999,
    ]
)
header_values = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "120",
            "-5",
            "1e999",
            "nan",
            "Fri, 10 May 2024 08:03:47 GMT",
            "Fri, 99 Foo",
            "99999999999999999999",
        ]
    ),
)
headers = st.dictionaries(
    st.sampled_from(["Retry-After", "Date", "Content-Type", "X-Other", "content-type"]),
    header_values,
    max_size=4,
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        ["true", "false", "1", "0", "", "[]", "{}", "done", "waiting", "null", "2.0000", "1e999"]
    ),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=12), children, max_size=4),
    ),
    max_leaves=20,
)


def shaped(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """An object with MVSEP's keys, each holding any JSON value (wrong types everywhere)."""
    return st.fixed_dictionaries({}, optional={key: json_values for key in keys})


file_objects = shaped(["type", "url", "size", "download"])
field_objects = st.fixed_dictionaries(
    {},
    optional={
        **{
            key: json_values
            for key in ["id", "name", "text", "default_key", "server_key", "input_type", "required"]
        },
        "options": st.one_of(json_values, json_values.map(json.dumps)),
        "price_rules": st.lists(shaped(["option_key", "mode", "value"]), max_size=2),
        "conditions": st.lists(
            shaped(["depends_on_field_id", "operator", "value_json", "action"]), max_size=2
        ),
        "output_overrides": st.one_of(json_values, json_values.map(json.dumps)),
        "registered_only_keys": json_values,
    },
)
algorithm_objects = st.fixed_dictionaries(
    {},
    optional={
        **{
            key: json_values
            for key in [
                "id",
                "render_id",
                "name",
                "price_coefficient",
                "is_active",
                "audio_widget",
                "usage",
                "algorithm_group",
            ]
        },
        **{
            key: st.one_of(json_values, json_values.map(json.dumps))
            for key in ["output_stems", "outputs", "output_variants"]
        },
        "algorithm_fields": st.one_of(json_values, st.lists(field_objects, max_size=3)),
    },
)
data_objects = st.fixed_dictionaries(
    {},
    optional={
        **{key: json_values for key in [
            "hash", "link", "message", "queue_count", "current_order", "finished_chunks",
            "all_chunks", "algorithm", "tags", "date", "size", "input_file", "name", "email",
            "api_token", "premium_minutes", "premium_enabled", "current_queue", "id",
        ]},
        "files": st.one_of(json_values, st.lists(file_objects, max_size=3)),
    },
)  # fmt: skip
envelopes = st.fixed_dictionaries(
    {},
    optional={
        "success": json_values,
        "status": json_values,
        "data": st.one_of(json_values, data_objects, st.lists(data_objects, max_size=2)),
        "errors": json_values,
        "message": json_values,
        "queue": json_values,
        "plan": json_values,
        "sortables": json_values,
    },
)
bodies = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    envelopes.map(lambda v: json.dumps(v).encode()),
    st.lists(algorithm_objects, max_size=3).map(lambda v: json.dumps(v).encode()),
    st.lists(
        st.one_of(
            data_objects,
            shaped(["hash", "title", "text", "input_audio", "algorithm", "algo_name", "metrics"]),
        ),
        max_size=3,
    ).map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
    envelopes.map(lambda v: json.dumps(v).encode()[: len(json.dumps(v)) // 2]),
)


def check(
    parser: Parser, endpoint: str, status: int, answer_headers: Mapping[str, str], body: bytes
) -> None:
    with contextlib.suppress(MvsepError):
        parser(endpoint.split("#")[0], status, answer_headers, body)


@pytest.mark.parametrize("name", list(PARSERS))
@FUZZ
@given(status=statuses, answer_headers=headers, body=bodies)
def test_parsers_never_raise_anything_but_mvsep_errors(
    name: str, status: int, answer_headers: dict[str, str], body: bytes
) -> None:
    check(PARSERS[name], name, status, answer_headers, body)


HOSTILE_BODIES = [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    b'{"success": true, "data": {"tags": ' + b"[" * 900 + b"]" * 900 + b"}}",
    b'{"success": true, "status": "done", "data": {"files": ' + b"[" * 900 + b"]" * 900 + b"}}",
    b'{"success": true, "data": {"queue_count": 1'
    + b"0" * 5000
    + b', "premium_minutes": 1'
    + b"9" * 4000
    + b"}}",
    b'{"success": true, "data": {"id": 1e999, "hash": 1e999, "premium_minutes": -1e999}}',
    b'[{"id": 1'
    + b"0" * 4000
    + b', "render_id": 1, "name": "x", "price_coefficient": "1'
    + b"0" * 5000
    + b'"}]',
    b'{"success": NaN, "status": Infinity}',
    b"\xef\xbb\xbf" + b'{"success": true}',
    b"\xff\xfe{\x00}\x00",
    b'{"success": true, "data": {"message": {"a": {"b": {"c": {"d": ["deep"]}}}}}}',
    b'{"success": false, "errors": ' + json.dumps(["x" * 10_000] * 100).encode() + b"}",
    json.dumps({"success": True, "data": {"options": "{" * 5000}}).encode(),
    json.dumps(
        [
            {
                "id": 1,
                "render_id": 1,
                "name": "x",
                "algorithm_fields": [{"id": 1, "name": "a", "options": "[" * 5000 + "]" * 5000}],
            }
        ]
    ).encode(),
]


@pytest.mark.parametrize("name", list(PARSERS))
def test_parsers_survive_hostile_bodies(name: str) -> None:
    for status in (200, 400, 500):
        for body in HOSTILE_BODIES:
            check(PARSERS[name], name, status, {"Retry-After": "1" + "0" * 50}, body)


def test_long_server_messages_are_capped() -> None:
    body = json.dumps({"success": False, "errors": ["x" * 10_000] * 100}).encode()
    with pytest.raises(MvsepError) as caught:
        wire.raise_for_answer("/separation/create", 400, {}, body)
    assert len(caught.value.messages) <= 20
    assert len(str(caught.value)) < 20 * 600
