"""Carrying a rewritten configuration back into the user's own text as the smallest change.

ruamel.yaml's round trip keeps comments and order, but its writer normalises a few things it
reads (a flow list spread over several lines comes back on one). Writing its whole output
would show those as changes the user never made. So the change is found by comparing two of
ruamel's outputs, the file as read and the file as edited, and only the lines that differ
there are replaced in the user's text; wherever a changed line falls inside something ruamel
normalised, that whole piece is taken from the edited output. A result that would not read
back as the edited document is never returned: the edited output as a whole is, instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from difflib import SequenceMatcher

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

Opcode = tuple[str, int, int, int, int]
Span = tuple[int, int]


def minimal_change(original: str, normalised: str, edited: str) -> str:
    """Return ``original`` with the change from ``normalised`` to ``edited`` applied.

    ``normalised`` is ruamel's output for ``original`` unchanged; ``edited`` its output after
    the edit. Lines that did not change keep the user's own formatting.
    """
    mine = original.splitlines(keepends=True)
    before = normalised.splitlines(keepends=True)
    after = edited.splitlines(keepends=True)
    read = SequenceMatcher(None, mine, before, autojunk=False).get_opcodes()
    edit = SequenceMatcher(None, before, after, autojunk=False).get_opcodes()
    changes = [(first, last) for tag, first, last, _, _ in edit if tag != "equal"]
    if not changes:
        return original
    # Normalised pieces: where the user's lines and ruamel's differ although nothing changed.
    rewritten = [(first, last) for tag, _, _, first, last in read if tag != "equal"]
    regions = _grown(changes, rewritten + changes)
    pieces: list[str] = []
    done = 0
    for start, end in regions:
        mine_start = _position(read, start, side="b", lowest=True)
        mine_end = _position(read, end, side="b", lowest=False)
        after_start = _position(edit, start, side="a", lowest=True)
        after_end = _position(edit, end, side="a", lowest=False)
        pieces.extend(mine[done:mine_start])
        pieces.extend(after[after_start:after_end])
        done = mine_end
    pieces.extend(mine[done:])
    result = "".join(pieces)
    return result if _same_document(result, edited) else edited


def _grown(changes: Sequence[Span], blocks: Sequence[Span]) -> list[Span]:
    """The changed spans (of ruamel's lines as read), merged where they touch and grown until
    none ends inside a block (a normalised piece or another change)."""
    regions = sorted(changes)
    while True:
        merged: list[Span] = []
        for start, end in regions:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        grown = [_cover(region, blocks) for region in merged]
        if grown == merged:
            return merged
        regions = grown


def _cover(region: Span, blocks: Sequence[Span]) -> Span:
    start, end = region
    for first, last in blocks:
        overlapping = first < end and start < last
        inside = start == end and first < start < last
        if overlapping or inside:
            start, end = min(start, first), max(end, last)
    return start, end


def _position(opcodes: Sequence[Opcode], at: int, *, side: str, lowest: bool) -> int:
    """Where position ``at`` of one sequence (``side`` "a" or "b" of the opcodes) falls in the
    other: the lowest or highest of the places it may stand for (a boundary next to an
    insertion stands for both its ends)."""
    found: list[int] = []
    for tag, a_first, a_last, b_first, b_last in opcodes:
        first, last, other_first, other_last = (
            (a_first, a_last, b_first, b_last)
            if side == "a"
            else (b_first, b_last, a_first, a_last)
        )
        if tag == "equal" and first <= at <= last:
            found.append(other_first + at - first)
        elif at == first:
            found.append(other_first)
        elif at == last:
            found.append(other_last)
    return min(found) if lowest else max(found)


def _same_document(one: str, other: str) -> bool:
    reader = YAML(typ="safe", pure=True)
    try:
        return bool(reader.load(one) == reader.load(other))
    except YAMLError:
        return False
