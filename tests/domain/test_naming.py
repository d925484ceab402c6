"""Output paths: the template, the output root, safe names that never leave the root."""

from __future__ import annotations

from pathlib import Path

import pytest

from mvsepd.domain import naming

ROOT = Path("/music/Exports/Vocals stems")


def test_default_template_layout() -> None:
    root = naming.output_root(
        naming.DEFAULT_OUTPUT_TEMPLATE, parent=Path("/music/Exports"), folder="Vocals"
    )
    assert root == ROOT
    path = naming.render(
        naming.DEFAULT_OUTPUT_TEMPLATE,
        {"track": "My Song", "stem": "Vocals", "ext": "wav"},
        root=root,
    )
    assert path == ROOT / "My Song" / "My Song - Vocals.wav"


@pytest.mark.parametrize(
    "hostile",
    [
        "../../.bashrc",
        "/etc/passwd",
        "a/b",
        "a\\b",
        "CON",
        "nul.txt",
        "x\x00y",
        "line\nbreak",
        "..",
        ".",
        "",
        "é" * 300,
        "x" * 1000,
    ],
)
def test_hostile_stem_labels_stay_inside_the_root(hostile: str) -> None:
    path = naming.render(
        naming.DEFAULT_OUTPUT_TEMPLATE,
        {"track": "Song", "stem": hostile, "ext": "wav"},
        root=ROOT,
    )
    assert ROOT in path.parents
    assert path.parent == ROOT / "Song"
    assert len(path.name.encode("utf-8")) <= 255
    assert path.name.endswith(".wav")
    assert "\x00" not in str(path) and "\n" not in path.name
    assert path.name.split(".")[0].upper() not in {"CON", "NUL"}


def test_long_track_names_keep_the_stem_label_and_extension() -> None:
    track = "Very long title " * 40
    vocals = naming.render(
        naming.DEFAULT_OUTPUT_TEMPLATE, {"track": track, "stem": "Vocals", "ext": "flac"}, root=ROOT
    )
    other = naming.render(
        naming.DEFAULT_OUTPUT_TEMPLATE, {"track": track, "stem": "Other", "ext": "flac"}, root=ROOT
    )
    assert vocals.name.endswith(" - Vocals.flac")
    assert other.name.endswith(" - Other.flac")
    assert vocals != other
    assert len(vocals.name.encode()) <= 255 and len(vocals.parent.name.encode()) <= 255


def test_subdir_cannot_climb_out() -> None:
    template = "{parent}/{folder} stems/{subdir}/{track}/{stem}.{ext}"
    path = naming.render(
        template, {"track": "t", "stem": "s", "ext": "wav", "subdir": "../../a/b"}, root=ROOT
    )
    assert path == ROOT / "a" / "b" / "t" / "s.wav"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{parent}/out/{track}.{ext}", "{stem}"),
        ("{parent}/out/{track}/{stem}", "{ext}"),
        ("{parent}/{nope}/{track}/{stem}.{ext}", "unknown placeholder"),
        ("{parent}/{track/{stem}.{ext}", "malformed"),
    ],
)
def test_bad_templates_are_refused(template: str, message: str) -> None:
    with pytest.raises(naming.TemplateProblem, match=message.replace("{", r"\{")):
        naming.check_template(template)


def test_utf8_truncation_keeps_whole_characters() -> None:
    text = "日本語" * 100
    cut = naming.truncate_name(text + ".wav")
    assert cut.endswith(".wav")
    assert len(cut.encode("utf-8")) <= 255
    cut.encode("utf-8").decode("utf-8")
