"""Contract: every recorded MVSEP response (Postman collection and OpenAPI examples) compared with
the emulator's answer to the same request: same JSON shape, same headers.

Shape = the same keys at every level and the same JSON value types (numbers are numbers; a
recorded ``null`` says nothing about the type). Differences the reference material documents are
listed in ``DOCUMENTED_EXTRAS``: the 2026 catalog has more fields than the 2024 recording, and
recent done answers carry ``hash``.
"""

from __future__ import annotations

import dataclasses
import io
import json
import urllib.parse
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import soundfile

from mvsepd.emulator import EmulatorServer, ManualClock
from tests.emulator.conftest import FAST, START
from tests.emulator.helpers import api, create, wait_status, write_audio

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mvsep"
PASSWORD = "ASDFQWEr123"


@dataclasses.dataclass(frozen=True)
class Recorded:
    """One recorded response and the request that produced it."""

    source: str
    name: str
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    status: int
    body: Any
    headers: dict[str, str]


def _postman() -> list[Recorded]:
    collection = json.loads((FIXTURES / "postman-collection.json").read_text(encoding="utf-8"))
    found: list[Recorded] = []

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            if "item" in item:
                walk(item["item"])
                continue
            for response in item.get("response") or []:
                request = response.get("originalRequest") or item["request"]
                url = request["url"]
                form = {
                    entry["key"]: entry.get("value", "")
                    for entry in (request.get("body") or {}).get("formdata") or []
                    if entry.get("type") == "text"
                }
                found.append(
                    Recorded(
                        source="postman",
                        name=f"{item['name']} {response['code']}",
                        method=request["method"],
                        path="/" + "/".join(url["path"]),
                        query={q["key"]: q.get("value", "") for q in url.get("query") or []},
                        form=form,
                        status=int(response["code"]),
                        body=json.loads(response["body"]),
                        headers={h["key"]: h["value"] for h in response.get("header") or []},
                    )
                )

    walk(collection["item"])
    return found


def _openapi() -> list[Recorded]:
    spec = json.loads((FIXTURES / "mvsep-openapi-spec.json").read_text(encoding="utf-8"))
    found = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status, response in (operation.get("responses") or {}).items():
                content = (response.get("content") or {}).get("application/json") or {}
                if "example" not in content:
                    continue
                headers = {
                    key: str(header.get("schema", {}).get("example", header.get("example", "")))
                    for key, header in (response.get("headers") or {}).items()
                }
                query = {
                    str(parameter["name"]): str(parameter.get("example", ""))
                    for parameter in operation.get("parameters") or []
                    if parameter.get("in") == "query"
                }
                found.append(
                    Recorded(
                        source="openapi",
                        name=f"{operation.get('summary')} {status}",
                        method=method.upper(),
                        path=path,
                        query=query,
                        form={},
                        status=int(status),
                        body=content["example"],
                        headers=headers,
                    )
                )
    return found


RECORDED = _postman() + _openapi()


class Replayer:
    """Issues each recorded request to one emulator, setting up what it needs first."""

    def __init__(self, server: EmulatorServer, clock: ManualClock, audio: Path) -> None:
        self.server = server
        self.token = server.add_account(plan="premium", credits=1000).token
        self.server.add_account(email="user@example.com", password=PASSWORD)
        hashes = []
        for _ in range(3):
            answer = create(server, self.token, audio, sep_type="20", is_demo="1")
            hashes.append(answer.json()["data"]["hash"])
        clock.advance(FAST.queue_seconds + 10)
        server.tick()
        assert server.state.wait_until_idle()
        server.tick()
        self.done_hash = hashes[0]
        waiting = create(server, self.token, audio, sep_type="48")
        self.waiting_hash = waiting.json()["data"]["hash"]

    def replay(self, recorded: Recorded) -> requests.Response:
        path = recorded.path
        url = self.server.url + path
        form = {key: self._token(value) for key, value in recorded.form.items()}
        query = {key: self._token(value) for key, value in recorded.query.items()}
        if path in ("/api/app/separation_history", "/api/app/user"):
            query["api_token"] = self.token
        if path.startswith("/api/app/") and path.endswith(("_premium", "_long_filenames")):
            form["api_token"] = self.token
        if path == "/api/separation/get":
            done = isinstance(recorded.body.get("data"), dict) and "files" in recorded.body["data"]
            query = {"hash": self.done_hash if done else self.waiting_hash}
        if path == "/api/app/login":
            form = (
                {"email": "", "password": ""}
                if recorded.status == 400
                else {"email": "user@example.com", "password": PASSWORD}
            )
        if path == "/api/app/register":
            form = {
                "name": "user",
                "email": f"new{len(self.server.state.accounts())}@example.com",
                "password": PASSWORD,
                "password_confirmation": PASSWORD,
            }
        files: dict[str, Any] = {key: (None, value) for key, value in form.items()}
        if path == "/api/quality_checker/add":
            files.setdefault("algo_name", (None, "Test Algorithm Name"))
            files.setdefault("main_text", (None, "Test Algorithm Description"))
            files["api_token"] = (None, self.token)
            files["password"] = (None, "test")
            files["zipfile"] = ("bootstrap.zip", _zip_bytes())
        if path == "/api/quality_checker/delete":
            entry_id = self._qc_entry()
            files = {"id": (None, str(entry_id)), "password": (None, "test")}
        if recorded.method == "GET":
            return requests.get(url, params=query, timeout=30)
        return requests.post(url, params=query, files=files or None, timeout=30)

    def _qc_entry(self) -> int:
        files: dict[str, Any] = {
            "api_token": (None, self.token),
            "zipfile": ("a.zip", _zip_bytes()),
            "algo_name": (None, "Test Algorithm Name"),
            "main_text": (None, "Test Algorithm Description"),
            "password": (None, "test"),
        }
        answer = requests.post(api(self.server, "quality_checker/add"), files=files, timeout=30)
        entry_id: int = answer.json()["data"]["id"]
        return entry_id

    def _token(self, value: str) -> str:
        return self.token if value in ("{{api_token}}", "<api_token>") else value


def _zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("vocals/song1.wav", b"RIFF....WAVE")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def replayer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replayer]:
    root = tmp_path_factory.mktemp("contract")
    clock = ManualClock(START)
    settings = dataclasses.replace(FAST, queue_seconds=5.0, storage_parent=str(root))
    server = EmulatorServer(settings, clock=clock).start()
    try:
        yield Replayer(server, clock, write_audio(root / "10 - Luke's Theme.wav", 1.5))
    finally:
        server.stop()


DOCUMENTED_EXTRAS = {
    # API-NOTES §4.4: fields added to the catalog by 2026 (the recording is from Feb 2024).
    "[]": {
        "audio_upload_disabled",
        "audio_widget",
        "allow_resample",
        "output_stems",
        "outputs",
        "output_variants",
        "description",
        "usage",
        "rating",
        "algorithm_group",
    },
    "[].algorithm_fields[]": {
        "output_overrides",
        "input_type",
        "required",
        "help_link",
        "registered_only_keys",
        "price_rules",
        "conditions",
    },
    "[].algorithm_descriptions[]": {"lang", "algorithm_id", "created_at", "updated_at"},
    # API-NOTES §4.2: "hash appears in recent captures" of the done answer.
    "data": {"hash"},
}
FREE_FORM = {"data.tags.tags"}  # getID3 tag blocks depend on the file's own tags


def assert_same_shape(recorded: Any, actual: Any, where: str = "") -> None:
    if recorded is None or where in FREE_FORM:
        return
    if isinstance(recorded, dict):
        assert isinstance(actual, dict), f"{where or 'body'}: expected an object, got {actual!r}"
        extras = DOCUMENTED_EXTRAS.get(where, set())
        missing = set(recorded) - set(actual)
        unexpected = set(actual) - set(recorded) - extras
        assert not missing, f"{where or 'body'}: missing keys {sorted(missing)}"
        assert not unexpected, f"{where or 'body'}: unrecorded keys {sorted(unexpected)}"
        for key in recorded:
            assert_same_shape(recorded[key], actual[key], f"{where}.{key}".lstrip("."))
        return
    if isinstance(recorded, list):
        assert isinstance(actual, list), f"{where}: expected an array, got {actual!r}"
        if recorded and actual:
            for item in actual[:3]:
                assert_same_shape(recorded[0], item, f"{where}[]")
        return
    assert _json_type(actual) == _json_type(recorded), (
        f"{where}: recorded {type(recorded).__name__} {recorded!r}, got {actual!r}"
    )


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


@pytest.mark.parametrize("recorded", RECORDED, ids=lambda r: f"{r.source}: {r.name}")
def test_emulator_answers_like_the_recording(replayer: Replayer, recorded: Recorded) -> None:
    answer = replayer.replay(recorded)
    assert answer.status_code == recorded.status, answer.text[:300]
    assert_same_shape(recorded.body, answer.json())
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.headers["Cache-Control"] == "no-cache, private"
    assert answer.headers["Server"] == "Apache/2.4.52 (Ubuntu)"
    assert answer.headers["X-RateLimit-Limit"] == recorded.headers["X-RateLimit-Limit"]
    assert int(answer.headers["X-RateLimit-Remaining"]) < int(answer.headers["X-RateLimit-Limit"])


def test_every_recorded_endpoint_is_covered() -> None:
    paths = {r.path for r in RECORDED}
    assert paths >= {
        "/api/separation/get",
        "/api/app/algorithms",
        "/api/app/login",
        "/api/app/register",
        "/api/app/news",
        "/api/app/demo",
        "/api/app/separation_history",
        "/api/quality_checker/add",
        "/api/quality_checker/delete",
    }
    assert len(RECORDED) >= 20


def test_done_files_have_the_documented_element_shape(replayer: Replayer) -> None:
    body = requests.get(
        api(replayer.server, "separation/get"), params={"hash": replayer.done_hash}, timeout=30
    ).json()
    assert body["data"]["files"], "the recording had no files; the emulator must have some"
    for item in body["data"]["files"]:
        assert set(item) == {"type", "url", "size", "download"}
        assert item["size"].endswith(("B", "KB", "MB"))


def test_raw_bodies_escape_slashes_and_non_ascii_like_php(replayer: Replayer) -> None:
    news = requests.get(
        api(replayer.server, "app/news"), params={"lang": "ru", "limit": "1"}, timeout=30
    )
    raw = news.content
    assert raw.isascii()
    assert b"\\u041e" in raw or b"\\u042d" in raw  # Cyrillic as \uXXXX (lowercase hex, like PHP)
    assert b"<\\/p>" in raw
    token = replayer.server.add_account().token
    created = create(replayer.server, token, None, sep_type="62", add_opt1="Ünïcode ☃")
    assert b"http:\\/\\/127.0.0.1:" in created.content
    assert b"/" not in created.content.replace(b"\\/", b"")


def test_waiting_answer_has_exactly_the_recorded_keys(replayer: Replayer) -> None:
    body = requests.get(
        api(replayer.server, "separation/get"), params={"hash": replayer.waiting_hash}, timeout=30
    ).json()
    assert body == {
        "success": True,
        "status": "waiting",
        "data": {"queue_count": body["data"]["queue_count"], "current_order": 1},
    }


def test_history_entries_carry_the_recorded_algorithm_object(replayer: Replayer) -> None:
    body = requests.get(
        api(replayer.server, "app/separation_history"),
        params={"api_token": replayer.token},
        timeout=30,
    ).json()
    algorithm = body["data"][-1]["algorithm"]
    assert algorithm["name"] == "Demucs4 HT (vocals, drums, bass, other)"
    assert algorithm["render_id"] == 20
    assert set(algorithm["algorithm_group"]) == {"id", "name", "created_at", "updated_at"}
    query = urllib.parse.urlencode({"hash": body["data"][0]["hash"]})
    assert "%" not in query  # hashes are URL-safe as they stand


def test_tags_of_a_320k_mp3_match_the_recorded_getid3_analysis(
    replayer: Replayer, tmp_path: Path
) -> None:
    recorded = next(
        r.body["data"]["tags"]["audio"]
        for r in RECORDED
        if r.source == "postman" and r.path == "/api/separation/get" and "tags" in r.body["data"]
    )
    wav = write_audio(tmp_path / "song.wav", 2.0)
    data, samplerate = soundfile.read(str(wav))
    mp3 = tmp_path / "song.mp3"
    with soundfile.SoundFile(
        str(mp3),
        "w",
        samplerate,
        2,
        "MPEG_LAYER_III",
        None,
        "MP3",
        compression_level=0.0,
        bitrate_mode="CONSTANT",
    ) as handle:
        handle.write(data)
    server = replayer.server
    token = server.add_account(plan="premium").token
    separation_hash = create(server, token, mp3).json()["data"]["hash"]
    assert separation_hash.endswith("-song.mp3")
    server.advance(61.0)  # past the queue time, and into a fresh rate-limit window
    done = wait_status(server, separation_hash, "done")["data"]
    assert done["tags"]["audio"] == recorded
