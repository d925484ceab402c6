"""What must hold after a chaos run, however often and wherever the daemon was killed.

Checked once the daemon has been stopped cleanly at the end:

- every distinct input was created at MVSEP exactly once (nothing paid twice, nothing for
  content that was never dropped), identical copies included; an upload sent as FLAC counts
  for the input whose samples it decodes to, exactly;
- every input has exactly one job: ``done`` with all its stems (each decodes at the input's
  rate, channels and exact frame count, conformed from MVSEP's 44.1 kHz; the manifest's
  SHA-256 values match the files; no ``name (2)`` copies), or ``failed``
  with a reason, and then only because MVSEP failed it (transient faults are waited out);
- no ``.part``, temporary file or staging folder anywhere next to the hot folder;
- every original is byte-identical to what was written;
- the job store passes its own integrity check, and the daemon logged no crashed step.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import soundfile

from mvsepd.domain.hashing import file_sha256
from mvsepd.emulator.jobs import DONE, FAILED, JobSnapshot
from mvsepd.models import JobRecord, JobState
from mvsepd.store import JobStore, SqlJobStore
from tests.chaos.inputs import InputFile, md5_part
from tests.integration.support import Setup

#: Log events that mean a step of the daemon crashed instead of being judged.
CRASH_MARKERS = ('"step_crashed"', '"tick_failed"', "Traceback (most recent call last)")


def problems_after_run(
    setup: Setup,
    written: list[InputFile],
    open_store: Callable[[], SqlJobStore] | None = None,
) -> list[str]:
    """Return every broken invariant, in words (empty when the run was clean). ``open_store``
    opens the store every daemon shared (by default the setup's SQLite file)."""
    problems: list[str] = []
    contents: dict[str, InputFile] = {}
    for item in written:
        contents.setdefault(item.sha256, item)
    remote_by_md5: dict[str, list[JobSnapshot]] = defaultdict(list)
    expected_md5 = {item.md5_prefix for item in contents.values()}
    by_samples = {samples_sha256(setup.hot / item.name): item for item in contents.values()}
    by_flac_name = {f"{Path(item.name).stem}.flac": contents[item.sha256] for item in written}
    for remote in setup.server.state.jobs():
        if remote.token != setup.token:
            continue
        md5 = md5_part(remote.hash)
        received = setup.server.state.received_file(remote.hash)
        if md5 not in expected_md5:
            # Sent as FLAC: the same samples in other bytes (or, once MVSEP dropped the bytes
            # of a failed job, the same name with the FLAC extension).
            if received is not None:
                matched = by_samples.get(samples_sha256(received))
            else:
                matched = by_flac_name.get(remote.received_name)
            md5 = matched.md5_prefix if matched is not None else md5
        remote_by_md5[md5].append(remote)
    for md5, remotes in remote_by_md5.items():
        if md5 not in expected_md5:
            problems.append(f"{len(remotes)} create(s) at MVSEP for content never dropped: {md5}")
    with open_store() if open_store else JobStore(setup.paths.store_file) as store:
        jobs = store.jobs()
        problems.extend(f"store: {problem}" for problem in store.integrity_problems())
    jobs_by_content: dict[str, list[JobRecord]] = defaultdict(list)
    for job in jobs:
        jobs_by_content[job.content_sha256].append(job)
    for sha256, item in contents.items():
        remotes = remote_by_md5.get(item.md5_prefix, [])
        if len(remotes) != 1:
            problems.append(f"{item.name}: created {len(remotes)} times at MVSEP, not once")
        local = jobs_by_content.get(sha256, [])
        if len(local) != 1:
            problems.append(f"{item.name}: {len(local)} jobs in the store, not one")
            continue
        problems.extend(
            _job_problems(setup, item, local[0], remotes[0] if len(remotes) == 1 else None)
        )
    problems.extend(_file_problems(setup, written))
    return problems


def samples_sha256(path: Path) -> str:
    """SHA-256 of a file's decoded samples (as 32-bit integers) with its rate and channels."""
    data, rate = soundfile.read(str(path), dtype="int32", always_2d=True)
    digest = hashlib.sha256(f"{rate}:{data.shape[1]}:".encode())
    digest.update(data.tobytes())
    return digest.hexdigest()


def _file_problems(setup: Setup, written: list[InputFile]) -> list[str]:
    """Half-written files, changed originals and crashed steps in the log."""
    problems: list[str] = []
    leftovers = setup.leftovers()
    if leftovers:
        problems.append(f"half-written files left: {sorted(map(str, leftovers))[:10]}")
    for item in written:
        path = setup.hot / item.name
        if not path.is_file() or path.read_bytes() != item.data:
            problems.append(f"{item.name}: the original changed or went missing")
    log = setup.tmp / "daemon.log"
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    for marker in CRASH_MARKERS:
        if marker in text:
            line = next(line for line in text.splitlines() if marker in line)
            problems.append(f"the daemon logged {marker}: {line[:400]}")
    return problems


def _job_problems(
    setup: Setup, item: InputFile, job: JobRecord, remote: JobSnapshot | None
) -> list[str]:
    if job.state is JobState.FAILED:
        if not job.reason:
            return [f"{item.name}: failed without a reason"]
        if remote is None or remote.status != FAILED:
            status = remote.status if remote else "no job"
            return [f"{item.name}: failed ({job.reason}) although MVSEP says {status}"]
        return []
    if job.state is not JobState.DONE:
        return [f"{item.name}: ended {job.state.value} ({job.reason})"]
    if remote is None or remote.status != DONE or job.separation_hash != remote.hash:
        return [f"{item.name}: done, but not with MVSEP's one finished job"]
    return _stem_problems(setup, item, job, remote)


def _stem_problems(setup: Setup, item: InputFile, job: JobRecord, remote: JobSnapshot) -> list[str]:
    if not job.output_dir:
        return [f"{item.name}: done without an output folder"]
    folder = Path(job.output_dir)
    manifest_path = folder / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return [f"{item.name}: no readable manifest ({error})"]
    problems: list[str] = []
    if manifest.get("job_id") != job.id or manifest["mvsep"]["hash"] != job.separation_hash:
        problems.append(f"{item.name}: the manifest belongs to another job")
    outputs = manifest.get("outputs", [])
    if len(outputs) != len(remote.files):
        problems.append(f"{item.name}: {len(outputs)} stems listed, MVSEP made {len(remote.files)}")
    listed = {"manifest.json"}
    for entry in outputs:
        path = Path(entry["path"])
        listed.add(path.name)
        if not path.is_file():
            problems.append(f"{item.name}: stem {path.name} is missing")
            continue
        if file_sha256(path) != entry["sha256"]:
            problems.append(f"{item.name}: stem {path.name} does not match its manifest")
        placed = soundfile.info(str(path))
        shape = (placed.samplerate, placed.channels, placed.frames)
        if shape != item.audio_shape:
            problems.append(
                f"{item.name}: stem {path.name} is (rate, channels, frames) {shape}, "
                f"its source {item.audio_shape}"
            )
    extra = sorted(path.name for path in folder.iterdir() if path.name not in listed)
    if extra:
        problems.append(f"{item.name}: files beside its stems and manifest: {extra}")
    return problems
