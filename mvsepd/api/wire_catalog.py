"""``GET /app/algorithms`` read into ``Algorithm`` models; part of the wire layer.

The answer is a bare array. ``options``, ``output_stems``, ``outputs``, ``output_variants`` and
``output_overrides`` are JSON encoded inside strings; ``options`` keys stay strings in the
server's order. Prices (``price_coefficient``, ``price_rules[].value``) may be strings. The 2024
catalog lacks the newer keys (``audio_widget``, ``input_type``, ...), which take defaults.
An element without a usable ``id``, ``render_id`` or ``name`` is skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mvsepd.api.wire_errors import decode_answer
from mvsepd.api.wire_values import (
    as_bool,
    as_dict,
    as_float,
    as_int,
    as_list,
    as_str,
    as_str_map,
    as_str_tuple,
    as_text,
    decode_json_text,
    is_list_like,
)
from mvsepd.errors import ProtocolError
from mvsepd.models import (
    Algorithm,
    AlgorithmField,
    AlgorithmScope,
    FieldCondition,
    InputType,
    OutputOverride,
    OutputVariant,
    PriceRule,
)

_SCOPES = {scope.value: scope for scope in AlgorithmScope}
_INPUT_TYPES = {kind.value: kind for kind in InputType}


def parse_algorithms(
    endpoint: str, status: int, headers: Mapping[str, str], body: bytes
) -> list[Algorithm]:
    """Given an ``/app/algorithms`` answer, return the algorithms in the server's order.

    Raise ProtocolError if the answer is not an array (or ``{data: [...]}``).
    """
    payload = decode_answer(endpoint, status, headers, body)
    if (
        isinstance(payload, dict)
        and is_list_like(payload.get("data"))
        and not is_list_like(payload)
    ):
        payload = payload["data"]
    if not is_list_like(payload):
        raise ProtocolError("expected an array of algorithms", endpoint=endpoint, status=status)
    algorithms = []
    for item in as_list(payload):
        algorithm = _algorithm(item)
        if algorithm is not None:
            algorithms.append(algorithm)
    return algorithms


def _algorithm(item: object) -> Algorithm | None:
    if not isinstance(item, dict):
        return None
    algorithm_id = as_int(item.get("id"))
    render_id = as_int(item.get("render_id"))
    name = as_text(item.get("name"))
    if algorithm_id is None or render_id is None or name is None:
        return None
    upload_disabled = as_bool(item.get("audio_upload_disabled")) or False
    widget = _SCOPES.get((as_str(item.get("audio_widget")) or "").strip().lower())
    if widget is None:
        widget = AlgorithmScope.NO_UPLOAD if upload_disabled else AlgorithmScope.SINGLE_UPLOAD
    price = as_float(item.get("price_coefficient"))
    variants, variant_keys = _variants(item.get("output_variants"))
    rating_average, rating_count = _rating(item.get("rating"))
    return Algorithm(
        id=algorithm_id,
        render_id=render_id,
        name=name,
        group_id=as_int(item.get("algorithm_group_id")),
        group_name=as_text(as_dict(item.get("algorithm_group")).get("name")),
        orientation=as_int(item.get("orientation")),
        order_id=as_int(item.get("order_id")),
        price_coefficient=price if price is not None and price >= 0 else 1.0,
        is_active=as_bool(item.get("is_active")) is not False,
        audio_upload_disabled=upload_disabled,
        audio_widget=widget,
        output_stems=as_str_tuple(item.get("output_stems")),
        outputs=as_str_map(decode_json_text(item.get("outputs"))),
        fields=tuple(
            f for f in (_field(raw) for raw in as_list(item.get("algorithm_fields"))) if f
        ),
        output_variants=variants,
        variant_keys=variant_keys,
        usage=as_int(item.get("usage")),
        rating_average=rating_average,
        rating_count=rating_count,
    )


def _field(item: object) -> AlgorithmField | None:
    if not isinstance(item, dict):
        return None
    field_id = as_int(item.get("id"))
    name = as_text(item.get("name"))
    if field_id is None or name is None:
        return None
    options = as_str_map(decode_json_text(item.get("options")))
    input_type = _INPUT_TYPES.get((as_str(item.get("input_type")) or "").strip().lower())
    if input_type is None:
        input_type = InputType.SELECT if options else InputType.TEXT
    return AlgorithmField(
        id=field_id,
        name=name.strip(),
        text=as_str(item.get("text")) or name,
        options=options,
        default_key=as_str(item.get("default_key")),
        server_key=as_text(item.get("server_key")),
        input_type=input_type,
        required=as_bool(item.get("required")) or False,
        registered_only_keys=as_str_tuple(item.get("registered_only_keys")),
        price_rules=tuple(
            r for r in (_price_rule(raw) for raw in as_list(item.get("price_rules"))) if r
        ),
        conditions=tuple(
            c for c in (_condition(raw) for raw in as_list(item.get("conditions"))) if c
        ),
        output_overrides=_overrides(item.get("output_overrides")),
    )


def _price_rule(item: object) -> PriceRule | None:
    if not isinstance(item, dict):
        return None
    key = as_str(item.get("option_key"))
    value = as_float(item.get("value"))
    if key is None or value is None:
        return None
    return PriceRule(
        option_key=key, mode=(as_str(item.get("mode")) or "multiplier").strip(), value=value
    )


def _condition(item: object) -> FieldCondition | None:
    if not isinstance(item, dict):
        return None
    depends_on = as_int(item.get("depends_on_field_id"))
    if depends_on is None:
        return None
    values = item.get("value_json", item.get("values"))
    if isinstance(values, str):
        decoded = decode_json_text(values)
        values = decoded if isinstance(decoded, (list, dict)) else [values]
    elif not isinstance(values, (list, dict)):
        values = [] if values is None else [values]
    return FieldCondition(
        depends_on_field_id=depends_on,
        operator=(as_str(item.get("operator")) or "in").strip(),
        values=as_str_tuple(values),
        action=(as_str(item.get("action")) or "show").strip(),
    )


def _overrides(value: object) -> dict[str, OutputOverride]:
    overrides: dict[str, OutputOverride] = {}
    for key, raw in as_dict(decode_json_text(value)).items():
        entry = as_dict(raw)
        outputs = as_str_map(decode_json_text(entry.get("outputs")))
        mode = (as_str(entry.get("mode")) or "set").strip().lower()
        if outputs:
            overrides[key] = OutputOverride(mode=mode, outputs=outputs)
    return overrides


def _variants(value: object) -> tuple[tuple[OutputVariant, ...], tuple[str, ...]]:
    decoded: Any = decode_json_text(value)
    root = as_dict(decoded)
    raw_variants = as_list(root.get("variants")) if root else as_list(decoded)
    variants = []
    for raw in raw_variants:
        entry = as_dict(raw)
        match = as_str_map(entry.get("match"))
        outputs = as_str_map(decode_json_text(entry.get("outputs")))
        if match and outputs:
            variants.append(OutputVariant(match=match, outputs=outputs))
    return tuple(variants), as_str_tuple(root.get("keys"))


def _rating(value: object) -> tuple[float | None, int | None]:
    """``{"average": "4.2500", "total": 24}`` [REC]; nobody rated it: ``{"average": 0,
    "total": 0}``, said as no rating."""
    rating = as_dict(value)
    count = as_int(rating.get("total"))
    average = as_float(rating.get("average"))
    if not count or average is None or average <= 0:
        return None, count if count else None
    return average, count
