"""Problems found before the first upload: a premium-only model on a free account (config
check refuses it; the daemon says so at start and holds the files until premium usage is on),
a file longer than the plan takes, and a retry that would send something that cannot work
(refused with the reason, nothing sent). Failed jobs say what they need: a fixed file, fixed
settings, or another try; only the last is offered a retry.

Real parts: the emulator over HTTP (a free account with credits and premium usage off), the
daemon in this process, the status API through ``ControlClient``, the CLI's own entry point.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from mvsepd.api import MvsepClient
from mvsepd.cli import main
from mvsepd.client.control import ControlClient
from mvsepd.errors import InputError
from mvsepd.models import FailureKind, JobState
from tests.hostile.logs import capturing_logs
from tests.integration.support import Setup, running_daemon, wait_until, write_wav

#: MVSEP's catalog marks the ensembles orientation 2: premium accounts only.
ENSEMBLE = 'sep_type: "Ensemble (vocals, instrum)"'


@pytest.fixture
def free_with_credits(setup: Setup) -> Setup:
    """The setup's account replaced by a free one that holds credits, premium usage off."""
    account = setup.server.add_account(plan="free", credits=50, premium_enabled=False)
    return dataclasses.replace(setup, token=account.token)


def test_config_check_refuses_a_premium_only_model_on_a_free_account(
    free_with_credits: Setup, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = free_with_credits
    config = setup.write_config(setup.config_text(preset=ENSEMBLE))
    for name, value in setup.environment().items():
        if name.startswith("MVSEP"):
            monkeypatch.setenv(name, value)
    code = main(["config", "check", "--config", str(config)])
    err = " ".join(capsys.readouterr().err.split())  # the report is wrapped at 100 columns
    assert code != 0
    assert (
        "presets.four: the model 'Ensemble (vocals, instrum)' is for premium accounts only" in err
    )
    assert "this account uses the free plan (premium usage is off)" in err
    assert "turn on premium usage at mvsep.com" in err


def test_the_daemon_holds_files_for_a_premium_only_model_until_premium_is_on(
    free_with_credits: Setup, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = free_with_credits
    for name, value in setup.environment().items():
        if name.startswith("MVSEPD_"):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("COLUMNS", "200")
    with (
        capturing_logs() as log,
        running_daemon(setup, setup.config_text(preset=ENSEMBLE)) as daemon,
    ):
        wait_until(lambda: "preset_needs_premium" in log.text(), 10, message="the word at start")
        # Said with its folder by `mvsepd status` before any file arrives (a service's user
        # never sees the start's log).
        (folder,) = ControlClient.discover(setup.paths).status()["folders"]
        assert len(folder["needs_premium"]) == 1 and "premium" in folder["needs_premium"][0]
        capsys.readouterr()
        assert main(["status"]) == 0
        shown = " ".join(capsys.readouterr().out.split())
        assert "this account uses the free plan: its files wait here until premium" in shown
        write_wav(setup.hot / "Mix.wav", 0.3, seed=1)
        wait_until(lambda: daemon.states().get(JobState.HELD), 15, message="the file to wait")
        (job,) = daemon.store.jobs()
        assert job.reason is not None and job.reason.startswith("needs a premium MVSEP account")
        assert setup.server.state.create_count(setup.token) == 0  # nothing sent to be refused
        with MvsepClient(setup.token, setup.server.url) as client:
            client.enable_premium()
        daemon.daemon.engine.refresh_account()
        wait_until(lambda: daemon.done(1), 30, message="the job once premium is on")
    assert setup.server.state.create_count(setup.token) == 1


def test_a_file_longer_than_the_plan_takes_fails_before_it_is_sent(setup: Setup) -> None:
    # The free plan's limit scaled down to 1 s; the file is 3 s.
    config = setup.config_text(account="plans: {free: {max_minutes: 0.0167, max_upload_mb: 100}}")
    with running_daemon(setup, config) as daemon:
        write_wav(setup.hot / "Long take.wav", 3.0, seed=2)
        wait_until(lambda: daemon.finished(1), 30, message="the job to be refused")
        (job,) = daemon.store.jobs()
        shown = ControlClient.discover(setup.paths).job(job.id)
    assert job.state is JobState.FAILED and job.failure_kind is FailureKind.FILE
    assert "Long take.wav is 3 s long; the free plan takes up to 0.0167 min" in str(job.reason)
    assert "turn on premium usage at mvsep.com (up to 100 min)" in str(job.reason)
    assert shown["retry_offered"] is False
    assert str(shown["advice"]).startswith("fix the file")
    assert setup.server.state.create_count(setup.token) == 0


def test_a_retry_of_a_file_that_is_not_audio_is_refused_and_nothing_is_sent(
    setup: Setup,
) -> None:
    with running_daemon(setup) as daemon:
        not_audio = setup.hot / "Notes.wav"
        temporary = setup.hot / ".notes.tmp"
        temporary.write_text("these are my lyrics, not audio\n" * 200)
        os.replace(temporary, not_audio)
        wait_until(lambda: daemon.finished(1), 30, message="the file to be refused")
        (job,) = daemon.store.jobs()
        assert job.state is JobState.FAILED and job.failure_kind is FailureKind.FILE
        client = ControlClient.discover(setup.paths)
        shown = client.job(job.id)
        assert shown["retry_offered"] is False and "fix the file" in shown["summary"]
        with pytest.raises(InputError) as refused:
            client.retry(job.id, upload_again=True)
        assert f"job {job.id} cannot run again" in str(refused.value)
        assert "its file needs fixing" in str(refused.value)
        assert daemon.store.get(job.id).state is JobState.FAILED
    assert setup.server.state.create_count(setup.token) == 0


def test_status_counts_failures_by_what_they_need(
    setup: Setup, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    setup.server.faults.set("job_failed", count=1)  # MVSEP fails the good file once
    for name, value in setup.environment().items():
        if name.startswith("MVSEPD_"):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("COLUMNS", "200")
    with running_daemon(setup) as daemon:
        write_wav(setup.hot / "Good.wav", 0.3, seed=3)
        bad = setup.hot / "Bad.wav"
        temporary = setup.hot / ".bad.tmp"
        temporary.write_bytes(b"not audio at all" * 100)
        os.replace(temporary, bad)
        wait_until(lambda: daemon.finished(2), 30, message="both to fail")
        status = ControlClient.discover(setup.paths).status()
        capsys.readouterr()
        assert main(["status"]) == 0
        out = " ".join(capsys.readouterr().out.split())
    kinds = {job["file"]: (job["failure_kind"], job["retry_offered"]) for job in status["jobs"]}
    assert kinds == {"Good.wav": ("service", True), "Bad.wav": ("file", False)}
    assert "1 failed (try again: mvsepd retry JOB)" in out
    assert "1 failed (fix the file: see mvsepd jobs)" in out


def test_algorithms_marks_premium_only_models_and_says_what_the_price_means(
    setup: Setup,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MVSEPD_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MVSEPD_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["algorithms", "ensemble", "--server", setup.server.url]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "premium only" in out
    assert "credits one minute of audio costs on a premium account" in out
    assert main(["algorithms", "48", "--server", setup.server.url]) == 0
    one = " ".join(capsys.readouterr().out.split())
    assert "credits per minute of audio on a premium account" in one
    assert "premium accounts only" not in one
