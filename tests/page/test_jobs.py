"""The Jobs page over HTTP, as a browser's forms and its live request use it: the filters,
the live part with the same filters, a failed job's reason and what to do, and the controls
sending the browser back to the filtered list it came from (never elsewhere)."""

from __future__ import annotations

import re
from html import unescape

from tests.integration.support import wait_until, write_wav
from tests.page.support import PageSetup, csrf_of


def _words(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def test_the_jobs_list_filters_and_its_controls_come_back_to_it(page: PageSetup) -> None:
    (page.setup.hot / "Broken.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" + bytes(300))
    write_wav(page.setup.hot / "Good.wav", seed=4)
    wait_until(
        lambda: (
            len(page.daemon.store.jobs()) == 2
            and all(job.state.terminal for job in page.daemon.store.jobs())
        ),
        60,
        message="both jobs to end",
    )
    session = page.session()
    everything = _words(session.get(page.base + "/jobs", timeout=10).text)
    assert "Broken.wav" in everything and "Good.wav" in everything
    assert "fix the file: export or copy it into the folder again" in everything
    failed = _words(session.get(page.base + "/jobs?state=failed", timeout=10).text)
    assert "Broken.wav" in failed and "Good.wav" not in failed
    done = _words(session.get(page.base + "/jobs?state=done&today=1", timeout=10).text)
    assert "Good.wav" in done and "Broken.wav" not in done
    elsewhere = session.get(page.base + "/jobs", params={"folder": "/nowhere"}, timeout=10)
    assert "No jobs that fit these filters" in _words(elsewhere.text)
    live = session.get(
        page.base + "/live", params={"view": "jobs", "state": "failed"}, timeout=10
    ).json()
    assert "Broken.wav" in live["html"] and "Good.wav" not in live["html"]
    assert [take["file"] for take in live["takes"]] == ["Good.wav"], "done takes, for notices"

    token = csrf_of(session.get(page.base + "/jobs", timeout=10).text)
    paused = session.post(
        page.base + "/pause",
        data={"csrf": token, "back": "/jobs?state=failed"},
        headers={"Origin": page.base},
        timeout=10,
    )
    assert paused.url == page.base + "/jobs?state=failed"
    assert "paused: no new submissions" in _words(paused.text)
    assert "Resume all" in paused.text
    resumed = session.post(
        page.base + "/resume",
        data={"csrf": token, "back": "//evil.example/"},
        headers={"Origin": page.base},
        timeout=10,
    )
    assert resumed.url == page.base + "/", "a back that is not the page's own leads home"
