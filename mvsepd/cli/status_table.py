"""How ``mvsepd status`` and ``mvsepd jobs`` look: a few lines and a compact rich table, drawn
from the status API's JSON (so they show exactly what the tray and scripts see)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

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


def duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``2 h 5 min``, ``3 d 4 h``."""
    whole = int(max(0, seconds))
    if whole < 60:
        return f"{whole} s"
    minutes, _ = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def status_lines(picture: Mapping[str, Any]) -> list[Text]:
    """The lines above the table: daemon, account, folders, counts."""
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
    for folder in picture.get("folders", []):
        watch = str(folder.get("watch", "?"))
        style = "" if watch in ("watching", "polling") else "bold red"
        line = Text(f"{watch} ", style=style)
        line.append(f"{folder.get('path')} -> {folder.get('output_root')}")
        line.append(f" (preset {folder.get('preset')})", style="dim")
        if style:
            line.append(f": {folder.get('detail', '')}", style=style)
        lines.append(line)
    arriving = picture.get("arriving", [])
    if arriving:
        lines.append(Text(f"{len(arriving)} file(s) arriving (waiting until fully written)"))
    lines.append(Text(_counts_line(picture), style="dim"))
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
    if phases.count("failed"):
        parts.append(f"{phases.count('failed')} failed (mvsepd retry JOB)")
    if phases.count("unpublished"):
        count = phases.count("unpublished")
        parts.append(f"{count} not published by MVSEP (mvsepd retry JOB: no upload, no credits)")
    return " · ".join(parts)


def jobs_table(jobs: Iterable[Mapping[str, Any]], *, wide: bool) -> Table:
    """One row per job; ``wide`` adds the folder, the output folder and the estimate."""
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    table.add_column("job", justify="right")
    table.add_column("file", overflow="fold")
    table.add_column("preset")
    jobs = list(jobs)
    studio = any(job.get("host") for job in jobs)
    if studio:
        table.add_column("host")
    table.add_column("state", overflow="fold")
    if wide:
        table.add_column("credits", justify="right")
        table.add_column("folder", overflow="fold")
        table.add_column("output", overflow="fold")
    for job in jobs:
        phase = str(job.get("phase", ""))
        summary = Text(
            str(job.get("summary") or job.get("state")), style=_PHASE_STYLES.get(phase, "")
        )
        row: list[str | Text] = [
            str(job.get("id", "")),
            str(job.get("relative_path") or job.get("file", "")),
            str(job.get("preset", "")),
            *([str(job.get("host") or "")] if studio else []),
            summary,
        ]
        if wide:
            estimate = job.get("credits_estimate")
            output = job.get("output_dir")
            row.extend(
                [
                    "" if estimate is None else str(estimate),
                    str(job.get("folder", "")),
                    Path(str(output)).name if output else "",
                ]
            )
        table.add_row(*row)
    return table
