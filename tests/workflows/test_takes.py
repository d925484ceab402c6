"""Takes in the status picture: a file dropped into a fan-out folder is one take of two jobs, a
file dropped into a chain folder one take of every step, and neither is seen "done" before the
last of its stems is placed (the rule between two chain steps: tests/statusapi/test_takes.py).

Real parts: the emulator over HTTP, the daemon with its observers, SQLite, the status API over
HTTP.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from mvsepd.client.control import ControlClient
from mvsepd.models import JobState
from tests.integration.support import wait_until, write_wav
from tests.workflows.support import daemon_for, folder_config, settle, world

BODY = """presets:
  vocals: {sep_type: 48, output_format: wav16}
  four: {sep_type: 20, output_format: wav16}
chains:
  clean-vocals:
    steps:
      - {id: split, preset: vocals, keep: [Other]}
      - id: dereverb
        from: split/Vocals
        sep_type: 22
        options: {add_opt1: "9", add_opt2: "Use as is"}
"""


def fan_out_folder(path: Path) -> str:
    return (
        f'  - path: "{path}"\n    preset: [vocals, four]\n    existing_files: process\n'
        "    stability_seconds: 0.3\n"
    )


class Watcher:
    """Reads the picture's takes over HTTP as often as it can while the test waits."""

    def __init__(self, client: ControlClient) -> None:
        self._client = client
        self.seen: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            status = self._client.status()
            jobs = self._client.jobs()
            for take in status["takes"]:
                self.seen.append((take, [job for job in jobs if job["take"] == take["id"]]))
            self._stop.wait(0.02)


def test_a_fan_out_and_a_chain_are_one_take_each_done_only_when_every_stem_is_placed(
    tmp_path: Path,
) -> None:
    with world(tmp_path) as place:
        fan_out, chained = place.folder("Two models"), place.folder("Clean vocals")
        body = (
            BODY + "folders:\n" + fan_out_folder(fan_out) + folder_config(chained, "clean-vocals")
        )
        with daemon_for(place, body) as daemon:
            client = ControlClient.discover(place.setup.paths)
            with Watcher(client) as watcher:
                write_wav(fan_out / "Lead take.wav", 0.3, seed=1)
                write_wav(chained / "Verse.wav", 0.3, seed=2)
                jobs = settle(daemon, 4)
                wait_until(
                    lambda: sum(take["phase"] == "done" for take in client.status()["takes"]) == 2,
                    20,
                    message="both takes done",
                )
            takes = {take["file"]: take for take in client.status()["takes"]}

    assert set(takes) == {"Lead take.wav", "Verse.wav"}
    lead, verse = takes["Lead take.wav"], takes["Verse.wav"]
    lead_jobs = sorted(job.id for job in jobs if job.folder_path == str(fan_out))
    verse_jobs = sorted(job.id for job in jobs if job.folder_path == str(chained))
    assert lead["jobs"] == lead_jobs and lead["id"] == lead_jobs[0]
    assert lead["presets"] == ["four", "vocals"] and lead["chains"] == []
    assert verse["jobs"] == verse_jobs and verse["id"] == verse_jobs[0]
    assert len(verse_jobs) == 2 and verse["chains"] == ["clean-vocals"]
    assert lead["finished_at"] and verse["finished_at"]
    assert all(job.state is JobState.DONE for job in jobs)

    # Never done early: whenever a take was seen done, every one of its jobs was done, and the
    # chain's take had both of its steps.
    done_sightings = [(take, members) for take, members in watcher.seen if take["phase"] == "done"]
    assert done_sightings
    for take, members in done_sightings:
        assert all(job["state"] == "done" for job in members), (take, members)
        if take["file"] == "Verse.wav":
            assert {job["step"] for job in members} == {"split", "dereverb"}
