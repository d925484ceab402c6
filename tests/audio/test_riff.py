"""Broadcast WAV chunks written by mvsepd read back with independent readers (wavinfo, and
ffprobe and MediaInfo where installed), in the order DAWs expect."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile
import wavinfo

from mvsepd.audio import riff


def _wav(path: Path, rate: int = 48000, subtype: str = "PCM_24") -> Path:
    soundfile.write(str(path), np.zeros((4800, 2)), rate, subtype=subtype)
    return path


BEXT = riff.Bext(
    description="Vocals stem of take.wav; mvsepd preset vocals",
    originator="mvsepd",
    originator_reference="MVSEPD0123",
    origination_date="2026-11-30",
    origination_time="21:04:33",
    time_reference=172_800_000 + 7,  # one hour at 48 kHz, and 7 samples
    coding_history="A=PCM,F=48000,W=24,M=stereo,T=Nuendo\r\nA=PCM,F=48000,W=24,T=mvsepd",
)


def test_a_written_bext_reads_back_with_wavinfo(tmp_path: Path) -> None:
    plain = _wav(tmp_path / "plain.wav")
    stamped = tmp_path / "stamped.wav"
    assert riff.insert_chunks(plain, stamped, [(b"bext", BEXT.pack())])
    info = wavinfo.WavInfoReader(str(stamped))
    assert info.bext.time_reference == BEXT.time_reference
    assert info.bext.description == BEXT.description
    assert info.bext.originator == "mvsepd"
    assert info.bext.originator_date == "2026-11-30"
    assert info.bext.originator_time == "21:04:33"
    assert info.bext.coding_history.splitlines() == BEXT.coding_history.split("\r\n")
    # The audio is untouched and the file is still one libsndfile reads.
    assert np.array_equal(soundfile.read(str(stamped))[0], soundfile.read(str(plain))[0])
    assert riff.Bext.parse(riff.read_metadata(stamped)[0] or b"") == BEXT


def test_chunks_go_after_fmt_and_before_data_and_the_riff_size_is_right(tmp_path: Path) -> None:
    plain = _wav(tmp_path / "plain.wav", subtype="FLOAT")  # libsndfile adds fact/PEAK chunks
    stamped = tmp_path / "stamped.wav"
    ixml = b"<BWFXML><IXML_VERSION>1.61</IXML_VERSION></BWFXML>"  # odd length: padded
    assert riff.insert_chunks(plain, stamped, [(b"bext", BEXT.pack()), (b"iXML", ixml)])
    chunks = riff.wav_chunks(stamped)
    assert chunks is not None
    ids = [chunk.chunk_id for chunk in chunks]
    assert ids[0] == b"fmt " and ids[-1] == b"data"
    assert ids.index(b"bext") < ids.index(b"data") and ids.index(b"iXML") < ids.index(b"data")
    data = stamped.read_bytes()
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8
    last = chunks[-1]
    assert last.offset + last.size == len(data)


def test_an_existing_bext_is_replaced_not_doubled(tmp_path: Path) -> None:
    plain = _wav(tmp_path / "plain.wav")
    once, twice = tmp_path / "once.wav", tmp_path / "twice.wav"
    riff.insert_chunks(plain, once, [(b"bext", riff.Bext(time_reference=1).pack())])
    riff.insert_chunks(once, twice, [(b"bext", BEXT.pack())])
    chunks = riff.wav_chunks(twice) or []
    assert [chunk.chunk_id for chunk in chunks].count(b"bext") == 1
    assert wavinfo.WavInfoReader(str(twice)).bext.time_reference == BEXT.time_reference


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffprobe comes with ffmpeg")
def test_ffprobe_reads_the_time_reference(tmp_path: Path) -> None:
    stamped = tmp_path / "stamped.wav"
    riff.insert_chunks(_wav(tmp_path / "plain.wav"), stamped, [(b"bext", BEXT.pack())])
    answer = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format_tags", "-of", "json", str(stamped)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    tags = json.loads(answer.stdout)["format"]["tags"]
    assert int(tags["time_reference"]) == BEXT.time_reference


@pytest.mark.skipif(shutil.which("mediainfo") is None, reason="MediaInfo is not installed")
def test_mediainfo_places_the_file_at_one_hour(tmp_path: Path) -> None:
    stamped = tmp_path / "stamped.wav"
    riff.insert_chunks(_wav(tmp_path / "plain.wav"), stamped, [(b"bext", BEXT.pack())])
    answer = subprocess.run(
        ["mediainfo", "--Output=JSON", str(stamped)], check=True, capture_output=True, text=True
    )
    tracks = json.loads(answer.stdout)["media"]["track"]
    audio = next(track for track in tracks if track["@type"] == "Audio")
    assert float(audio["Delay"]) == pytest.approx(3600 + 7 / 48000, abs=1e-3)


def test_rescaling_keeps_the_time_in_seconds() -> None:
    at_48k = riff.Bext(time_reference=172_800_000)
    assert at_48k.rescaled(48000, 44100).time_reference == 158_760_000
    assert at_48k.rescaled(48000, 48000) is at_48k


def test_ixml_timestamps_are_rewritten_and_its_file_uid_renewed() -> None:
    document = (
        b"<BWFXML><FILE_UID>OLD</FILE_UID><SPEED><TIMESTAMP_SAMPLE_RATE>48000"
        b"</TIMESTAMP_SAMPLE_RATE><TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI>0"
        b"</TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI><TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO>5"
        b"</TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO></SPEED></BWFXML>"
    )
    rewritten = riff.ixml_with_timestamp(document, time_reference=(1 << 32) + 9, rate=96000)
    assert rewritten is not None
    text = rewritten.decode()
    assert "<TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI>1<" in text
    assert "<TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO>9<" in text
    assert "<TIMESTAMP_SAMPLE_RATE>96000<" in text
    assert "OLD" not in text


def test_ixml_with_a_timestamp_it_cannot_rewrite_is_dropped() -> None:
    # A timestamp written another way (an attribute, CDATA) would keep the old position.
    document = (
        b"<BWFXML><TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO a='1'>5"
        b"</TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO></BWFXML>"
    )
    assert riff.ixml_with_timestamp(document, time_reference=1, rate=48000) is None
    assert riff.ixml_with_timestamp(b"\xff\xfe not utf-8", time_reference=1, rate=48000) is None


def test_a_file_that_is_not_a_riff_wave_is_left_alone(tmp_path: Path) -> None:
    flac = tmp_path / "a.flac"
    soundfile.write(str(flac), np.zeros((100, 1)), 48000, format="FLAC")
    assert riff.wav_chunks(flac) is None
    assert riff.read_metadata(flac) == (None, None)
    assert not riff.insert_chunks(flac, tmp_path / "b.wav", [(b"bext", BEXT.pack())])
    assert not (tmp_path / "b.wav").exists()


def test_an_info_list_is_written_read_and_replaced_but_other_lists_stay(tmp_path: Path) -> None:
    plain = _wav(tmp_path / "plain.wav")
    cues = b"adtl" + b"labl" + struct.pack("<I", 6) + struct.pack("<I", 1) + b"A\0"
    with_cues = tmp_path / "cues.wav"
    assert riff.insert_chunks(plain, with_cues, [(b"LIST", cues)])
    once, twice = tmp_path / "once.wav", tmp_path / "twice.wav"
    first = riff.info_chunk([(b"INAM", "Old"), (b"IART", "Kavinsky")])
    assert first is not None
    assert riff.insert_chunks(with_cues, once, [(b"LIST", first)])
    second = riff.info_chunk([(b"INAM", "Nightcall - Vocals"), (b"ICMT", "Señorita")])
    assert second is not None
    assert riff.insert_chunks(once, twice, [(b"LIST", second)])
    assert riff.read_info(twice) == [(b"INAM", "Nightcall - Vocals"), (b"ICMT", "Señorita")]
    lists = [chunk for chunk in riff.wav_chunks(twice) or [] if chunk.chunk_id == b"LIST"]
    assert len(lists) == 2  # the cue labels, and one INFO list
    assert riff.info_chunk([]) is None
    data = twice.read_bytes()
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8
    assert np.array_equal(soundfile.read(str(twice))[0], soundfile.read(str(plain))[0])
