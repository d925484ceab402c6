"""The model catalog: loading the data files, scopes, option validation, outputs and prices.

The catalog entries are served byte-for-byte as loaded (``GET /api/app/algorithms``); this module
also interprets them for the create endpoint: which ``add_optN`` values are valid, what an empty
value defaults to, which output files a choice of options produces (``outputs`` refined by
``output_variants`` and ``output_overrides``), and what it costs (``price_coefficient`` times the
``price_rules`` multipliers).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

SCOPES = ("single_upload", "no_upload", "matchering_upload")
DEFAULT_SCOPE = "single_upload"
DATA_FILES = ("algorithms.single_upload.json", "algorithms.other_scopes.json")
FALLBACK_OUTPUTS = {"result": "Result"}
"""Outputs of models whose catalog entry has none (text extractors, generators) [INF]."""


class OptionError(ValueError):
    """A submitted ``add_optN`` value the model does not accept; the message is MVSEP-style."""


@dataclasses.dataclass(frozen=True)
class Field:
    """One ``algorithm_fields`` entry."""

    name: str
    text: str
    options: dict[str, str]
    default_key: str | None
    server_key: str
    input_type: str
    required: bool
    multipliers: dict[str, float]
    overrides: dict[str, Any]

    @property
    def is_text(self) -> bool:
        return self.input_type in ("text", "textarea")

    def label(self) -> str:
        """Laravel's attribute name for messages: ``add_opt1`` → ``add opt1``."""
        return self.name.replace("_", " ")


@dataclasses.dataclass(frozen=True)
class Algorithm:
    """One catalog entry: the raw JSON plus what the emulator needs from it."""

    raw: dict[str, Any]
    fields: tuple[Field, ...]

    @property
    def render_id(self) -> int:
        return int(self.raw["render_id"])

    @property
    def name(self) -> str:
        return str(self.raw["name"])

    @property
    def is_active(self) -> bool:
        return bool(self.raw.get("is_active"))

    @property
    def widget(self) -> str:
        return str(self.raw.get("audio_widget") or DEFAULT_SCOPE)

    @property
    def price_coefficient(self) -> float:
        return float(self.raw.get("price_coefficient") or 1)

    def description(self) -> str:
        """English short description, or the name when the catalog's prose is blank."""
        for entry in self.raw.get("algorithm_descriptions") or []:
            if entry.get("lang") == "en" and entry.get("short_description"):
                return str(entry["short_description"])
        return self.name

    def resolve_options(self, submitted: Mapping[str, str]) -> dict[str, str]:
        """Validate ``add_optN`` values; empty or missing means the field's default.

        Returns field name → chosen key (select) or text. Values for fields the model does not
        have are ignored, like unused ``add_opt2`` in the official examples. Raises OptionError.
        """
        chosen: dict[str, str] = {}
        for field in self.fields:
            value = (submitted.get(field.name) or "").strip()
            if field.is_text:
                if value:
                    chosen[field.name] = value
                elif field.required:
                    raise OptionError(f"The {field.label()} field is required.")
                continue
            if not value:
                # No default_key (render_id 17 in the dump): take the first option [INF].
                default = field.default_key or next(iter(field.options), None)
                if default is not None:
                    chosen[field.name] = default
                elif field.required:
                    raise OptionError(f"The {field.label()} field is required.")
                continue
            if value not in field.options:
                raise OptionError(f"The selected {field.label()} is invalid.")
            chosen[field.name] = value
        return chosen

    def server_options(self, chosen: Mapping[str, str]) -> dict[str, str]:
        """The chosen options keyed by ``server_key`` (what ``output_variants`` match on)."""
        return {f.server_key: chosen[f.name] for f in self.fields if f.name in chosen}

    def outputs(self, chosen: Mapping[str, str]) -> dict[str, str]:
        """Stem key → label for these options, in catalog order."""
        outputs = _json_map(self.raw.get("outputs"))
        variants = _json_obj(self.raw.get("output_variants"))
        if variants:
            by_server_key = self.server_options(chosen)
            for variant in variants.get("variants") or []:
                match = variant.get("match") or {}
                if all(by_server_key.get(key) == str(value) for key, value in match.items()):
                    outputs = {str(k): str(v) for k, v in (variant.get("outputs") or {}).items()}
                    break
        for field in self.fields:
            override = field.overrides.get(chosen.get(field.name, ""))
            if not isinstance(override, dict):
                continue
            extra = {str(k): str(v) for k, v in (override.get("outputs") or {}).items()}
            outputs = extra if override.get("mode") == "set" else {**(outputs or {}), **extra}
        return dict(outputs) if outputs else dict(FALLBACK_OUTPUTS)

    def price_multiplier(self, chosen: Mapping[str, str]) -> float:
        """Product of the ``price_rules`` multipliers of the chosen options."""
        product = 1.0
        for field in self.fields:
            product *= field.multipliers.get(chosen.get(field.name, ""), 1.0)
        return product

    def cost(self, duration_seconds: float, chosen: Mapping[str, str]) -> int:
        """Credits: ``floor(seconds * price_coefficient [* multipliers] / 60)``, at least 1.

        The formula is the API page's [DOC]; applying the option multipliers inside the floor is
        [INF].
        """
        scaled = duration_seconds * self.price_coefficient * self.price_multiplier(chosen)
        return max(1, math.floor(scaled / 60 + 1e-9))

    def model_number(self, chosen: Mapping[str, str]) -> str:
        """The ``<n>`` of ``_mt_<n>_`` in file names: the chosen model type, else 0 [INF]."""
        for field in self.fields:
            if field.server_key == "model_type" and field.name in chosen:
                return _safe_token(chosen[field.name])
        return "0"

    def option_labels(self, chosen: Mapping[str, str]) -> list[str]:
        """Labels of the chosen select options (for long file names)."""
        return [
            field.options.get(chosen[field.name], chosen[field.name])
            for field in self.fields
            if field.name in chosen and not field.is_text
        ]

    def summary(self, *, with_group: bool) -> dict[str, Any]:
        """The short ``algorithm`` object of history (with group) and demo (without) [REC]."""
        keys = ("name", "algorithm_group_id", "orientation", "render_id", "order_id")
        data: dict[str, Any] = {key: self.raw.get(key) for key in keys}
        data["created_at"] = self.raw.get("created_at")
        data["updated_at"] = self.raw.get("updated_at")
        if with_group:
            data["algorithm_group"] = self.raw.get("algorithm_group")
        return data


class Catalog:
    """All models of all scopes, indexed by ``render_id``."""

    def __init__(self, entries: Iterable[dict[str, Any]]) -> None:
        self._entries = [_parse(entry) for entry in entries]
        self._by_render_id = {algorithm.render_id: algorithm for algorithm in self._entries}

    @classmethod
    def load(cls) -> Catalog:
        """The project's data files."""
        entries: list[dict[str, Any]] = []
        package = resources.files("mvsepd.emulator") / "data"
        for name in DATA_FILES:
            entries.extend(json.loads((package / name).read_text(encoding="utf-8")))
        return cls(entries)

    def get(self, render_id: int) -> Algorithm | None:
        return self._by_render_id.get(render_id)

    def listing(self, scopes: Iterable[str]) -> list[dict[str, Any]]:
        """Raw entries of the given scopes, in data-file order."""
        wanted = set(scopes)
        return [algorithm.raw for algorithm in self._entries if algorithm.widget in wanted]


def parse_scopes(value: str | None) -> list[str]:
    """``scopes`` query value → known scopes (unknown names are ignored) [INF]."""
    if not value:
        return [DEFAULT_SCOPE]
    names = [part.strip() for part in value.split(",") if part.strip()]
    known = [name for name in names if name in SCOPES]
    return known or [DEFAULT_SCOPE]


def _parse(entry: dict[str, Any]) -> Algorithm:
    fields = []
    for raw in entry.get("algorithm_fields") or []:
        multipliers = {
            str(rule["option_key"]): float(rule["value"])
            for rule in raw.get("price_rules") or []
            if rule.get("mode") == "multiplier"
        }
        fields.append(
            Field(
                name=str(raw["name"]),
                text=str(raw.get("text") or ""),
                options=_json_map(raw.get("options")) or {},
                default_key=None if raw.get("default_key") is None else str(raw["default_key"]),
                server_key=str(raw.get("server_key") or raw["name"]),
                input_type=str(raw.get("input_type") or "select"),
                required=bool(raw.get("required", 1)),
                multipliers=multipliers,
                overrides=_json_obj(raw.get("output_overrides")) or {},
            )
        )
    return Algorithm(raw=entry, fields=tuple(fields))


def _json_obj(value: object) -> dict[str, Any] | None:
    if value is None or value == "":
        return None
    parsed = json.loads(value) if isinstance(value, str) else value
    return parsed if isinstance(parsed, dict) and parsed else None


def _json_map(value: object) -> dict[str, str] | None:
    parsed = _json_obj(value)
    if parsed is None:
        return None
    return {str(key): str(label) for key, label in parsed.items()}


def _safe_token(value: str) -> str:
    cleaned = "".join(char if char.isalnum() else "-" for char in value.lower()).strip("-")
    return cleaned or "0"
