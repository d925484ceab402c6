"""The tray's view model: a status picture in, icon state, tooltip, menu and notices out."""

from __future__ import annotations

from typing import Any

from mvsepd.tray.badge import IconState
from mvsepd.tray.throttle import Throttle
from mvsepd.tray.view import (
    MENU_LINE_LIMIT,
    TOOLTIP_LIMIT,
    MenuEntry,
    Notice,
    Notifications,
    build_view,
    files_to_come,
    icon_state,
    latest_stems,
    menu,
    tooltip,
)


def job(job_id: int, phase: str, **fields: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "id": job_id,
        "file": f"Track {job_id}.wav",
        "folder": "/music/Exports",
        "phase": phase,
        "state": phase,
        "summary": phase,
        "current_order": None,
        "queue_count": None,
        "output_dir": None,
        "finished_at": None,
        "error": None,
    }
    value.update(fields)
    return value


def picture(
    *jobs: dict[str, Any],
    paused: bool = False,
    token_valid: bool = True,
    done_today: int = 0,
    arriving: int = 0,
) -> dict[str, Any]:
    return {
        "daemon": {"paused": paused},
        "account": {"token_valid": token_valid},
        "done_today": done_today,
        "arriving": [f"/music/Exports/Bounce {index}.wav" for index in range(arriving)],
        "jobs": list(jobs),
    }


WAITING = [
    job(1, "waiting", current_order=5, queue_count=12, summary="waiting, 5th of 12"),
    job(2, "waiting", current_order=3, queue_count=12, summary="waiting, 3rd of 12"),
]


def test_the_badge_counts_the_files_still_to_come() -> None:
    # Two waiting at MVSEP (the first 3rd in its queue): 2, not the queue place.
    assert icon_state(picture(*WAITING)) == IconState("number", "waiting", 2)
    four = [job(n, "queued") for n in range(1, 4)] + [job(4, "waiting", current_order=1)]
    assert icon_state(picture(*four)) == IconState("number", "waiting", 4)
    # Files still being written count too; finished ones do not.
    finished = [job(7, "done"), job(8, "cancelled"), job(9, "failed", dismissed=True)]
    assert icon_state(picture(*WAITING, *finished, arriving=3)).number == 5
    assert files_to_come(picture(*finished)) == 0


def test_the_colour_says_what_the_most_advanced_file_is_doing() -> None:
    assert icon_state(picture(job(1, "processing"))) == IconState("number", "processing", 1)
    assert icon_state(picture(job(1, "uploading"), *WAITING)) == IconState(
        "number", "processing", 3
    )
    assert icon_state(picture(job(1, "downloading"), job(2, "processing"))) == IconState(
        "number", "downloading", 2
    )


def test_red_only_while_a_failure_is_not_dismissed() -> None:
    assert icon_state(picture(job(1, "failed"))) == IconState("error", "error")
    assert icon_state(picture(*WAITING, job(3, "failed"))) == IconState("number", "error", 2)
    assert icon_state(picture(token_valid=False)) == IconState("error", "error")
    assert icon_state(picture(job(1, "failed", dismissed=True))) == IconState("idle", "idle")
    assert icon_state(picture(*WAITING, job(3, "failed", dismissed=True))) == IconState(
        "number", "waiting", 2
    )
    # A later failure is red again, whatever was dismissed before it.
    again = picture(job(1, "failed", dismissed=True), job(2, "failed"))
    assert icon_state(again) == IconState("error", "error")
    assert tooltip(again) == "0 done today · 1 failed"
    assert [entry.action for entry in menu(again)].count("dismiss_failed") == 1
    assert "dismiss_failed" not in [
        entry.action for entry in menu(picture(job(1, "failed", dismissed=True)))
    ]


def test_paused_and_unreachable_are_grey() -> None:
    assert icon_state(picture(paused=True)) == IconState("paused", "paused")
    assert icon_state(picture(job(1, "queued"), paused=True)) == IconState("number", "paused", 1)
    assert icon_state(picture(*WAITING, paused=True)) == IconState("number", "paused", 2)
    assert icon_state(None) == IconState("offline", "offline")
    assert icon_state(picture()) == IconState("idle", "idle")


def test_tooltip_is_one_line_summary() -> None:
    text = tooltip(picture(*WAITING, job(3, "processing"), done_today=4))
    assert text == "2 waiting (next: 3rd of 12) · 1 processing · 4 done today"
    assert tooltip(picture(job(1, "failed"), paused=True)) == "0 done today · 1 failed · paused"
    assert tooltip(picture(token_valid=False)) == "0 done today · API token refused"
    assert tooltip(picture(arriving=2)) == "2 arriving · 0 done today"
    assert tooltip(None, "mvsepd is not running") == "mvsepd is not running"
    assert tooltip(None, "connecting ...") == "mvsepd: connecting ..."
    long = tooltip(None, "x" * 500)
    assert len(long) == TOOLTIP_LIMIT and long.endswith("…")


def test_the_first_item_opens_the_page_and_the_second_the_latest_stems() -> None:
    older = job(4, "done", output_dir="/music/Exports stems/Track 4", finished_at=20.0)
    newer = job(6, "done", output_dir="/music/Exports stems/Track 6", finished_at=30.0)
    failed = job(5, "failed", finished_at=40.0, error="bad audio")
    entries = menu(picture(*WAITING, older, newer, failed))
    assert entries[0] == MenuEntry("Open mvsepd", "open_page", default=True)
    assert entries[1] == MenuEntry("Open stems folder (Track 6.wav)", "open_latest")
    assert [entry for entry in entries if entry.default] == [entries[0]]
    assert latest_stems(picture(older, newer, failed)) == newer
    # Before any take is done: the stems item is greyed; the page is there, even offline.
    nothing = menu(picture(*WAITING))[1]
    assert (nothing.action, nothing.enabled) == ("open_latest", False)
    assert menu(None)[0] == MenuEntry("Open mvsepd", "open_page", default=True)


def test_the_status_line_opens_the_menu_where_no_tooltip_is_shown() -> None:
    shown = picture(*WAITING, done_today=1)
    entries = menu(shown, status_line=True)
    assert entries[0] == MenuEntry(tooltip(shown), enabled=False)
    assert entries[1].action == "open_page"
    assert menu(shown)[0].action == "open_page"
    offline = menu(None, problem="mvsepd is not running (no runtime file)", status_line=True)
    assert offline[0] == MenuEntry("mvsepd is not running (no runtime file)", enabled=False)
    assert [entry.text for entry in offline].count(offline[0].text) == 1


def test_menu_lists_jobs_in_words_results_and_controls() -> None:
    done = job(4, "done", output_dir="/music/Exports stems/Track 4", finished_at=20.0)
    failed = job(5, "failed", finished_at=10.0, error="MVSEP failed it", retry_offered=True)
    entries = menu(picture(*WAITING, done, failed))
    texts = [entry.text for entry in entries]
    assert texts[3:5] == ["Track 1.wav: waiting, 5th of 12", "Track 2.wav: waiting, 3rd of 12"]
    assert "Recent results" in texts
    result = next(entry for entry in entries if entry.text == "Track 4.wav: stems ready")
    assert (result.action, result.argument) == ("open", "/music/Exports stems/Track 4")
    assert MenuEntry("Track 5.wav: failed", "open", "/music/Exports") in entries
    actions = [entry.action for entry in entries if entry.action]
    assert actions[-6:] == [
        "pause", "retry_failed", "dismiss_failed", "open_log", "open_config", "quit_tray"
    ]  # fmt: skip
    assert "Resume" in [entry.text for entry in menu(picture(paused=True))]
    # A file to fix is not offered a retry (another try would fail the same way).
    to_fix = job(5, "failed", error="not audio", retry_offered=False, failure_kind="file")
    assert "retry_failed" not in [entry.action for entry in menu(picture(to_fix))]
    owned = [entry.action for entry in menu(picture(), owns_daemon=True)]
    assert owned[-2:] == ["quit_tray", "quit_daemon"]
    offline = menu(None, problem="mvsepd is not running (no runtime file)")
    assert offline[3] == MenuEntry("mvsepd is not running (no runtime file)", enabled=False)


def test_a_job_line_is_cut_so_the_menu_stays_on_the_screen() -> None:
    reason = (
        "held: needs a premium MVSEP account: the model 'Ensemble (vocals, instrum)' is for "
        "premium accounts only. Turn on premium usage at mvsep.com (with credits), or choose "
        "another model for this folder; the file waits here until then"
    )
    entries = menu(picture(job(7, "queued", state="held", summary=reason)))
    line = next(entry.text for entry in entries if entry.text.startswith("Track 7.wav"))
    assert len(line) == MENU_LINE_LIMIT and line.endswith("…")
    assert line.startswith("Track 7.wav: held: needs a premium MVSEP account")


def test_view_collects_failed_jobs_for_retry() -> None:
    # Only where the daemon offers another try: a file to fix is not retried from the tray.
    view = build_view(
        picture(
            job(7, "failed", retry_offered=True),
            job(8, "failed", retry_offered=True),
            job(6, "failed", retry_offered=False, failure_kind="file"),
            job(9, "done"),
        )
    )
    assert view.retry_ids == (7, 8) and view.reachable
    entries = [entry.text for entry in view.menu]
    assert "Retry failed (2)" in entries


def test_notifications_once_per_job_and_not_for_old_ones() -> None:
    notifications = Notifications()
    already = job(1, "done", output_dir="/o/Old")
    assert notifications.update(picture(already, job(2, "waiting"))) == []
    finished = job(2, "done", output_dir="/music/Exports stems/Track 2")
    failed = job(3, "failed", error="MVSEP could not process the file")
    assert notifications.update(picture(already, finished, failed)) == [
        Notice("Stems ready", "Track 2.wav: stems ready in Track 2"),
        Notice("Separation failed", "Track 3.wav: MVSEP could not process the file"),
    ]
    assert notifications.update(picture(already, finished, failed)) == []
    refused = notifications.update(picture(token_valid=False))
    assert [notice.title for notice in refused] == ["MVSEP refused the API token"]


def test_throttle_allows_a_few_updates_a_second() -> None:
    now = [100.0]
    throttle = Throttle(0.25, clock=lambda: now[0])
    assert throttle.delay() == 0
    throttle.shown()
    now[0] += 0.1
    assert abs(throttle.delay() - 0.15) < 1e-9
    now[0] += 0.2
    assert throttle.delay() == 0


def test_a_refused_configuration_is_red_and_said_in_the_tooltip() -> None:
    refused = {
        **picture(*WAITING),
        "config": {
            "path": "/home/alice/.config/mvsepd/config.yaml",
            "in_force": False,
            "refused": [{"line": 12, "text": "folders[0].preset: no preset named 'fuor'"}],
            "refused_at": 1000.0,
        },
    }
    assert icon_state(refused) == IconState("number", "error", 2)
    assert tooltip(refused).endswith("configuration refused (mvsepd status)")
    in_force = {**refused, "config": {**refused["config"], "in_force": True, "refused": []}}
    assert icon_state(in_force) == IconState("number", "waiting", 2)


def take(take_id: int, phase: str, *output_dirs: str, **fields: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "id": take_id,
        "file": f"Take {take_id}.wav",
        "phase": phase,
        "output_dirs": list(output_dirs),
        "finished_at": float(take_id) if phase == "done" else None,
    }
    value.update(fields)
    return value


def with_takes(*takes: dict[str, Any], jobs: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    return {**picture(*jobs), "takes": list(takes)}


def test_one_notice_per_take_once_all_its_stems_are_placed() -> None:
    notifications = Notifications()
    old = take(1, "done", "/o/Take 1/four")
    assert notifications.update(with_takes(old, take(2, "working"))) == []
    # A fan-out: one preset done, the other still working: nothing yet.
    first_done = job(2, "done", output_dir="/s/Take 2/vocals")
    still = job(3, "processing")
    assert notifications.update(with_takes(old, take(2, "working"), jobs=(first_done, still))) == []
    both = take(2, "done", "/s/Take 2/vocals", "/s/Take 2/four")
    done = job(3, "done", output_dir="/s/Take 2/four")
    assert notifications.update(with_takes(old, both, jobs=(first_done, done))) == [
        Notice("Stems ready", "Take 2.wav: stems ready in Take 2 (2 results)", take=2)
    ]
    assert notifications.update(with_takes(old, both, jobs=(first_done, done))) == []
    # A failure is still said per job.
    failed = job(4, "failed", error="MVSEP could not process the file")
    assert notifications.update(with_takes(old, both, take(4, "failed"), jobs=(failed,))) == [
        Notice("Separation failed", "Track 4.wav: MVSEP could not process the file")
    ]


def test_the_last_takes_follow_the_first_items_each_opening_its_page() -> None:
    takes = [take(number, "done", f"/s/Take {number}") for number in range(1, 6)]
    entries = menu(with_takes(*takes, take(9, "working")))
    assert entries[0].action == "open_page"
    assert entries[2:5] == (
        MenuEntry("Listen: Take 5.wav", "open_take", "5"),
        MenuEntry("Listen: Take 4.wav", "open_take", "4"),
        MenuEntry("Listen: Take 3.wav", "open_take", "3"),
    )
    assert entries[5].separator
