"""MVSEP's algorithm catalog as typed, immutable data (``GET /app/algorithms``).

Option keys stay strings exactly as MVSEP sends them ("0.3", "bass_0", "auto"), and option maps
keep the server's order, because that is the order MVSEP shows them in.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class AlgorithmScope(str, enum.Enum):
    """The ``scopes`` values of ``GET /app/algorithms``: how a model takes its input."""

    SINGLE_UPLOAD = "single_upload"
    NO_UPLOAD = "no_upload"
    MATCHERING_UPLOAD = "matchering_upload"


class InputType(str, enum.Enum):
    """How an option field is filled in: a choice among keys, or free text."""

    SELECT = "select"
    TEXT = "text"
    TEXTAREA = "textarea"


@dataclass(frozen=True)
class PriceRule:
    """Choosing ``option_key`` changes the job's price (``mode`` is "multiplier" in practice)."""

    option_key: str
    mode: str
    value: float


@dataclass(frozen=True)
class FieldCondition:
    """Show or hide a field depending on the chosen key of another field."""

    depends_on_field_id: int
    operator: str
    values: tuple[str, ...]
    action: str


@dataclass(frozen=True)
class OutputOverride:
    """Choosing an option replaces ("set") or extends ("add") the algorithm's outputs."""

    mode: str
    outputs: Mapping[str, str]


@dataclass(frozen=True, eq=False)
class AlgorithmField:
    """One ``add_optN`` field of an algorithm."""

    id: int
    name: str
    text: str
    options: Mapping[str, str]
    default_key: str | None
    server_key: str | None
    input_type: InputType
    required: bool
    registered_only_keys: tuple[str, ...] = ()
    price_rules: tuple[PriceRule, ...] = ()
    conditions: tuple[FieldCondition, ...] = ()
    output_overrides: Mapping[str, OutputOverride] = field(default_factory=dict)

    @property
    def is_free_text(self) -> bool:
        """True for text and textarea fields, which take any string instead of a key."""
        return self.input_type is not InputType.SELECT

    def key_for(self, key_or_label: str) -> str | None:
        """Return the option key for a key or a label (labels compared case-insensitively)."""
        if key_or_label in self.options:
            return key_or_label
        wanted = " ".join(key_or_label.split()).casefold()
        for key, label in self.options.items():
            if " ".join(label.split()).casefold() == wanted:
                return key
        return None

    def price_multiplier(self, key: str) -> float:
        """Return the product of this field's multiplier rules for the chosen key."""
        multiplier = 1.0
        for rule in self.price_rules:
            if rule.option_key == key and rule.mode == "multiplier":
                multiplier *= rule.value
        return multiplier


@dataclass(frozen=True, eq=False)
class OutputVariant:
    """Outputs observed for one combination of option values (keyed by ``server_key``)."""

    match: Mapping[str, str]
    outputs: Mapping[str, str]


@dataclass(frozen=True, eq=False)
class Algorithm:
    """One separation model. ``render_id`` is what ``sep_type`` means on the wire."""

    id: int
    render_id: int
    name: str
    group_id: int | None
    group_name: str | None
    orientation: int | None
    order_id: int | None
    price_coefficient: float
    is_active: bool
    audio_upload_disabled: bool
    audio_widget: AlgorithmScope
    output_stems: tuple[str, ...]
    outputs: Mapping[str, str]
    fields: tuple[AlgorithmField, ...]
    output_variants: tuple[OutputVariant, ...] = ()
    variant_keys: tuple[str, ...] = ()
    #: Separations with it in the last month, as MVSEP counts them (its catalog's order of
    #: popularity).
    usage: int | None = None
    #: Users' average rating (1 to 5) and how many rated it; None where nobody has.
    rating_average: float | None = None
    rating_count: int | None = None

    def field_named(self, name: str) -> AlgorithmField | None:
        """Return the field called ``name`` (``add_opt1``) or whose label is ``name``."""
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        wanted = " ".join(name.split()).casefold()
        for candidate in self.fields:
            if " ".join(candidate.text.split()).casefold() == wanted:
                return candidate
        return None

    def defaults(self) -> dict[str, str]:
        """Return ``{field name: default key}`` for every field that has a default."""
        return {f.name: f.default_key for f in self.fields if f.default_key is not None}

    def outputs_for(self, chosen: Mapping[str, str]) -> dict[str, str]:
        """Return ``{stem slug: type label}`` this algorithm produces for the chosen options.

        ``chosen`` maps field names (``add_opt1``) to keys; missing fields take their defaults.
        The base ``outputs`` are refined by a matching observed variant, then by the fields'
        ``output_overrides`` ("set" replaces, "add" extends).
        """
        options = {**self.defaults(), **{k: v for k, v in chosen.items() if v != ""}}
        by_server_key = {
            f.server_key: options[f.name]
            for f in self.fields
            if f.server_key is not None and f.name in options
        }
        outputs = dict(self.outputs)
        for variant in self.output_variants:
            if all(by_server_key.get(key) == value for key, value in variant.match.items()):
                outputs = dict(variant.outputs)
                break
        for option_field in self.fields:
            override = option_field.output_overrides.get(options.get(option_field.name, ""))
            if override is None:
                continue
            if override.mode == "set":
                outputs = dict(override.outputs)
            else:
                outputs.update(override.outputs)
        return outputs
