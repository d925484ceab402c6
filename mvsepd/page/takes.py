"""A take's page: the source and everything made from it (each preset of a fan-out, each step
of a chain), the manifest's facts about each, and what the player (``static/player.js``) needs
to fetch: every track's address, never a path.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from mvsepd.errors import NotServedError
from mvsepd.page.visit import Visit


def take_page(visit: Visit, take_id: int) -> Response:
    """The take's page: the source, each result with its stems, the player."""
    view = visit.host.takes
    try:
        source = view.source(take_id)
        results = view.results(take_id)
    except NotServedError as error:
        return visit.render("missing.html", status=404, what=str(error))
    for result in results:
        result["title"] = result_title(result)
        result["facts"] = result_facts(result)
    placed = [result for result in results if result["placed"] and result["stems"]]
    return visit.render(
        "take.html",
        take=take_id,
        source=source,
        results=results,
        placed=placed,
        waiting=[result for result in results if not result["placed"]],
        credits_total=sum(result["credits"] or 0 for result in results),
        player=player_data(take_id, source, placed),
    )


def result_title(result: dict[str, Any]) -> str:
    """How a result is named: its preset, or its chain and step."""
    if result.get("chain"):
        return f"{result['chain']} · step {result['step']}"
    return str(result.get("preset") or f"job {result['job']}")


def result_facts(result: dict[str, Any]) -> list[tuple[str, str]]:
    """The manifest's facts about one result, in words, for the list beside the player."""
    facts: list[tuple[str, str]] = [("Job", str(result["job"])), ("State", result["state"])]
    if result.get("algorithm"):
        facts.append(("Model", str(result["algorithm"])))
    if result.get("from_stem"):
        facts.append(("Made from", f"the {result['from_stem']} stem of the step before"))
    if result.get("credits") is not None:
        facts.append(("Credits", str(result["credits"])))
    if result.get("null_db") is not None:
        facts.append(("Null test", f"{float(result['null_db']):.1f} dB (stems summed vs source)"))
    if result.get("lag_samples") is not None:
        facts.append(("Lag", f"{result['lag_samples']} samples (corrected)"))
    upload = result.get("upload")
    if upload:
        facts.append(("Uploaded", str(upload)))
    sent = next((stem["mvsep_sent"] for stem in result["stems"] if stem.get("mvsep_sent")), None)
    if sent:
        facts.append(
            (
                "MVSEP sent",
                f"{sent.get('container') or '?'} {sent.get('subtype') or ''}, "
                f"{sent.get('rate') or '?'} Hz, {sent.get('channels') or '?'} channels",
            )
        )
    for name, when in (result.get("timings") or {}).items():
        if when:
            facts.append((str(name).replace("_", " ").capitalize(), str(when)))
    return facts


def player_data(
    take_id: int, source: dict[str, Any], placed: list[dict[str, Any]]
) -> dict[str, Any]:
    """What the page's player fetches: the source's and every stem's address, by result."""
    base = f"/takes/{take_id}"
    lengths = [source.get("seconds") or 0.0] + [
        stem["frames"] / stem["rate"]
        for result in placed
        for stem in result["stems"]
        if stem.get("frames") and stem.get("rate")
    ]
    return {
        "take": take_id,
        "rate": source.get("rate"),
        "seconds": max(lengths),
        "source": (
            {"url": f"{base}/source", "name": source["name"]} if source.get("playable") else None
        ),
        "results": [
            {
                "job": result["job"],
                "title": result["title"],
                "stems": [
                    {
                        "index": stem["index"],
                        "label": stem["label"],
                        "name": stem["name"],
                        "rate": stem["rate"],
                        "url": f"{base}/jobs/{result['job']}/stems/{stem['index']}",
                    }
                    for stem in result["stems"]
                ],
            }
            for result in placed
        ],
    }
