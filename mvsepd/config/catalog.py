"""A configuration checked against MVSEP's algorithm catalog: every preset and chain resolved,
each problem with its line in the file (what ``mvsepd config check`` and the daemon's live
reload both ask before a configuration is used)."""

from __future__ import annotations

from collections.abc import Sequence

from mvsepd.config.file import Inspection
from mvsepd.domain.chains import plan_chain
from mvsepd.domain.presets import InputKind, PresetProblem, resolve
from mvsepd.errors import ConfigProblem
from mvsepd.models import Algorithm


def catalog_problems(
    inspection: Inspection, catalog: Sequence[Algorithm] | None
) -> tuple[list[ConfigProblem], list[str]]:
    """The problems of every preset and chain against ``catalog`` (None: checked without it,
    numeric ids only), and advice about chains (two steps MVSEP could do as one job). A chain
    whose preset has problems of its own waits until they are fixed."""
    readable = inspection.readable
    if readable is None:
        return [], []
    problems: list[ConfigProblem] = []
    advice: list[str] = []
    config = readable.config
    specs = config.preset_specs()
    for name, preset in specs.items():
        try:
            resolve(preset, catalog, kinds=frozenset(InputKind), text_from_file=True)
        except PresetProblem as problem:
            where = inspection.positions.line_for(("presets", name, *problem.key))
            problems.append(ConfigProblem(f"presets.{name}.{problem}", where))
    for name, chain in config.chains.items():
        if any(step.preset in readable.unreadable for step in chain.steps):
            continue
        try:
            plan = plan_chain(name, chain, specs, catalog)
        except PresetProblem as problem:
            where = inspection.positions.line_for(problem.key or ("chains", name))
            problems.append(ConfigProblem(str(problem), where))
            continue
        advice.extend(plan.advice)
    return problems, advice
