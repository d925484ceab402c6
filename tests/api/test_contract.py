"""Contract: every recorded MVSEP answer (Postman collection, OpenAPI examples) parses.

The fixtures are MVSEP's own material, copied into tests/fixtures/mvsep. Each example goes
through ``api.wire`` with its recorded status and headers and must give the right model, or the
right error for the recorded 400 login.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from mvsepd.api import wire
from mvsepd.errors import InvalidRequestError
from mvsepd.models import (
    ActionResult,
    Algorithm,
    DemoEntry,
    HistoryEntry,
    NewsItem,
    QualityEntryCreated,
    RemoteStatus,
    SeparationStatus,
    UserInfo,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "mvsep"
HASH = "20240119124024-413c481b80-10-luke-s-theme-a-madman-s-symphony.mp3"


@dataclass(frozen=True)
class Example:
    source: str
    path: str
    status: int
    headers: Mapping[str, str]
    body: bytes


def postman_examples() -> Iterator[Example]:
    collection = json.loads((FIXTURES / "postman-collection.json").read_text())

    def walk(items: list[dict[str, Any]]) -> Iterator[Example]:
        for item in items:
            if "item" in item:
                yield from walk(item["item"])
                continue
            for response in item.get("response", []):
                url = response["originalRequest"]["url"]
                raw = url if isinstance(url, str) else url["raw"]
                headers = {h["key"]: h["value"] for h in response.get("header") or []}
                yield Example(
                    source=f"postman:{item['name']}:{response['code']}",
                    path=urlsplit(raw.replace("{{", "").replace("}}", "")).path,
                    status=int(response["code"]),
                    headers=headers,
                    body=response["body"].encode("utf-8"),
                )

    yield from walk(collection["item"])


def openapi_examples() -> Iterator[Example]:
    spec = json.loads((FIXTURES / "mvsep-openapi-spec.json").read_text())
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            for code, response in operation.get("responses", {}).items():
                headers = {
                    name: str(value.get("schema", {}).get("example", ""))
                    for name, value in (response.get("headers") or {}).items()
                }
                for content in response.get("content", {}).values():
                    examples = [content["example"]] if "example" in content else []
                    examples += [e.get("value") for e in content.get("examples", {}).values()]
                    for example in examples:
                        raw = example if isinstance(example, str) else json.dumps(example)
                        yield Example(
                            f"openapi:{path}:{code}", path, int(code), headers, raw.encode()
                        )


ALL_EXAMPLES = [*postman_examples(), *openapi_examples()]

Parser = Callable[[str, int, Mapping[str, str], bytes], Any]
PARSERS: dict[str, tuple[Parser, type]] = {
    "/app/enable_long_filenames": (wire.parse_action, ActionResult),
    "/app/disable_long_filenames": (wire.parse_action, ActionResult),
    "/app/enable_premium": (wire.parse_action, ActionResult),
    "/app/disable_premium": (wire.parse_action, ActionResult),
    "/app/register": (wire.parse_action, ActionResult),
    "/quality_checker/delete": (wire.parse_action, ActionResult),
    "/app/separation_history": (wire.parse_history, HistoryEntry),
    "/quality_checker/add": (wire.parse_quality_created, QualityEntryCreated),
    "/app/algorithms": (wire.parse_algorithms, Algorithm),
    "/app/login": (wire.parse_user, UserInfo),
    "/app/user": (wire.parse_user, UserInfo),
    "/app/news": (wire.parse_news, NewsItem),
    "/app/demo": (wire.parse_demo, DemoEntry),
    "/separation/get": (
        lambda e, s, h, b: wire.parse_separation(e, s, h, b, separation_hash=HASH),
        SeparationStatus,
    ),
}


def test_the_fixtures_hold_the_expected_number_of_examples() -> None:
    assert sum(e.source.startswith("postman") for e in ALL_EXAMPLES) == 17
    assert sum(e.source.startswith("openapi") for e in ALL_EXAMPLES) == 14


@pytest.mark.parametrize("example", ALL_EXAMPLES, ids=[e.source for e in ALL_EXAMPLES])
def test_every_recorded_answer_parses_into_its_model(example: Example) -> None:
    endpoint = example.path.removeprefix("/api")
    assert endpoint in PARSERS, f"no parser mapped for {endpoint} ({example.source})"
    parser, model = PARSERS[endpoint]
    if endpoint == "/app/login" and example.status == 400:
        with pytest.raises(InvalidRequestError) as caught:
            parser(endpoint, example.status, example.headers, example.body)
        assert type(caught.value) is InvalidRequestError
        assert caught.value.messages == (
            "The email field is required.",
            "The password field is required.",
        )
        return
    result = parser(endpoint, example.status, example.headers, example.body)
    items = result if isinstance(result, list) else [result]
    assert items, f"{example.source} parsed to nothing"
    assert all(isinstance(item, model) for item in items)


def _one(source_prefix: str, status: int = 200, contains: bytes = b"") -> Example:
    matches = [
        e for e in ALL_EXAMPLES
        if e.source.startswith(source_prefix) and e.status == status and contains in e.body
    ]  # fmt: skip
    assert matches, source_prefix
    return matches[0]


def test_recorded_waiting_and_done_polls() -> None:
    waiting = _one("postman:Separation:", contains=b'"waiting"')
    status = wire.parse_separation(
        "/separation/get", 200, waiting.headers, waiting.body, separation_hash=HASH
    )
    assert (status.status, status.queue_count, status.current_order) == (RemoteStatus.WAITING, 3, 2)

    done = _one("postman:Separation:", contains=b'"done"')
    status = wire.parse_separation(
        "/separation/get", 200, done.headers, done.body, separation_hash=HASH
    )
    assert status.status is RemoteStatus.DONE
    assert status.algorithm == "Ensemble 8 models (vocals, bass, drums, other)"
    assert status.output_format == "mp3 (320 kbps)"
    assert status.size_text == "5.70 MB"
    assert status.date == "2024-01-19 12:40:25"
    assert status.files == ()
    assert status.input_file is not None
    assert status.input_file.url == f"https://mvsep.test/storage/temp/{HASH}"
    assert status.input_file.download_name is not None
    assert status.input_file.download_name.endswith("_[mvsep.test].mp3")
    assert status.tags["audio"]["sample_rate"] == 44100


def test_recorded_history_login_and_catalog() -> None:
    history = _one("postman:Separation History:")
    first = wire.parse_history("/app/separation_history", 200, history.headers, history.body)[0]
    assert first.hash == "20240212161927-413c481b80-10-luke-s-theme-a-madman-s-symphony.mp3"
    assert (first.credits, first.time_left_hours, first.render_id) == (2, -2031, 20)
    assert first.algorithm_name == "Demucs4 HT (vocals, drums, bass, other)"

    login = _one("postman:Login:")
    user = wire.parse_user("/app/login", 200, login.headers, login.body)
    assert user.api_token is None
    assert user.credits == 54
    assert user.premium_enabled and user.long_filenames_enabled

    catalog = _one("postman:Algorithms:")
    algorithms = wire.parse_algorithms("/app/algorithms", 200, catalog.headers, catalog.body)
    assert len(algorithms) == 38
    first_algorithm = algorithms[0]
    assert (first_algorithm.id, first_algorithm.render_id) == (27, 26)
    assert first_algorithm.fields[0].options == {
        "0": "Standard set",
        "1": "Include intermediate results and max_fft, min_fft",
    }

    added = _one("postman:Add Entry:")
    assert (
        wire.parse_quality_created("/quality_checker/add", 200, added.headers, added.body).id
        == 7772
    )
