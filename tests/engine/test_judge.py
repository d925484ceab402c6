"""How the engine judges an error raised while it works on a job: a defect of mvsepd (an
exception that is not one of ours) is logged once, with its traceback, and the job's reason says
where that log is; our own errors are not logged here (the step that raised them words them)."""

from __future__ import annotations

import json
from pathlib import Path

from mvsepd import errors
from mvsepd.api import MvsepClient
from mvsepd.config.file import parse_config
from mvsepd.domain.lifecycle import Outcome
from mvsepd.engine.catalog import CatalogCache
from mvsepd.engine.context import Context
from mvsepd.store import JobStore
from tests.hostile.logs import capturing_logs


def make_context(tmp_path: Path) -> Context:
    config = parse_config("presets: {}\nfolders: []\n", "test")
    return Context(
        config=config,
        store=JobStore(tmp_path / "jobs.db"),
        client=MvsepClient(None, "http://127.0.0.1:9"),
        catalog=CatalogCache(tmp_path / "catalog.json", lambda: b"{}", refresh_seconds=86400),
        log_location="the log file /tmp/mvsepd.log",
    )


def test_an_internal_error_is_logged_with_its_traceback_and_the_reason_points_there(
    tmp_path: Path,
) -> None:
    context = make_context(tmp_path)
    not_callable: object = __import__("pathlib")
    try:
        not_callable()  # type: ignore[operator]  # the defect's own exception, raised for real
    except TypeError as raised:
        error = raised
    with capturing_logs() as log:
        verdict = context.judge(error, 7, "Take 3.wav")
    assert verdict.outcome is Outcome.FAIL and verdict.internal
    assert verdict.reason.startswith("internal error: TypeError: 'module' object is not callable")
    assert "the log file /tmp/mvsepd.log" in verdict.reason
    (line,) = [json.loads(text) for text in log.getvalue().splitlines()]
    assert line["level"] == "error" and line["event"] == "internal_error"
    assert line["job"] == 7 and line["file"] == "Take 3.wav"
    frames = line["exception"][0]["frames"]  # the traceback, down to the line that raised
    assert (
        frames[-1]["name"]
        == test_an_internal_error_is_logged_with_its_traceback_and_the_reason_points_there.__name__
    )
    context.store.close()


def test_errors_of_ours_are_judged_without_a_log_line(tmp_path: Path) -> None:
    context = make_context(tmp_path)
    with capturing_logs() as log:
        network = context.judge(errors.NetworkError("connect timed out"), 1, "a.wav")
        disk = context.judge(OSError(28, "No space left on device"), 1, "a.wav")
    assert log.getvalue() == ""
    assert network.outcome is Outcome.RETRY and not network.internal
    assert disk.outcome is Outcome.RETRY and "No space left" in disk.reason
    context.store.close()
