"""How ``mvsepd status`` and ``mvsepd jobs`` look: a few lines and a compact rich table, drawn
from the status API's JSON (so they show exactly what the tray and scripts see)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

from mvsepd.paths import elided, shown
from mvsepd.statusapi.words import duration

_PHASE_STYLES = {
    "waiting": "cyan",
    "queued": "cyan",
    "checking": "cyan",
    "uploading": "blue",
    "processing": "blue",
    "publishing": "blue",
    "downloading": "green",
    "done": "green",
    "failed": "bold red",
    "cancelled": "dim",
    "unpublished": "bold yellow",
}


#: Files named on one line before "and N more" (``--verbose`` names them all).
FEW_NAMES = 3


def status_lines(
    picture: Mapping[str, Any], width: int = 200, *, verbose: bool = False
) -> list[Text]:
    """The lines above the table: daemon, account, folders (with where their stems go and the
    files each skipped as there before its first watch), files arriving or incomplete, counts
    (folder lines fit ``width`` with their paths shortened, never broken mid-word)."""
    daemon = picture.get("daemon", {})
    account = picture.get("account", {})
    lines: list[Text] = []
    head = Text(f"mvsepd {daemon.get('version', '?')} ", style="bold")
    head.append(
        f"running for {duration(float(daemon.get('uptime_seconds', 0)))} "
        f"(pid {daemon.get('pid', '?')}), MVSEP at {daemon.get('server', '?')}",
        style="",
    )
    studio = picture.get("studio")
    if daemon.get("paused"):
        where = " for the whole studio" if studio else ""
        head.append(f" · submissions paused{where} (mvsepd resume)", style="bold yellow")
    lines.append(head)
    if studio:
        lines.append(_studio_line(studio))
    lines.append(_account_line(account))
    lines.extend(_refused_config_lines(picture.get("config")))
    for folder in picture.get("folders", []):
        watch = str(folder.get("watch", "?"))
        style = {"watching": "", "polling": "", "paused": "yellow"}.get(watch, "bold red")
        line = Text(f"{watch} ", style=style)
        preset = f" (preset {folder.get('preset')})"
        line.append(shown(str(folder.get("path")), width - len(line) - len(preset)))
        line.append(preset, style="dim")
        if style:
            line.append(f": {folder.get('detail', '')}", style=style)
        lines.append(line)
        into = "  stems go to "
        lines.append(Text(into + shown(str(folder.get("output_root")), width - len(into))))
        for needs in folder.get("needs_premium") or ():
            lines.append(
                Text(
                    f"  {needs}; this account uses the free plan: its files wait here until "
                    "premium usage is on at mvsep.com",
                    style="yellow",
                )
            )
        skipped = folder.get("skipped_existing")
        if skipped:
            lines.extend(_skipped_lines(skipped, verbose=verbose))
    lines.extend(_arrival_lines(picture, verbose=verbose))
    lines.append(Text(_counts_line(picture), style="dim"))
    return lines


def _names(names: list[str], count: int, *, verbose: bool) -> str:
    """``a.wav, b.wav, c.wav and 4 more`` (every name when ``verbose``)."""
    listed = names if verbose else names[:FEW_NAMES]
    text = ", ".join(listed)
    if count > len(listed):
        text += f" and {count - len(listed)} more"
    return text


def _skipped_lines(skipped: Mapping[str, Any], *, verbose: bool) -> list[Text]:
    """A folder's files skipped as there before its first watch: the words, the command on a
    line of its own (never wrapped, so it can be copied whole), a few names."""
    count = int(skipped.get("count", 0))
    names = [str(name) for name in skipped.get("files", [])]
    message = str(skipped.get("message", ""))
    command = str(skipped.get("command", ""))
    words = message.removesuffix(f"`{command}`").rstrip()
    lines = [Text(f"  {words}", style="yellow")]
    if words != message:
        lines.append(Text(f"    {command}", style="bold", no_wrap=True, overflow="ignore"))
    if names:
        lines.append(Text(f"  ({_names(names, count, verbose=verbose)})", style="dim"))
    return lines


def _arrival_lines(picture: Mapping[str, Any], *, verbose: bool) -> list[Text]:
    """Files arriving (named, with how long each waited) and each file reported incomplete."""
    if "arrivals" not in picture:  # a daemon from before files were named
        count = len(picture.get("arriving", []))
        return [Text(f"{count} file(s) arriving (waiting until fully written)")] if count else []
    arrivals = list(picture.get("arrivals", []))
    lines = [
        Text(str(item.get("summary", "")), style="bold yellow")
        for item in arrivals
        if item.get("state") == "incomplete"
    ]
    arriving = [item for item in arrivals if item.get("state") != "incomplete"]
    if arriving:
        named = [
            f"{item.get('relative_path')} ({duration(float(item.get('waiting_seconds', 0)))})"
            for item in arriving
        ]
        files = "1 file" if len(arriving) == 1 else f"{len(arriving)} files"
        lines.append(
            Text(
                f"{files} arriving (waiting until fully written): "
                + _names(named, len(named), verbose=verbose)
            )
        )
    return lines


def _studio_line(studio: Mapping[str, Any]) -> Text:
    """``studio host room-1 · 3 hosts: room-1, room-2, room-3 (silent 45 s)``."""
    line = Text(f"studio host {studio.get('host')}")
    if studio.get("outage"):
        line.append(
            f" · studio database unreachable ({studio['outage']}); watching goes on, new "
            "uploads wait",
            style="bold red",
        )
        return line
    hosts = studio.get("hosts", [])
    named = []
    for host in hosts:
        if host.get("stopped"):
            named.append(f"{host['id']} (stopped)")
        elif not host.get("alive"):
            named.append(f"{host['id']} (silent {duration(float(host['quiet_seconds']))})")
        else:
            named.append(str(host["id"]))
    line.append(f" · {len(hosts)} host(s): {', '.join(named)}", style="dim")
    return line


def _refused_config_lines(config: Mapping[str, Any] | None) -> list[Text]:
    """A change of the configuration file that was refused: the file, each problem."""
    if not config or config.get("in_force", True):
        return []
    lines = [
        Text(
            f"configuration refused: {config.get('path')} (the one in force stays; fix it and "
            "save again)",
            style="bold red",
        )
    ]
    for problem in config.get("refused", []):
        line = problem.get("line")
        lines.append(Text(f"  {f'line {line}: ' if line else ''}{problem.get('text')}"))
    return lines


def _account_line(account: Mapping[str, Any]) -> Text:
    if account.get("plan") is None:
        line = Text("account: not checked yet")
    else:
        credits = account.get("credits")
        line = Text(f"account {account.get('name') or '?'}: {account.get('plan')} plan")
        if credits is not None:
            line.append(f", {credits} credits")
    if account.get("token_valid", True):
        line.append(" · API token OK", style="green")
    else:
        problem = account.get("token_problem") or "refused"
        line.append(f" · API token REFUSED ({problem}); run `mvsepd login`", style="bold red")
    return line


def _counts_line(picture: Mapping[str, Any]) -> str:
    phases = [str(job.get("phase")) for job in picture.get("jobs", [])]
    waiting = phases.count("waiting") + phases.count("queued")
    busy = sum(phases.count(name) for name in ("checking", "uploading", "processing", "publishing"))
    parts = [
        f"{waiting} waiting",
        f"{busy} processing",
        f"{phases.count('downloading')} downloading",
        f"{int(picture.get('done_today', 0))} done today",
    ]
    failed = [job for job in picture.get("jobs", []) if job.get("phase") == "failed"]
    again = sum(1 for job in failed if job.get("retry_offered"))
    if again:
        parts.append(f"{again} failed (try again: mvsepd retry JOB)")
    for kind, needs in (("file", "fix the file"), ("settings", "fix the settings")):
        count = sum(1 for job in failed if job.get("failure_kind") == kind)
        if count:
            parts.append(f"{count} failed ({needs}: see mvsepd jobs)")
    if phases.count("unpublished"):
        count = phases.count("unpublished")
        parts.append(f"{count} not published by MVSEP (mvsepd retry JOB: no upload, no credits)")
    return " · ".join(parts)


#: Columns between cells: rich pads each cell with one space on either side.
_GAP = 2


def fit_widths(natural: list[int], room: int, weights: list[float] | None = None) -> list[int]:
    """Share ``room`` characters among columns that would like ``natural`` widths: narrow
    columns get what they need, the wide ones split the rest by ``weights``."""
    weights = weights or [1.0] * len(natural)
    widths = [0] * len(natural)
    left = max(room, len(natural))
    open_columns = sorted(range(len(natural)), key=lambda index: natural[index])
    while open_columns:
        total = sum(weights[index] for index in open_columns)
        # A column that needs less than its share gets what it needs; the rest share again.
        fits = [i for i in open_columns if natural[i] <= left * weights[i] / total]
        if not fits:
            for index in open_columns:
                widths[index] = max(1, int(left * weights[index] / total))
            break
        for index in fits:
            widths[index] = natural[index]
            left -= natural[index]
            open_columns.remove(index)
    return widths


#: How much of the room each flexible column of the jobs table gets when space is short.
_WEIGHTS = {"file": 3.0, "state": 2.0, "folder": 2.0, "output": 1.5}


def jobs_table(jobs: Iterable[Mapping[str, Any]], *, wide: bool, width: int = 200) -> Table:
    """One row per job; ``wide`` adds the folder, the output folder and the estimate.

    The table fits ``width`` columns without breaking a word: paths lose their middle folders
    (``~/Music/…/Vocals``), a name too long on its own its middle, and the state wraps
    between words.
    """
    jobs = list(jobs)
    studio = any(job.get("host") for job in jobs)
    headers = ["job", "file", "preset", *(["host"] if studio else []), "state"]
    if wide:
        headers += ["credits", "folder", "output"]
    rows: list[dict[str, str]] = []
    for job in jobs:
        estimate = job.get("credits_estimate")
        output = job.get("output_dir")
        rows.append(
            {
                "job": str(job.get("id", "")),
                "file": str(job.get("relative_path") or job.get("file", "")),
                "preset": str(job.get("preset", "")),
                "host": str(job.get("host") or ""),
                "state": str(job.get("summary") or job.get("state")),
                "credits": "" if estimate is None else str(estimate),
                "folder": shown(str(job.get("folder", ""))),
                "output": Path(str(output)).name if output else "",
            }
        )
    natural = {
        header: max([len(header), *(len(row[header]) for row in rows)]) for header in headers
    }
    flexible = [header for header in headers if header in ("file", "state", "folder", "output")]
    fixed = sum(natural[header] for header in headers if header not in flexible)
    room = width - fixed - _GAP * (len(headers) - 1)
    shares = fit_widths([natural[h] for h in flexible], room, [_WEIGHTS[h] for h in flexible])
    widths = dict(zip(flexible, shares, strict=True))
    widths.update({header: natural[header] for header in headers if header not in flexible})
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for header in headers:
        # Cells wrap between words only: a word longer than its column loses its middle.
        table.add_column(
            header,
            justify="right" if header in ("job", "credits") else "left",
            width=widths[header],
            overflow="ellipsis",
        )
    for job, row in zip(jobs, rows, strict=True):
        style = _PHASE_STYLES.get(str(job.get("phase", "")), "")
        cells: list[str | Text] = []
        for header in headers:
            text = row[header]
            if header in ("file", "folder"):
                text = shown(text, widths[header])
            text = " ".join(elided(word, widths[header]) for word in text.split(" "))
            cells.append(Text(text, style=style) if header == "state" else text)
        table.add_row(*cells)
    return table
