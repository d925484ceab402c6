"""Measure some of RESULTS.md's sections again and put them in place of the old ones.

    python -m benchmarks.sections link requests [--official-client PATH] [--link-figures JSON]

``python -m benchmarks.run`` measures everything (well over an hour on two cores); a change
that touches one part is measured again here, part by part: ``link`` (time to stems on the
shaped link, its floor, the phases and the loopback row; about 40 minutes) and ``requests``
(the requests of a job that waits 10 minutes and of one MVSEP processes for 10). The other
sections stay as they were, and the header says which sections come from which run, so no
figure is shown as newer than it is.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks import daemon_figures, report_link, run

#: The headings of the sections each part replaces.
PARTS: dict[str, tuple[str, ...]] = {
    "link": ("## Time to stems",),
    "requests": ("## HTTP requests for a job that waits 10 minutes",),
}


def replace_sections(text: str, headings: Sequence[str], lines: list[str]) -> str:
    """``text`` with the sections whose heading starts with one of ``headings`` (each up to
    the next ``## ``) replaced, in place of the first of them, by ``lines``."""
    sections = re.split(r"(?m)^(?=## )", text)
    kept: list[str] = []
    placed = False
    for section in sections:
        if section.startswith(tuple(headings)):
            if not placed:
                kept.append("\n".join(lines).strip("\n") + "\n\n")
                placed = True
            continue
        kept.append(section)
    if not placed:
        kept.append("\n".join(lines).strip("\n") + "\n")
    return "".join(kept)


def _measure(part: str, arguments: argparse.Namespace) -> list[str]:
    if part == "link":
        figures = run.link_figures(
            False, arguments.official_client, arguments.link_figures, arguments.before
        )
        if arguments.json is not None:
            arguments.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
        return report_link.time_to_stems(figures)
    requests = run.requests_figures(arguments.before)
    processed = daemon_figures.requests_per_processing_job()
    return run.requests_section(requests, processed)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("parts", nargs="+", choices=sorted(PARTS))
    parser.add_argument("--output", type=Path, default=run.ROOT / "benchmarks" / "RESULTS.md")
    parser.add_argument("--before", default=run.BEFORE_LINK_WORK, metavar="REV")
    parser.add_argument("--official-client", type=Path, default=None, metavar="PATH")
    parser.add_argument("--link-figures", type=Path, default=None, metavar="JSON")
    parser.add_argument("--json", type=Path, default=None, help="write the link figures here")
    arguments = parser.parse_args(argv)
    text = arguments.output.read_text(encoding="utf-8")
    drawn: dict[str, list[str]] = {}
    for part in arguments.parts:
        drawn[part] = _measure(part, arguments)
    for part, lines in drawn.items():
        text = replace_sections(text, PARTS[part], lines)
    run_line = run.header()[0].removeprefix("- Run: ")
    note = f"- Sections measured again ({', '.join(arguments.parts)}): {run_line}"
    text = _with_note(text, note)
    arguments.output.write_text(text, encoding="utf-8")
    for lines in drawn.values():
        print("\n".join(lines))
    return 0


def _with_note(text: str, note: str) -> str:
    """The header's lines, then ``note`` (after the header's ``- `` lines)."""
    head, _, rest = text.partition("\n\n## ")
    return f"{head}\n{note}\n\n## {rest}" if rest else f"{text}\n{note}\n"


if __name__ == "__main__":
    sys.exit(main())
