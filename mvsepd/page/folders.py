"""The Folders page: every hot folder with its live state (watching, files arriving, jobs in
flight, the last stems), its form (add, change), pause, resume and remove, and the controls
that are the engine's own (pause all, retry, cancel, rescan, dismiss).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Response

from mvsepd.config.file import read_yaml_mapping
from mvsepd.errors import ConfigError, InputError, StoreError
from mvsepd.page import folderform, picker, saving
from mvsepd.page.host import PageHost
from mvsepd.page.visit import Visit, as_json
from mvsepd.paths import absolute

if TYPE_CHECKING:
    from mvsepd.config.write import ConfigEdit

_FINISHED = ("done", "failed", "cancelled", "unpublished")


@dataclass
class FolderRow:
    """One hot folder as the page lists it."""

    index: int
    path: str
    presets: tuple[str, ...]
    watch: str
    detail: str
    paused: bool
    output_root: str
    arriving: list[dict[str, Any]] = field(default_factory=list)
    jobs: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    last_stems: dict[str, Any] | None = None
    skipped: dict[str, Any] | None = None


def folder_rows(host: PageHost) -> tuple[list[FolderRow], dict[str, Any]]:
    """Every configured folder with what the daemon knows of it now, and the picture."""
    config = host.config()
    picture = host.status_api.picture.status()
    live = {str(item["path"]): item for item in picture.get("folders", [])}
    jobs = picture.get("jobs", [])
    rows = []
    for index, folder in enumerate(config.folders):
        path = str(absolute(folder.path))
        state = live.get(path)
        if state is not None:
            watch, detail = str(state.get("watch")), str(state.get("detail") or "")
        elif folder.paused:
            watch, detail = "paused", "paused: new files wait there until it is resumed"
        else:
            watch, detail = "not watched yet", "saved; the daemon has not taken it up yet"
        mine = [job for job in jobs if job.get("folder") == path]
        done = [job for job in mine if job.get("phase") == "done" and job.get("output_dir")]
        rows.append(
            FolderRow(
                index=index,
                path=str(folder.path),
                presets=folder.preset_names,
                watch=watch,
                detail=detail,
                paused=folder.paused,
                output_root=str(absolute(folder.output_root())),
                arriving=[
                    item for item in picture.get("arrivals", []) if item.get("folder") == path
                ],
                jobs=[job for job in mine if job.get("phase") not in _FINISHED],
                failed=[
                    job
                    for job in mine
                    if job.get("phase") in ("failed", "unpublished") and not job.get("dismissed")
                ],
                last_stems=max(
                    done, key=lambda job: float(job.get("finished_at") or 0), default=None
                ),
                skipped=state.get("skipped_existing") if state is not None else None,
            )
        )
    return rows, picture


def live_values(host: PageHost) -> dict[str, Any]:
    """What the live part of the Folders page shows (also what ``/live`` sends)."""
    rows, picture = folder_rows(host)
    return {
        "rows": rows,
        "picture": picture,
        "refused": saving.refusal(host),
        "editable": host.live_config is not None,
        "failures": any(row.failed for row in rows),
    }


def page(visit: Visit) -> Response:
    return visit.render("folders.html", **live_values(visit.host))


# --- the form -------------------------------------------------------------------------------


def _raw_folder(host: PageHost, index: int) -> dict[str, Any] | None:
    state = host.config_state()
    if state is None:
        return None
    try:
        folders = read_yaml_mapping(state.text, str(state.path)).get("folders") or []
    except ConfigError:
        return None
    if not isinstance(folders, list) or not 0 <= index < len(folders):
        return None
    folder = folders[index]
    return dict(folder) if isinstance(folder, dict) else None


def _form(
    visit: Visit,
    index: int | None,
    values: dict[str, Any],
    *,
    status: int = 200,
    problems: tuple[Any, ...] = (),
) -> Response:
    host = visit.host
    config = host.config()
    position = index if index is not None else len(config.folders)
    by_field, others = folderform.problems_by_field(problems, position)
    return visit.render(
        "folder_form.html",
        status=status,
        index=index,
        values=values,
        fields=folderform.FIELDS,
        defaults=folderform.defaults_of(config),
        preset_choices=folderform.preset_choices(config),
        field_problems=by_field,
        problems=others,
        refused=saving.refusal(host),
        editable=host.live_config is not None,
        made_from=visit.form.get("made_from") or saving.current_fingerprint(host),
        home=str(Path.home()),
    )


def new_form(visit: Visit) -> Response:
    values = folderform.display_values({"existing_files": "skip"})
    values["path"] = visit.request.args.get("path", "")
    return _form(visit, None, values)


def edit_form(visit: Visit, index: int) -> Response:
    raw = _raw_folder(visit.host, index)
    if raw is None:
        return visit.redirect("/", f"there is no folder {index + 1} (any more)")
    return _form(visit, index, folderform.display_values(raw))


def add(visit: Visit) -> Response:
    values = folderform.posted_values(visit.form)
    mapping = folderform.folder_mapping({}, values)
    saved = saving.save(
        visit.host, visit.form.get("made_from"), lambda edit: edit.add_folder(mapping)
    )
    if not saved.applied:
        return _form(visit, None, values, status=422, problems=saved.problems)
    return visit.redirect("/", f"added {values['path']}")


def change(visit: Visit, index: int) -> Response:
    values = folderform.posted_values(visit.form)
    raw = _raw_folder(visit.host, index)
    if raw is None:
        return visit.redirect("/", f"there is no folder {index + 1} (any more)")
    mapping = folderform.folder_mapping(raw, values)

    def replace(edit: ConfigEdit) -> None:
        edit.replace_folder(index, mapping)

    saved = saving.save(visit.host, visit.form.get("made_from"), replace)
    if not saved.applied:
        return _form(visit, index, values, status=422, problems=saved.problems)
    return visit.redirect("/", f"saved {values['path']}")


def set_paused(visit: Visit, index: int, paused: bool) -> Response:
    def switch(edit: ConfigEdit) -> None:
        if paused:
            edit.set(("folders", index, "paused"), True)
        else:
            edit.remove(("folders", index, "paused"))

    saved = saving.save(visit.host, None, switch)
    if not saved.applied:
        return visit.redirect("/", _refused_words(saved))
    words = "paused: new files wait in the folder" if paused else "resumed: new files are taken"
    return visit.redirect("/", words)


def remove_form(visit: Visit, index: int) -> Response:
    raw = _raw_folder(visit.host, index)
    if raw is None:
        return visit.redirect("/", f"there is no folder {index + 1} (any more)")
    return visit.render(
        "folder_remove.html",
        index=index,
        path=str(raw.get("path", "")),
        made_from=saving.current_fingerprint(visit.host),
    )


def remove(visit: Visit, index: int) -> Response:
    raw = _raw_folder(visit.host, index)
    saved = saving.save(
        visit.host, visit.form.get("made_from"), lambda edit: edit.remove_folder(index)
    )
    if not saved.applied:
        return visit.redirect("/", _refused_words(saved))
    path = raw.get("path", "") if raw else ""
    return visit.redirect(
        "/", f"removed {path} from mvsepd (its files and stems stay where they are)"
    )


def _refused_words(saved: saving.Saved) -> str:
    return "not saved: " + "; ".join(str(problem) for problem in saved.problems)


def browse(visit: Visit) -> Response:
    listing = picker.browse(
        visit.request.args.get("path"), show_hidden=visit.request.args.get("hidden") == "1"
    )
    return as_json(listing.as_json(), listing.status)


# --- the engine's controls ------------------------------------------------------------------


def pause_all(visit: Visit) -> Response:
    visit.host.engine.pause()
    return visit.redirect(visit.back(), "paused: no new submissions; what MVSEP has goes on")


def resume_all(visit: Visit) -> Response:
    visit.host.engine.resume()
    return visit.redirect(visit.back(), "resumed: submitting again")


def dismiss(visit: Visit) -> Response:
    count = visit.host.engine.dismiss_failures()
    return visit.redirect("/", f"dismissed {count} failure(s)" if count else "no failures")


def rescan(visit: Visit, index: int) -> Response:
    config = visit.host.config()
    if not 0 <= index < len(config.folders):
        return visit.redirect("/", f"there is no folder {index + 1} (any more)")
    try:
        found = visit.host.engine.rescan(absolute(config.folders[index].path))
    except InputError as error:
        return visit.redirect("/", str(error))
    return visit.redirect("/", f"looked again: {found} new file(s) to check")


def retry(visit: Visit, job_id: int) -> Response:
    def again() -> str:
        answer = visit.host.engine.retry(job_id)
        return f"{answer.job.source_name}: {answer.words}"

    return _on_job(visit, job_id, again)


def cancel(visit: Visit, job_id: int) -> Response:
    return _on_job(visit, job_id, lambda: f"job {job_id}: {visit.host.engine.cancel(job_id)}")


def _on_job(visit: Visit, job_id: int, action: Callable[[], str]) -> Response:
    """Do one of the engine's job controls; what it did (or why not) is said on the page."""
    try:
        words = action()
    except (InputError, StoreError) as error:
        words = f"job {job_id}: {error}"
    return visit.redirect(visit.back(), words)
