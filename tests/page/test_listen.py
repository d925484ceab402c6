"""A take's audio on the page, over HTTP as a browser fetches it: a stem by take, job and index
with Range requests, its peaks and its segments; nothing by path, nothing of another take.

A daemon serving its page on the emulator; a fan-out folder (two presets) and a second folder.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import requests
import soundfile

from mvsepd.outputs.reading import find_manifest
from mvsepd.page.listen import content_type
from tests.integration.support import Setup
from tests.page.support import csrf_of, page_daemon
from tests.page.takes import RATE, SECONDS, fan_out_config, wait_for_take, write_source


def test_a_stem_is_served_by_take_job_and_index_with_ranges_peaks_and_segments(
    setup: Setup, tmp_path: Path
) -> None:
    other_folder = tmp_path / "Other folder"
    other_folder.mkdir()
    config = fan_out_config(
        setup,
        more_folders=f'  - path: "{other_folder}"\n    preset: vocals\n'
        "    existing_files: process\n    stability_seconds: 0.3\n",
    )
    with page_daemon(setup, config) as page:
        write_source(setup.hot)
        write_source(other_folder, "Elsewhere.wav", seconds=3.0)
        wait_for_take(page, 3)
        jobs = sorted(page.daemon.store.jobs(), key=lambda job: job.id)
        here = [job for job in jobs if job.folder_path == str(setup.hot)]
        elsewhere = next(job for job in jobs if job.folder_path == str(other_folder))
        take = here[0].id
        vocals = next(job for job in here if job.preset_name == "vocals")
        session = page.session()
        base = f"{page.base}/takes/{take}"
        stem = f"{base}/jobs/{vocals.id}/stems/0"

        whole = session.get(stem, timeout=10)
        assert whole.status_code == 200 and whole.headers["Content-Type"] == "audio/wav"
        assert whole.headers["Accept-Ranges"] == "bytes"
        placed = page.daemon.context.store.get(vocals.id)
        assert placed.output_dir is not None
        stems_bytes = {path.read_bytes() for path in Path(placed.output_dir).glob("*.wav")}
        assert whole.content in stems_bytes

        part = session.get(stem, headers={"Range": "bytes=100-1099"}, timeout=10)
        assert part.status_code == 206
        assert part.content == whole.content[100:1100]
        assert part.headers["Content-Range"] == f"bytes 100-1099/{len(whole.content)}"
        tail = session.get(stem, headers={"Range": "bytes=-16"}, timeout=10)
        assert tail.status_code == 206 and tail.content == whole.content[-16:]
        beyond = session.get(stem, headers={"Range": f"bytes={len(whole.content) + 5}-"})
        assert beyond.status_code == 416

        # The waveform: silence in the first half, the tones in the second.
        peaks = session.get(stem + "/peaks", timeout=30).json()
        assert peaks["sample_rate"] == RATE and peaks["channels"] == 2
        assert_silent_then_tone(peaks["maximum"][0])

        # A segment: those frames as 16-bit WAV at the stem's own rate.
        cut = session.get(stem + "/segment", params={"start": RATE * 3, "frames": RATE}, timeout=30)
        assert cut.status_code == 200 and cut.headers["Content-Type"] == "audio/wav"
        samples, rate = soundfile.read(io.BytesIO(cut.content), always_2d=True)
        assert rate == RATE and samples.shape == (RATE, 2)
        assert cut.headers["X-Mvsepd-Total-Frames"] == str(int(SECONDS * RATE))
        for wrong in ({"start": -1, "frames": 10}, {"start": 0, "frames": 0}, {"start": "x"}):
            answer = session.get(stem + "/segment", params=wrong, timeout=10)
            assert answer.status_code == 400 and "problem" in answer.json(), wrong
        source_cut = session.get(base + "/source/segment", params={"start": 0, "frames": 100})
        assert source_cut.status_code == 200
        assert session.get(base + "/source", timeout=10).status_code == 200

        # Nothing the manifest does not list, nothing by path, nothing of another take.
        found = find_manifest(Path(placed.output_dir), vocals.id)
        assert found is not None
        stems_listed = len(found[1]["outputs"])
        refused = [
            f"{base}/jobs/{vocals.id}/stems/{stems_listed + 5}",
            f"{base}/jobs/{vocals.id}/stems/-1",
            f"{base}/jobs/..%2F..%2Fetc%2Fpasswd/stems/0",
            f"{base}/jobs/{vocals.id}/stems/..%2Fmanifest.json",
            f"{page.base}/takes/{take}/jobs/{elsewhere.id}/stems/0",
            f"{page.base}/takes/{take}/jobs/{elsewhere.id}/stems/0/peaks",
            f"{page.base}/takes/{take}/jobs/{elsewhere.id}/stems/0/segment?start=0&frames=10",
            f"{page.base}/takes/{here[1].id}/jobs/{here[1].id}/stems/0",  # not a take's id
            f"{page.base}/takes/{take}/source/../../etc/passwd",
        ]
        for address in refused:
            answer = session.get(address, timeout=10)
            assert answer.status_code == 404, (address, answer.status_code)
        # The other folder's job is served under its own take.
        assert session.get(f"{page.base}/takes/{elsewhere.id}/jobs/{elsewhere.id}/stems/0").ok
        # Signed out: nothing.
        assert requests.get(stem, timeout=10).status_code == 401


def assert_silent_then_tone(highs: list[float]) -> None:
    """The shape of the test signal: nothing in the first half (but for the split's ringing
    just before the tone starts), the tone all through the second."""
    values = np.abs(np.array(highs))
    quarter = len(values) // 4
    first, second = values[: 2 * quarter - quarter // 4], values[2 * quarter + 2 :]
    assert values[:quarter].max() < 0.001, "the first quarter is silent"
    assert first.mean() < 0.05 * second.mean() and second.min() > 0.05


def test_show_in_folder_reveals_the_stems_folder_of_a_job_of_the_take(setup: Setup) -> None:
    with page_daemon(setup, fan_out_config(setup)) as page:
        write_source(setup.hot)
        take = wait_for_take(page, 2)
        shown: list[Path] = []
        page.page.app.host.reveal = shown.append  # the desktop's file manager, as a test sees it
        session = page.session()
        token = csrf_of(session.get(page.base + "/", timeout=10).text)
        job = take.jobs[1]
        address = f"{page.base}/takes/{take.id}/jobs/{job.id}/reveal"
        answer = session.post(
            address, headers={"Origin": page.base, "X-Mvsepd-CSRF": token}, timeout=10
        )
        assert answer.status_code == 200, answer.text
        assert job.output_dir is not None
        assert shown == [Path(job.output_dir)]
        # Without the page's own origin and token it does nothing.
        assert session.post(address, timeout=10).status_code == 403
        assert shown == [Path(job.output_dir)]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Take - Vocals.wav", "audio/wav"),
        ("Take - Vocals.FLAC", "audio/flac"),
        ("Take - Vocals.aif", "audio/aiff"),
        ("Take - Vocals.m4a", "audio/mp4"),
        ("Take - Vocals.mp3", "audio/mpeg"),
        ("Take - Notes.mid", "application/octet-stream"),
    ],
)
def test_each_container_is_served_as_its_own_type(name: str, expected: str) -> None:
    assert content_type(Path(name)) == expected
