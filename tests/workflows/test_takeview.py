"""A take's page data: the source and each fan-out result with the stems its manifest lists,
and the rule that a browser gets a file only by job and stem index, only when the manifest
lists it below its stems folder.

Real parts: the emulator over HTTP, the daemon, SQLite, the placed stems and manifests.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mvsepd.errors import NotServedError
from mvsepd.outputs.reading import find_manifest
from mvsepd.statusapi.takeview import TakeView
from tests.conform.material import TIME_REFERENCE_SECONDS, Source, write_source
from tests.workflows.support import daemon_for, done, settle, world

BODY = """presets:
  vocals: {sep_type: 48, output_format: wav16}
  four: {sep_type: 20, output_format: wav16}
folders:
  - path: "HOT"
    preset: [vocals, four]
    existing_files: process
    stability_seconds: 0.3
"""

SOURCE = Source("Lead take", rate=48000, channels=2, subtype="PCM_24", bext=True)


def test_a_fan_out_takes_page_lists_each_result_its_stems_and_the_source(
    tmp_path: Path,
) -> None:
    with world(tmp_path) as place:
        hot = place.folder("Two models")
        with daemon_for(place, BODY.replace("HOT", str(hot))) as daemon:
            source = write_source(hot, SOURCE, seed=3)
            jobs = sorted(done(settle(daemon, 2)), key=lambda job: job.id)
            view = TakeView(daemon.daemon.context)
            take = jobs[0].id

            assert [job.id for job in view.members(take)] == [job.id for job in jobs]
            with pytest.raises(NotServedError):
                view.members(jobs[1].id)  # a later job of the take names no take

            facts = view.source(take)
            assert facts["name"] == "Lead take.wav" and facts["playable"]
            assert (facts["rate"], facts["channels"], facts["sample_format"]) == (
                48000,
                2,
                "PCM_24",
            )
            hours, rest = divmod(TIME_REFERENCE_SECONDS, 3600)
            minutes, seconds = divmod(rest, 60)
            assert facts["bwf_time"] == f"{int(hours):02d}:{int(minutes):02d}:{seconds:06.3f}"

            results = {result["preset"]: result for result in view.results(take)}
            assert set(results) == {"vocals", "four"}
            vocals = results["vocals"]
            assert vocals["placed"] and vocals["state"] == "done"
            assert [stem["label"] for stem in vocals["stems"]] == ["Vocals", "Instrumental"]
            assert [stem["index"] for stem in vocals["stems"]] == [0, 1]
            for stem in vocals["stems"]:
                # Conformed to the source: its rate and channels.
                assert (stem["rate"], stem["channels"]) == (48000, 2)
                assert stem["frames"] and stem["size"] and stem["mvsep_sent"]["name"]
            assert vocals["null_db"] is not None and vocals["credits"] is not None
            assert len(results["four"]["stems"]) >= 4

            served = view.stem_file(vocals["job"], 0)
            assert served.name == vocals["stems"][0]["name"]
            assert served.size == served.path.stat().st_size
            assert view.source_file(take).path == source
            for job_id, index in ((vocals["job"], 2), (vocals["job"], -1), (999, 0)):
                with pytest.raises(NotServedError):
                    view.stem_file(job_id, index)


def test_a_manifest_edited_to_point_outside_its_stems_folder_serves_nothing(
    tmp_path: Path,
) -> None:
    with world(tmp_path) as place:
        hot = place.folder("Two models")
        outside = tmp_path / "secret.wav"
        outside.write_bytes(b"RIFF....private")
        with daemon_for(place, BODY.replace("HOT", str(hot))) as daemon:
            write_source(hot, SOURCE, seed=4)
            jobs = done(settle(daemon, 2))
            view = TakeView(daemon.daemon.context)
            job = jobs[0]
            assert job.output_dir is not None
            found = find_manifest(Path(job.output_dir), job.id)
            assert found is not None
            path, manifest = found
            view.stem_file(job.id, 0)  # served as placed
            manifest["outputs"][0]["path"] = str(outside)
            link = Path(job.output_dir) / "looks inside.wav"
            link.symlink_to(outside)
            manifest["outputs"][1]["path"] = str(link)
            path.write_text(json.dumps(manifest), encoding="utf-8")
            for index in (0, 1):
                with pytest.raises(NotServedError):
                    view.stem_file(job.id, index)
