"""``mvsepd jobs`` and ``mvsepd status`` on an 80-column terminal: long paths lose their middle
folders, long names their middle, and no word is broken at the edge of a column. Real
subprocesses on real pseudo-terminals, against a real daemon and the emulator."""

from __future__ import annotations

from pathlib import Path

from tests.cli.terminal import show
from tests.statusapi.conftest import MakeHarness
from tests.statusapi.harness import wait_until


def _tokens(text: str) -> set[str]:
    return set(text.split())


def test_jobs_and_status_at_80_columns_break_no_word(
    tmp_path: Path, make_harness: MakeHarness
) -> None:
    harness = make_harness(start=False)
    harness.hot = tmp_path / "Music" / "Projects 2026" / "Album sessions" / "Vocal bounces for mix"
    harness.hot.mkdir(parents=True)
    harness.start_daemon()
    names = [
        "Take 3.wav",
        "Final mix for the label (master v12).wav",
        "AVeryLongBounceNameWithoutAnySpacesForTheMastering.wav",
    ]
    for name in names:
        harness.drop(name)
    wait_until(lambda: len(harness.jobs()) == 3, 30, "three jobs")
    before = harness.jobs()
    table = show(["jobs"], columns=80)
    known: set[str] = {"job", "file", "preset", "state", "credits", "folder", "output"}
    # The jobs as they stood before and after the table was drawn (their places may move).
    for job in [*before, *harness.jobs()]:
        for key in ("id", "relative_path", "file", "preset", "summary", "credits_estimate"):
            known |= _tokens(str(job.get(key)))
        known |= _tokens(str(job.get("folder")).replace("/", " "))

    lines = [line.rstrip() for line in table.splitlines() if line.strip()]
    assert all(len(line) <= 80 for line in lines), table
    for token in _tokens(table):
        # Each word is whole, or visibly shortened with "…"; a word cut in two at the edge of
        # a column would be neither.
        assert token in known or "…" in token, f"{token!r} is not a whole word:\n{table}"
    # Each file's cell, its wrapped lines put together, reads as the name it shows.
    start, end = lines[0].index("file"), lines[0].index("preset")
    cells: list[list[str]] = []
    for line in lines[1:]:
        if line[:start].strip():
            cells.append([])
        if line[start:end].strip():
            cells[-1].append(line[start:end].strip())
    files = [" ".join(cell) for cell in cells]
    assert files[:2] == ["Take 3.wav", "Final mix for the label (master v12).wav"], table
    assert files[2].startswith("AVeryLong") and files[2].endswith(".wav") and "…" in files[2]

    picture = show(["status"], columns=80)
    lines = [line.rstrip() for line in picture.splitlines() if line.strip()]
    assert all(len(line) <= 80 for line in lines), picture
    folder_line = next(line for line in lines if line.startswith("watching "))
    assert folder_line.endswith("/Vocal bounces for mix (preset four)"), folder_line
    assert "…" in folder_line
