"""Chains over real HTTP: vocals → de-reverb → denoise is three MVSEP jobs, each fed the right
stem, each paid once across SIGKILLs at every step boundary, and a first step that equals an
existing job reuses it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mvsepd.emulator.jobs import JobSnapshot
from mvsepd.models import JobState
from mvsepd.store import JobStore, SqlJobStore
from tests.conform.material import Source, read, write_source
from tests.hostile.logs import capturing_logs
from tests.integration.support import Setup, start_daemon_process, stop_process, wait_until
from tests.workflows.support import daemon_for, done, folder_config, settle, world

CHAIN = """presets:
  vocals: {sep_type: 48, output_format: flac24}
chains:
  clean-vocals:
    steps:
      - {id: split, preset: vocals, keep: [Other]}
      - id: dereverb
        from: split/Vocals
        sep_type: 22
        options: {add_opt1: "9", add_opt2: "Use as is"}
        keep: []
      - id: denoise
        from: "dereverb/No reverb (dry)"
        sep_type: 47
"""


def _body(hot: Path, extra_folders: str = "") -> str:
    return CHAIN + "folders:\n" + folder_config(hot, "clean-vocals") + extra_folders


def _check_chain(
    place_stems: Path, store: SqlJobStore, remote: list[JobSnapshot], track: str
) -> None:
    jobs = {job.id: job for job in store.jobs()}
    by_step = {d.step: jobs[d.job_id] for d in store.deliveries(chain="clean-vocals")}
    assert set(by_step) == {"split", "dereverb", "denoise"}
    # Each step after the first was fed its parent's stem: the bytes MVSEP received for it
    # are the stem MVSEP sent for the parent (recorded in the parent's manifest).
    folder = place_stems / track
    manifests = {
        step: json.loads((folder / f"manifest - {step}.json").read_text())
        for step in ("split", "dereverb", "denoise")
    }
    received = {job.hash: job.input_sha256 for job in remote}
    for step, parent, label in (
        ("dereverb", "split", "Vocals"),
        ("denoise", "dereverb", "No reverb (dry)"),
    ):
        sent = {e["label"]: e["mvsep"]["sha256"] for e in manifests[parent]["conform"]["stems"]}
        child = by_step[step]
        assert child.parent_job_id == by_step[parent].id and child.from_stem == label
        assert child.separation_hash is not None
        assert received[child.separation_hash] == sent[label] == child.content_sha256
    names = sorted(p.name for p in folder.iterdir() if not p.name.startswith("manifest"))
    assert names == [
        f"{track} - denoise - Clean (dry).wav",
        f"{track} - denoise - Noise.wav",
        # MVSEP labels it "Other" (keep: [Other] takes it); it is the instrumental.
        f"{track} - split - Instrumental.wav",
    ]
    chain = json.loads((folder / "manifest.json").read_text())
    assert [s["step"] for s in chain["steps"]] == ["split", "dereverb", "denoise"]
    assert all(s["mvsep_hash"] for s in chain["steps"])


def test_a_three_step_chain_makes_three_jobs_each_fed_the_right_stem(tmp_path: Path) -> None:
    with world(tmp_path) as place:
        hot = place.folder("Vocal takes")
        with daemon_for(place, _body(hot)) as daemon:
            source = write_source(hot, Source("Lead", 48000, 1, "PCM_24", bext=True), seed=5)
            done(settle(daemon, 3))
            remote = place.remote_jobs()
            assert len(remote) == 3
            _check_chain(place.stems_of("Vocal takes"), daemon.store, remote, "Lead")
        # Kept stems fit the dropped take (48 kHz mono 24-bit), whichever step made them.
        original, _ = read(source)
        for path in (place.stems_of("Vocal takes") / "Lead").glob("*.wav"):
            data, rate = read(path)
            assert (rate, data.shape) == (48000, original.shape)
        # The work folder keeps no stems once the chain is done.
        assert not any((place.setup.paths.cache_dir / "chain-stems").glob("*.*"))


def test_a_first_step_equal_to_an_existing_job_reuses_it(tmp_path: Path) -> None:
    with world(tmp_path) as place:
        plain, chained = place.folder("Plain"), place.folder("Chained")
        extra = folder_config(plain, "vocals")
        with daemon_for(place, _body(chained, extra)) as daemon:
            source = write_source(plain, Source("Song", 44100, 2, "PCM_16"), seed=6)
            (first,) = done(settle(daemon, 1))
            (chained / "Song.wav").write_bytes(source.read_bytes())
            done(settle(daemon, 3))
            assert len(place.remote_jobs()) == 3  # the split was not paid again
            split = daemon.store.deliveries(chain="clean-vocals")[0]
            assert split.step == "split" and split.job_id == first.id
            _check_chain(place.stems_of("Chained"), daemon.store, place.remote_jobs(), "Song")


BOUNDARIES = ("split", "dereverb", "denoise")


@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_a_kill_at_each_step_boundary_pays_no_step_twice(tmp_path: Path, boundary: str) -> None:
    with world(tmp_path) as place:
        hot = place.folder("Vocal takes")
        setup = Setup(tmp=tmp_path, server=place.server, token=place.token, hot=hot)
        config = tmp_path / "config.yaml"
        config.write_text(place.config(_body(hot)), encoding="utf-8")
        write_source(hot, Source("Lead", 44100, 2, "PCM_16"), seed=7)

        def step_done() -> bool:
            return any(
                json.loads(job.input_json or "{}").get("step") == boundary
                and job.state is JobState.DONE
                for job in setup.jobs()
            )

        process = start_daemon_process(setup, config)
        try:
            wait_until(step_done, 60, message=f"step {boundary} to be done", interval=0.002)
        finally:
            stop_process(process, kill=True)
        process = start_daemon_process(setup, config)
        try:
            wait_until(
                lambda: (
                    len(setup.jobs()) == 3
                    and all(job.state is JobState.DONE for job in setup.jobs())
                ),
                60,
                message="the chain to finish after the restart",
            )
            log = tmp_path / "daemon.log"
            wait_until(
                lambda: log.read_text(encoding="utf-8").count('"daemon_ready"') == 2,
                30,
                message="the restarted daemon to be ready",
            )
            time.sleep(0.5)  # a second create, if one were coming, would be sent by now
        finally:
            assert stop_process(process) == 0
        remote = place.remote_jobs()
        assert len(remote) == 3, [job.hash for job in remote]
        with JobStore(setup.paths.store_file) as store:
            _check_chain(place.stems_of("Vocal takes"), store, remote, "Lead")


def test_status_shows_a_chain_as_one_line_with_its_current_step(tmp_path: Path) -> None:
    from mvsepd.statusapi.picture import DaemonFacts, Picture

    with world(tmp_path) as place:
        hot = place.folder("Vocal takes")
        with daemon_for(place, _body(hot)) as daemon:
            write_source(hot, Source("Lead", 44100, 2, "PCM_16"), seed=8)
            seen: set[str] = set()
            picture = Picture(daemon.daemon.engine, DaemonFacts("test", 1, time.time()))

            def finished() -> bool:
                lines = [job for job in picture.status()["jobs"] if job["chain"]]
                assert len(lines) <= 1, lines  # one line for the whole run
                seen.update(str(job["summary"]) for job in lines)
                return bool(lines) and lines[0]["step"] == "denoise" and lines[0]["phase"] == "done"

            wait_until(finished, 60, message="the chain to finish", interval=0.01)
        steps = {summary.split(",")[0] for summary in seen}
        assert "step 1 of 3: split" in steps and "step 3 of 3: denoise" in steps
        assert any(s.startswith("step 2 of 3: dereverb") for s in seen)


TWO_STEPS = """presets:
  vocals: {sep_type: 48, output_format: flac24}
chains:
  dry-vocals:
    steps:
      - {id: split, preset: vocals}
      - id: dereverb
        from: split/Vocals
        sep_type: 22
        options: {add_opt1: "9", add_opt2: "Use as is"}
"""


def test_a_feeding_step_is_placed_and_downloaded_once(tmp_path: Path) -> None:
    """No fault at all: the step that feeds the next is placed once, each of its stems is
    fetched once, and no job ever waits to try again (the feeding stem was once copied from a
    staging folder placing had removed: every feeding step failed once and fetched again)."""
    with world(tmp_path) as place:
        hot = place.folder("Vocal takes")
        body = TWO_STEPS + "folders:\n" + folder_config(hot, "dry-vocals")
        with capturing_logs() as log, daemon_for(place, body) as daemon:
            write_source(hot, Source("Lead", 44100, 2, "PCM_16"), seed=9)
            jobs = done(settle(daemon, 2))
            events = [event for job in jobs for event in daemon.store.events(job.id)]
        assert [to for _, _, to, _ in events].count(JobState.RETRY_WAIT.value) == 0, events
        served = place.server.state.files_served()
        fetched = {
            target.path.name: served.get(target.path.name, 0)
            for job in place.remote_jobs()
            for target in job.files
        }
        assert fetched and set(fetched.values()) == {1}, fetched
        assert "placed by an interrupted attempt" not in log.text()
        names = sorted(p.name for p in (place.stems_of("Vocal takes") / "Lead").iterdir())
        assert "Lead - split - Vocals.wav" in names and "manifest - split.json" in names
