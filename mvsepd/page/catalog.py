"""The Models page: MVSEP's whole catalog (every scope), searchable by name, stem and group,
sorted by MVSEP's usage, with its rating; one model's options as labelled choices, what it
costs this account, what the leaderboard measured, what the plan allows; and "Use for a
folder", which adds a preset (and may give it to a folder).

Costs are ``mvsepd.domain.cost``'s (MVSEP's formula, whole credits, at least one a job); only
an account that spends credits (premium usage on, credits left) pays them. Premium-only marks
are ``account.plans``' rules, said for a free account only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Response

from mvsepd.domain.cost import estimate_credits
from mvsepd.engine.leaderboard import Measurement
from mvsepd.errors import ConfigProblem
from mvsepd.models import Algorithm, AlgorithmScope, OutputFormat
from mvsepd.page import saving
from mvsepd.page.host import PageHost
from mvsepd.page.visit import Visit
from mvsepd.paths import absolute

if TYPE_CHECKING:
    from mvsepd.config.write import ConfigEdit

_SCOPE_WORDS = {
    AlgorithmScope.SINGLE_UPLOAD: "",
    AlgorithmScope.NO_UPLOAD: "no upload (made from a text)",
    AlgorithmScope.MATCHERING_UPLOAD: "two files (matchering)",
}
#: How many of a dataset's entries a model's page lists.
PER_DATASET_SHOWN = 3


@dataclass(frozen=True)
class ModelRow:
    """One model in the list."""

    algorithm: Algorithm
    stems: tuple[str, ...]
    premium_only: bool
    scope: str

    @property
    def search_text(self) -> str:
        algorithm = self.algorithm
        return " ".join(
            [algorithm.name, algorithm.group_name or "", *self.stems, str(algorithm.render_id)]
        ).casefold()


def stems_of(algorithm: Algorithm) -> tuple[str, ...]:
    """What a model gives, in MVSEP's words (its outputs' labels, else its stem names)."""
    labels = [label for label in algorithm.outputs.values() if label]
    return tuple(
        dict.fromkeys(labels or [stem.replace("_", " ") for stem in algorithm.output_stems])
    )


def rows(host: PageHost) -> list[ModelRow]:
    """Every model of the catalog, most used first."""
    algorithms = host.catalog.algorithms or ()
    premium_only = set(host.config().account.plans.premium_only_orientations)
    listed = [
        ModelRow(
            algorithm,
            stems_of(algorithm),
            algorithm.orientation in premium_only,
            _SCOPE_WORDS.get(algorithm.audio_widget, ""),
        )
        for algorithm in algorithms
        if algorithm.is_active
    ]
    listed.sort(key=lambda row: (-(row.algorithm.usage or 0), row.algorithm.name.casefold()))
    return listed


def matching(listed: Sequence[ModelRow], query: str, group: str = "") -> list[ModelRow]:
    """The rows whose name, group, stems or id hold every word of ``query``, in ``group``."""
    words = query.casefold().split()
    return [
        row
        for row in listed
        if all(word in row.search_text for word in words)
        and (not group or row.algorithm.group_name == group)
    ]


def free_account(host: PageHost) -> bool:
    """True when MVSEP said the account uses the free queue (it spends no credits)."""
    return host.daemon.context.account.is_free()


def page(visit: Visit) -> Response:
    host = visit.host
    listed = rows(host)
    query = visit.request.args.get("q", "").strip()
    group = visit.request.args.get("group", "").strip()
    state = host.catalog.state
    return visit.render(
        "models.html",
        all_rows=listed,
        rows=matching(listed, query, group),
        total=len(listed),
        query=query,
        group=group,
        groups=sorted({row.algorithm.group_name for row in listed if row.algorithm.group_name}),
        catalog_problem=state.last_error if state.algorithms is None else None,
        free=free_account(host),
    )


def _algorithm(host: PageHost, render_id: int) -> Algorithm | None:
    return next((a for a in host.catalog.algorithms or () if a.render_id == render_id), None)


def chosen_options(algorithm: Algorithm, given: Mapping[str, str]) -> dict[str, str]:
    """The option keys chosen (``add_opt1`` -> key), each field's default where none or an
    unknown key was given; free-text fields as typed."""
    chosen: dict[str, str] = {}
    for option in algorithm.fields:
        value = given.get(option.name)
        if option.is_free_text:
            if value:
                chosen[option.name] = value
        elif value is not None and value in option.options:
            chosen[option.name] = value
        elif option.default_key is not None:
            chosen[option.name] = option.default_key
    return chosen


def detail_values(host: PageHost, algorithm: Algorithm, given: Mapping[str, str]) -> dict[str, Any]:
    """Everything the model's page shows for the options and folder chosen."""
    config = host.config()
    plans = config.account.plans
    account = host.daemon.context.account
    options = chosen_options(algorithm, given)
    try:
        output_format = OutputFormat.parse(given.get("output_format") or "wav16")
    except ValueError:
        output_format = OutputFormat.WAV16
    folder_index = _folder_index(given.get("folder"), len(config.folders))
    measurements = host.leaderboard.measurements(algorithm.name)
    user = account.user
    free = account.is_free()
    premium_plan = plans.limits(premium=True)
    free_plan = plans.limits(premium=False)
    return {
        "algorithm": algorithm,
        "stems": stems_of(algorithm),
        "outputs": list(algorithm.outputs_for(options).values()),
        "options": options,
        "output_format": output_format,
        "formats": list(OutputFormat),
        "format_warning": plans.premium_rules().format_warning(output_format) if free else None,
        "premium_needs": plans.premium_rules().needs(algorithm) if free else [],
        "per_minute": estimate_credits(algorithm, options, 60.0).credits,
        "spends": account.spends_credits(),
        "known": user is not None,
        "free": free,
        "plan": plans.limits(premium=not free) if user is not None else None,
        "other_plan": premium_plan if free else None,
        "free_plan": free_plan,
        "premium_plan": premium_plan,
        "folders": [str(folder.path) for folder in config.folders],
        "folder_index": folder_index,
        "last_file": _last_file(host, config.folders, folder_index, algorithm, options),
        "measurements": _by_dataset(measurements.entries),
        "measured_as": measurements.search,
        "measurement_problem": measurements.problem,
        "preset_name": _unused_name(
            _slug(algorithm.name), set(config.presets) | set(config.chains)
        ),
        "scope": _SCOPE_WORDS.get(algorithm.audio_widget, ""),
        "made_from": saving.current_fingerprint(host),
        "editable": host.live_config is not None,
    }


def _folder_index(value: str | None, count: int) -> int | None:
    if value is not None and value.isdigit() and int(value) < count:
        return int(value)
    return 0 if count else None


def _last_file(
    host: PageHost,
    folders: Sequence[Any],
    index: int | None,
    algorithm: Algorithm,
    options: Mapping[str, str],
) -> dict[str, Any] | None:
    """The folder's newest file with a known length, and what it would cost with this model."""
    if index is None:
        return None
    folder = str(absolute(folders[index].path))
    for job in host.daemon.store.recent(500):
        if job.folder_path == folder and job.duration_seconds:
            estimate = estimate_credits(algorithm, options, job.duration_seconds)
            rate = estimate.price_coefficient * estimate.multiplier
            return {
                "file": job.source_name,
                "seconds": job.duration_seconds,
                "credits": estimate.credits,
                "how": f"{job.duration_seconds:.1f} s at {rate:g} credits a minute, at least 1",
            }
    return {"file": None}


def _by_dataset(entries: Sequence[Measurement]) -> list[tuple[str, list[Measurement]]]:
    ordered = sorted(enumerate(entries), key=lambda pair: (pair[1].dataset, pair[0]))
    return [
        (dataset, [entry for _, entry in group][:PER_DATASET_SHOWN])
        for dataset, group in groupby(ordered, key=lambda pair: pair[1].dataset)
    ]


def _slug(name: str) -> str:
    words = re.sub(r"[^a-z0-9]+", "-", name.split(" (")[0].casefold()).strip("-")
    return words or "preset"


def _unused_name(wanted: str, taken: set[str]) -> str:
    if wanted not in taken:
        return wanted
    number = 2
    while f"{wanted}-{number}" in taken:
        number += 1
    return f"{wanted}-{number}"


def detail(visit: Visit, render_id: int) -> Response:
    algorithm = _algorithm(visit.host, render_id)
    if algorithm is None:
        return visit.render("missing.html", status=404, what=f"no model with id {render_id}")
    values = detail_values(visit.host, algorithm, visit.request.args.to_dict())
    return visit.render("model.html", **values, problems=())


def use(visit: Visit, render_id: int) -> Response:
    """Add a preset from the model's page (and give it to a folder when one is chosen)."""
    host = visit.host
    algorithm = _algorithm(host, render_id)
    if algorithm is None:
        return visit.render("missing.html", status=404, what=f"no model with id {render_id}")
    form = visit.form
    given = form.to_dict()
    name = form.get("name", "").strip()
    options = chosen_options(algorithm, given)
    output_format = given.get("output_format") or "wav16"
    folder = form.get("use_in", "")
    preset: dict[str, object] = {"sep_type": algorithm.render_id, "options": options}
    preset["output_format"] = output_format

    def change(edit: ConfigEdit) -> None:
        edit.add_preset(name, preset)
        if folder.isdigit():
            edit.set(("folders", int(folder), "preset"), name)

    if not name:
        saved = saving.Saved(False, (ConfigProblem("name the preset"),))
    else:
        saved = saving.save(host, form.get("made_from"), change)
    if not saved.applied:
        values = detail_values(host, algorithm, given)
        values["preset_name"] = name
        return visit.render("model.html", status=422, **values, problems=saved.problems)
    config = host.config()
    where = (
        f", and {config.folders[int(folder)].path} uses it"
        if folder.isdigit() and int(folder) < len(config.folders)
        else ""
    )
    return visit.redirect("/", f"added preset {name} ({algorithm.name}){where}")
