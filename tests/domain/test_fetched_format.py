"""What is asked of MVSEP where it differs from a preset: WAV 16 as FLAC 16 for a folder that
conforms its stems (and keeps no MVSEP files), every other format and folder as written; and
`config check`'s words for it."""

from __future__ import annotations

from pathlib import Path

import pytest

from mvsepd.config.file import parse_config
from mvsepd.config.rules import wire_notes
from mvsepd.domain.presets import fetched_format
from mvsepd.models import OutputFormat


@pytest.mark.parametrize("asked", list(OutputFormat))
def test_only_wav16_is_fetched_as_flac16_and_only_where_the_stems_are_conformed(
    asked: OutputFormat,
) -> None:
    conforming = fetched_format(asked, conforms=True, keeps_mvsep_files=False)
    assert conforming is (OutputFormat.FLAC16 if asked is OutputFormat.WAV16 else asked)
    assert fetched_format(asked, conforms=False, keeps_mvsep_files=False) is asked
    assert fetched_format(asked, conforms=True, keeps_mvsep_files=True) is asked


def test_config_check_names_each_folder_and_preset_fetched_otherwise(tmp_path: Path) -> None:
    conforming, raw, kept = tmp_path / "In", tmp_path / "Raw", tmp_path / "Kept"
    config = parse_config(
        f"""
presets:
  split: {{sep_type: 20, output_format: wav16}}
  hires: {{sep_type: 20, output_format: flac24}}
chains:
  two:
    steps:
      - {{id: first, sep_type: 40}}
      - {{id: second, from: first/vocals, preset: split}}
folders:
  - {{path: "{conforming}", preset: [split, hires, two]}}
  - {{path: "{raw}", preset: split, conform: off}}
  - {{path: "{kept}", preset: split, keep_mvsep_files: true}}
"""
    )
    notes = wire_notes(config)
    assert len(notes) == 3, notes
    assert notes[0].startswith(f"folders[0] ({conforming}): preset 'split' asks MVSEP for wav16")
    assert "so mvsepd fetches flac16 (the same samples" in notes[0]
    assert any("chain 'two' step 'first'" in note for note in notes)  # its default, wav16
    assert any("chain 'two' step 'second'" in note for note in notes)
    quiet = ("hires", "folders[1]", "folders[2]")
    assert not any(word in note for note in notes for word in quiet)
