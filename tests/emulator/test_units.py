"""Unit tests of the emulator's pure parts: PHP JSON, naming, catalog, DSP, throttle, clock."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mvsepd.emulator import ManualClock
from mvsepd.emulator.catalog import Catalog, OptionError, parse_scopes
from mvsepd.emulator.dsp import plan_stems, split_block
from mvsepd.emulator.naming import (
    algorithm_slug,
    human_size,
    input_download_name,
    new_token,
    separation_hash,
    slugify,
    split_upload_name,
)
from mvsepd.emulator.phpjson import dumps
from mvsepd.emulator.ratelimit import RateLimiter

CATALOG = Catalog.load()


def test_php_json_escapes_slashes_and_unicode() -> None:
    raw = dumps({"url": "https://mvsep.com/a b", "title": "Обзор ☃ 🎵", "empty": {}, "n": 0.5})
    assert raw == (
        b'{"url":"https:\\/\\/mvsep.com\\/a b","title":"\\u041e\\u0431\\u0437\\u043e\\u0440 '
        b'\\u2603 \\ud83c\\udfb5","empty":[],"n":0.5}'
    )
    assert json.loads(raw)["title"] == "Обзор ☃ 🎵"


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(), lambda c: st.lists(c)))
@settings(max_examples=60)
def test_php_json_round_trips(value: object) -> None:
    assert json.loads(dumps(value)) == value


@pytest.mark.parametrize(
    ("name", "slug", "extension"),
    [
        (
            "10 - Luke's Theme -A Madman's Symphony.mp3",
            "10-luke-s-theme-a-madman-s-symphony",
            "mp3",
        ),
        (
            "Skylar Grey - I'm Coming Home (Ano Remix) [z2.fm].MP3",
            "skylar-grey-i-m-coming-home-ano-remix-z2-fm",
            "mp3",
        ),
        ("Beyoncé — Déjà Vu.flac", "beyonce-deja-vu", "flac"),
        ("Песня.wav", "audio", "wav"),
        ("C:\\music\\track.WAV", "track", "wav"),
        ("noextension", "noextension", ""),
    ],
)
def test_upload_names_slug_like_mvsep(name: str, slug: str, extension: str) -> None:
    assert split_upload_name(name) == (slug, extension)


def test_separation_hash_shape() -> None:
    value = separation_hash(1707754769.0, "413c481b80", "luke-s-theme", "mp3")
    assert value == "20240212161929-413c481b80-luke-s-theme.mp3"
    assert input_download_name(value, "mvsep.test") == (
        "20240212161929-413c481b80-luke-s-theme_[mvsep.test].mp3"
    )


def test_tokens_are_30_letters_and_digits() -> None:
    tokens = {new_token() for _ in range(50)}
    assert len(tokens) == 50
    assert all(len(token) == 30 and token.isalnum() and token.isascii() for token in tokens)


def test_sizes_and_slugs() -> None:
    assert human_size(5_976_883) == "5.70 MB"
    assert human_size(512) == "512.00 B"
    assert human_size(2048) == "2.00 KB"
    assert algorithm_slug("MelBand Roformer (vocals, instrumental)") == "melbandroformer"
    assert slugify("  --  ") == "audio"


def test_catalog_scopes() -> None:
    assert parse_scopes(None) == ["single_upload"]
    assert parse_scopes("no_upload, matchering_upload,bogus") == ["no_upload", "matchering_upload"]
    assert len(CATALOG.listing(["single_upload"])) == 117
    for render_id in (62, 104, 115, 118, 119):
        algorithm = CATALOG.get(render_id)
        assert algorithm is not None and algorithm.widget == "no_upload"
    matchering = CATALOG.get(68)
    assert matchering is not None and matchering.widget == "matchering_upload"


def test_catalog_options_defaults_and_prices() -> None:
    algorithm = CATALOG.get(40)
    assert algorithm is not None
    chosen = algorithm.resolve_options({"add_opt1": "", "add_opt2": " "})
    assert chosen == {"add_opt1": "81", "add_opt2": "2", "add_opt3": "0"}
    assert algorithm.cost(149.0, chosen) == 2
    assert algorithm.cost(149.0, {**chosen, "add_opt2": "8"}) == 4  # floor(149 × 2 / 60)
    assert algorithm.cost(3.0, chosen) == 1
    with pytest.raises(OptionError, match=r"The selected add opt1 is invalid\."):
        algorithm.resolve_options({"add_opt1": "nope"})
    assert algorithm.outputs({**chosen, "add_opt3": "1"}) == {
        "vocals": "Vocals",
        "other": "Other",
        "vocals-fullness-level-1": "Vocals (fullness 1)",
        "instrum-fullness-level-1": "Instrumental (fullness 1)",
        "vocals-fullness-level-2": "Vocals (fullness 2)",
        "vocals-fullness-level-3": "Vocals (fullness 3)",
    }


def test_models_without_outputs_get_a_single_result() -> None:
    whisper = CATALOG.get(39)
    assert whisper is not None
    assert whisper.outputs(whisper.resolve_options({})) == {"result": "Result"}


def test_every_model_and_option_splits_into_an_exact_partition() -> None:
    """For every catalog entry and every option value: the primary stems sum to the input."""
    block = np.random.default_rng(3).uniform(-0.5, 0.5, size=(2048, 2))
    checked = 0
    for algorithm in CATALOG._entries:
        texts = {f.name: "text" for f in algorithm.fields if f.is_text}
        variants: list[dict[str, str]] = [texts]
        for field in algorithm.fields:
            variants.extend({**texts, field.name: key} for key in field.options)
        for submitted in variants:
            outputs = algorithm.outputs(algorithm.resolve_options(submitted))
            plan = plan_stems(list(outputs))
            stems = split_block(block, 44100, plan)
            assert set(stems) == set(outputs)
            total = sum(stems[key] for key in plan.primary)
            assert np.max(np.abs(total - block)) < 1e-12, algorithm.name
            for key, how in plan.derived.items():
                if how.kind == "complement" and how.source is not None:
                    assert np.allclose(stems[key] + stems[how.source], block)
            checked += 1
    assert checked > 400


def test_throttle_windows() -> None:
    clock = ManualClock(1000.0)
    limiter = RateLimiter(clock, strict_limit=2, default_limit=3, window_seconds=60, enforce=True)
    path = "/api/separation/get"
    assert [limiter.hit("a", path).allowed for _ in range(3)] == [True, True, False]
    assert limiter.hit("b", path).allowed  # per client
    assert limiter.hit("a", "/api/app/news").headers["X-RateLimit-Limit"] == "3"
    clock.advance(60)
    assert limiter.hit("a", path).headers["X-RateLimit-Remaining"] == "1"


def test_manual_clock_does_not_go_back() -> None:
    clock = ManualClock(10.0)
    assert clock.advance(5) == 15.0
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        clock.set(3.0)
