"""A take's page with a long take: time to first sound, and what the tab holds in memory.

    python -m benchmarks.take_page [--minutes 10] [--json PATH]

A 10-minute 48 kHz 24-bit stereo track (``benchmarks.music``) is dropped into a hot folder of
a daemon serving its page, on the emulator, with a six-stem model (BS Roformer SW: vocals,
bass, drums, guitar, piano, other, and its instrumental); its stems are placed as 24-bit WAV
at 48 kHz like the source (about 170 MB each). Then headless Chromium (Debian's, through
Selenium, autoplay allowed) opens the take's page and presses Play as soon as it has loaded:

- time to first sound: from the navigation's start (``performance.timeOrigin``) to the moment
  the first segments of all tracks (the source and seven stems) start playing together
  (the player's ``firstSoundAt``), for the first visit (the daemon computes every waveform
  meanwhile) and a second one (waveforms cached in the state folder);
- a seek to the middle (5:00) while playing: from the click to sound at the new place;
- the tab's memory after 20 s of playing: the renderer process's resident memory (``VmRSS``
  of Chromium's ``--type=renderer`` process) and the JavaScript heap (CDP
  ``Performance.getMetrics``: ``JSHeapUsedSize``; decoded audio lives outside it).

A benchmark prints figures; it is not a test, and nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.music import render
from mvsepd.emulator import EmulatorServer, EmulatorSettings
from tests.integration.support import Setup
from tests.page.browser import chromium, wait_for
from tests.page.support import PAGE_DAEMON, page_daemon

CONFIG = """
account:
  server: "{server}"
presets:
  six: {{sep_type: 63, output_format: flac24}}
folders:
  - path: "{hot}"
    preset: six
    existing_files: process
    stability_seconds: 0.5
limits:
  max_concurrent_jobs: null
daemon:
  {daemon}
"""
AUTOPLAY = ("--autoplay-policy=no-user-gesture-required",)


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(status.parent.name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def _renderer_rss_mib(driver_pid: int) -> float:
    """The largest ``--type=renderer`` process under chromedriver (the take's tab)."""
    sizes = []
    for pid in _descendants(driver_pid):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            if b"--type=renderer" not in command:
                continue
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes.append(int(line.split()[1]) / 1024)
        except OSError:
            continue
    return max(sizes, default=0.0)


def _first_sound(browser: Any, address: str) -> float:
    """Open ``address`` (a take's page), press Play; ms from navigation to first sound."""
    browser.get(address)
    browser.find_element("id", "play").click()
    wait_for(browser, lambda b: b.execute_script("return window.mvsepdPlayer.firstSoundAt"), 60)
    first = float(browser.execute_script("return window.mvsepdPlayer.firstSoundAt"))
    # firstSoundAt is when the first segments are due to start; wait until they have.
    wait_for(browser, lambda b: b.execute_script("return performance.now()") > first + 100, 10)
    return first


def measure(minutes: float) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="mvsepd-bench-take-"))
    settings = EmulatorSettings(
        queue_seconds=0.0, processing_seconds=0.5, publish_seconds=0.5, rate_limit=False
    )
    figures: dict[str, Any] = {"minutes": minutes}
    with EmulatorServer(settings) as server:
        account = server.add_account(plan="premium", credits=10_000)
        hot = tmp / "Music" / "Exports"
        hot.mkdir(parents=True)
        setup = Setup(tmp=tmp, server=server, token=account.token, hot=hot)
        track = tmp / "Long take.wav"
        figures["track"] = render(track, seconds=minutes * 60, rate=48000, subtype="PCM_24")
        text = CONFIG.format(server=server.url, hot=hot, daemon=PAGE_DAEMON)
        with page_daemon(setup, text) as page:
            started = time.monotonic()
            track.rename(hot / track.name)
            deadline = time.monotonic() + 1800
            while time.monotonic() < deadline:
                jobs = page.daemon.store.jobs()
                if jobs and all(job.state.terminal for job in jobs):
                    break
                time.sleep(0.5)
            (job,) = page.daemon.store.jobs()
            figures["job_state"] = job.state.value
            figures["stems_placed_seconds"] = round(time.monotonic() - started, 1)
            assert job.output_dir is not None, job.reason
            stems = sorted(Path(job.output_dir).glob("*.wav"))
            figures["stems"] = len(stems)
            figures["stem_mib"] = [round(stem.stat().st_size / 2**20, 1) for stem in stems]
            with chromium(AUTOPLAY) as browser:
                landing = f"/takes/{job.id}"
                browser.get(page.base + page.page.sign_in_path(landing))
                browser.get("about:blank")
                address = page.base + landing
                figures["first_sound_ms_first_visit"] = round(_first_sound(browser, address))
                figures["first_sound_ms_second_visit"] = round(_first_sound(browser, address))
                wait_for(
                    browser,
                    lambda b: b.execute_script(
                        "return document.getElementById('player').dataset.ready"
                    ),
                    120,
                )
                browser.execute_script("window.mvsepdPlayer.firstSoundAt = null")
                clicked = float(
                    browser.execute_script(
                        "const at = performance.now();"
                        "window.mvsepdPlayer.seek(arguments[0]); return at",
                        minutes * 30,
                    )
                )
                wait_for(
                    browser,
                    lambda b: b.execute_script("return window.mvsepdPlayer.firstSoundAt"),
                    60,
                )
                sound = float(browser.execute_script("return window.mvsepdPlayer.firstSoundAt"))
                figures["seek_to_sound_ms"] = round(sound - clicked)
                time.sleep(20)
                figures["position_after_20_s"] = round(
                    float(browser.execute_script("return window.mvsepdPlayer.position()")), 1
                )
                browser.execute_cdp_cmd("Performance.enable", {})
                metrics = {
                    metric["name"]: metric["value"]
                    for metric in browser.execute_cdp_cmd("Performance.getMetrics", {})["metrics"]
                }
                figures["js_heap_used_mib"] = round(metrics["JSHeapUsedSize"] / 2**20, 1)
                driver = browser.service.process
                figures["renderer_rss_mib"] = round(_renderer_rss_mib(driver.pid), 1)
    return figures


def report(figures: dict[str, Any]) -> str:
    stems = figures["stems"]
    sizes = figures["stem_mib"]
    return "\n".join(
        [
            f"## A take's page: a {figures['minutes']:g}-minute take, source and {stems} stems "
            "(48 kHz 24-bit WAV)",
            "",
            "| figure | value |",
            "| --- | --- |",
            f"| stems (MiB each) | {stems} ({min(sizes)} to {max(sizes)}) |",
            f"| time to first sound, first visit (waveforms computed meanwhile) | "
            f"{figures['first_sound_ms_first_visit']} ms |",
            f"| time to first sound, second visit | {figures['first_sound_ms_second_visit']} ms |",
            f"| a seek to the middle while playing, to sound | {figures['seek_to_sound_ms']} ms |",
            f"| tab's renderer process after 20 s of playing (VmRSS) | "
            f"{figures['renderer_rss_mib']} MiB |",
            f"| JavaScript heap (CDP JSHeapUsedSize) | {figures['js_heap_used_mib']} MiB |",
            "",
            f"From the navigation's start to all {stems + 1} tracks sounding together (Play "
            "pressed as soon as the page loaded), headless Chromium on loopback; the track is "
            f"{figures['track']}. The page decodes 5 s segments around the play position "
            "only, so memory does not grow with the take's length.",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    arguments = parser.parse_args()
    figures = measure(arguments.minutes)
    if arguments.json:
        arguments.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    print(report(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
