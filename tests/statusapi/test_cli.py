"""``mvsepd status|jobs|pause|resume|rescan|retry|cancel|dismiss`` against a running daemon, and
without."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mvsepd.cli import main
from mvsepd.exits import ExitStatus
from mvsepd.models import Secret
from mvsepd.paths import AppPaths
from mvsepd.statusapi import RuntimeInfo, write_runtime_file
from tests.statusapi.harness import MVSEP_TOKEN, Harness, wait_until

Output = tuple[int, str, str]


def run_cli(capsys: pytest.CaptureFixture[str], *arguments: str) -> Output:
    capsys.readouterr()
    code = main(list(arguments))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _ended_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _write_stale(paths: AppPaths, pid: int) -> None:
    info = RuntimeInfo("0.1.0", pid, "127.0.0.1", _closed_port(), Secret("x" * 43), 0.0)
    write_runtime_file(paths.runtime_file, info)


def test_status_without_a_daemon_says_so_and_exits_3(
    capsys: pytest.CaptureFixture[str], user_paths: AppPaths
) -> None:
    code, out, err = run_cli(capsys, "status")
    assert code == ExitStatus.DAEMON_UNREACHABLE
    assert int(ExitStatus.DAEMON_UNREACHABLE) == 3
    assert "mvsepd is not running" in err and "mvsepd run" in err
    assert "Traceback" not in err and out == ""


def test_a_stale_runtime_file_of_an_ended_process_is_not_trusted(
    capsys: pytest.CaptureFixture[str], user_paths: AppPaths
) -> None:
    pid = _ended_pid()
    _write_stale(user_paths, pid)
    code, _out, err = run_cli(capsys, "status")
    assert code == 3
    assert f"left over from process {pid}, which has ended" in err


def test_a_stale_runtime_file_where_nothing_answers_is_not_trusted(
    capsys: pytest.CaptureFixture[str], user_paths: AppPaths
) -> None:
    _write_stale(user_paths, pid=1)  # a process that exists, but is no daemon of ours
    for command in (["status"], ["jobs"], ["pause"], ["retry", "1"]):
        code, _out, err = run_cli(capsys, *command)
        assert code == 3, command
        assert "mvsepd is not running (no daemon answers at http://127.0.0.1:" in err


def test_status_json_without_a_daemon_is_json_too(
    capsys: pytest.CaptureFixture[str], user_paths: AppPaths
) -> None:
    code, out, _err = run_cli(capsys, "status", "--json")
    assert code == 3
    answer = json.loads(out)
    assert answer["running"] is False and "not running" in answer["error"]


def _waiting_job(harness: Harness) -> dict[str, Any]:
    (job,) = harness.wait_for_jobs(
        lambda jobs: len(jobs) == 1 and bool(jobs[0]["current_order"]), "the job at MVSEP"
    )
    return job


def test_status_shows_the_daemon_account_and_queue_position(
    capsys: pytest.CaptureFixture[str], harness: Harness
) -> None:
    harness.drop("Bounce 01.wav")
    _waiting_job(harness)

    code, out, err = run_cli(capsys, "status")

    assert code == 0, err
    assert "running for" in out and "premium plan" in out and "API token OK" in out
    assert "Bounce 01.wav" in out and "waiting, 1st of 1" in out
    assert "1 waiting" in out


def test_status_json_is_the_whole_picture_without_the_mvsep_token(
    capsys: pytest.CaptureFixture[str], harness: Harness
) -> None:
    harness.drop("json.wav")
    job = _waiting_job(harness)
    outputs = [
        run_cli(capsys, "status", "--json"),
        run_cli(capsys, "jobs", "--all", "--json"),
        run_cli(capsys, "jobs", "--all"),
        run_cli(capsys, "status"),
    ]
    for code, out, err in outputs:
        assert code == 0
        assert MVSEP_TOKEN not in out + err
    picture = json.loads(outputs[0][1])
    assert picture["jobs"][0]["id"] == job["id"]
    assert picture["jobs"][0]["current_order"] == 1
    assert json.loads(outputs[1][1])[0]["file"] == "json.wav"


def test_pause_resume_and_rescan_say_what_they_did(
    capsys: pytest.CaptureFixture[str], harness: Harness
) -> None:
    code, out, _ = run_cli(capsys, "pause")
    assert code == 0 and "paused: no new submissions" in out
    assert harness.status()["daemon"]["paused"] is True
    assert "submissions paused" in run_cli(capsys, "status")[1]

    code, out, _ = run_cli(capsys, "resume")
    assert code == 0 and "resumed: submitting again" in out
    assert harness.status()["daemon"]["paused"] is False

    code, out, _ = run_cli(capsys, "rescan")
    assert code == 0 and "rescanned every folder" in out


def test_rescan_of_one_folder_and_of_what_is_no_hot_folder(
    capsys: pytest.CaptureFixture[str], harness: Harness, tmp_path: Path
) -> None:
    code, out, _ = run_cli(capsys, "rescan", str(harness.hot))
    assert code == 0 and f"rescanned {harness.hot}; 0 new file(s) to check" in out
    elsewhere = tmp_path / "elsewhere"
    code, _, err = run_cli(capsys, "rescan", "--include-existing", str(elsewhere))
    assert code != 0
    assert f"{elsewhere} is not a watched hot folder (they are: {harness.hot})" in err
    code, _, err = run_cli(capsys, "rescan", "--include-existing")
    assert code == 2 and "mvsepd rescan --include-existing FOLDER" in err
    answer = harness.call("POST", "/v1/rescan?include_existing=1")
    assert answer.status == 400 and "name the folder" in answer.json()["error"]


def test_cancel_and_retry_by_job_number(
    capsys: pytest.CaptureFixture[str], harness: Harness
) -> None:
    harness.drop("cancel me.wav")
    job = _waiting_job(harness)
    before = harness.server.state.credits(MVSEP_TOKEN)

    code, out, err = run_cli(capsys, "cancel", str(job["id"]))

    assert code == 0, err
    assert "credits are refunded" in out
    assert harness.server.state.credits(MVSEP_TOKEN) > before

    code, out, err = run_cli(capsys, "retry", str(job["id"]))
    assert code == 0, err
    # Cancelled at MVSEP before it started, so MVSEP no longer has it: sent again, and paid.
    assert "is uploaded again: MVSEP no longer has it" in out
    assert "about 1 credit again" in out
    wait_until(lambda: harness.server.state.create_count(MVSEP_TOKEN) == 2, 10, "the new create")


def test_dismiss_clears_the_alarm_in_the_daemon_until_a_new_failure(
    capsys: pytest.CaptureFixture[str], harness: Harness
) -> None:
    harness.drop_bytes("lyrics.wav", b"these are lyrics, not audio\n" * 40)
    failed = harness.wait_for_jobs(
        lambda jobs: [job["phase"] for job in jobs] == ["failed"], "the failed job"
    )
    assert failed[0]["dismissed"] is False

    code, out, err = run_cli(capsys, "dismiss")

    assert code == 0, err
    assert out == (
        "dismissed 1 failure: the tray is no longer red for it (`mvsepd jobs` still lists it)\n"
    )
    assert harness.jobs()[0]["dismissed"] is True
    code, out, _ = run_cli(capsys, "dismiss", "--json")
    assert code == 0 and json.loads(out) == {"dismissed": 0, "message": "no failures to dismiss"}

    harness.stop_daemon()
    harness.start_daemon()
    assert harness.jobs()[0]["dismissed"] is True, "kept by the daemon across a restart"

    harness.drop_bytes("more lyrics.wav", b"more lyrics, still not audio\n" * 40)
    jobs = harness.wait_for_jobs(
        lambda jobs: [job["phase"] for job in jobs] == ["failed", "failed"], "a second failure"
    )
    assert [job["dismissed"] for job in jobs] == [True, False]
    code, out, _ = run_cli(capsys, "dismiss", "--json")
    assert json.loads(out)["dismissed"] == 1


def test_dismiss_without_a_daemon_exits_3(
    capsys: pytest.CaptureFixture[str], user_paths: AppPaths
) -> None:
    code, _out, err = run_cli(capsys, "dismiss")
    assert code == ExitStatus.DAEMON_UNREACHABLE
    assert err.startswith("mvsepd: mvsepd is not running")


def test_unknown_job_numbers_are_refused_plainly(
    capsys: pytest.CaptureFixture[str], harness: Harness
) -> None:
    for command in ("retry", "cancel"):
        code, _out, err = run_cli(capsys, command, "4242")
        assert code == ExitStatus.USAGE
        assert err.strip() == "mvsepd: no job with id 4242"


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    commands = ("status", "jobs", "pause", "resume", "rescan", "retry", "cancel", "dismiss", "tray")
    for command in commands:
        code, out, _ = run_cli(capsys, command, "--help")
        assert code == 0 and "Usage: mvsepd" in out, command
        assert len(out.splitlines()) > 4, command
    code, out, _ = run_cli(capsys, "run", "--help")
    assert "--tray" in out


def test_a_runtime_file_below_the_state_folder_is_found(tmp_path) -> None:
    """A system unit has no XDG_RUNTIME_DIR: its daemon writes below the state folder."""
    from mvsepd.paths import AppPaths

    paths = AppPaths(
        config_dir=tmp_path / "config",
        state_dir=tmp_path / "state",
        cache_dir=tmp_path / "cache",
        log_dir=tmp_path / "log",
        runtime_dir=tmp_path / "xdg-runtime" / "mvsepd",
    )
    assert paths.runtime_file_candidates == [
        tmp_path / "xdg-runtime" / "mvsepd" / "statusapi.json",
        tmp_path / "state" / "run" / "statusapi.json",
    ]
