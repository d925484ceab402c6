"""Studio mode's configuration: where the connection string comes from, that its password
stays out of every log line, and the rules for shared folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from mvsepd.config.file import parse_config
from mvsepd.config.model import StoreConfig
from mvsepd.errors import ConfigError
from mvsepd.process import logsetup
from mvsepd.process.studiohost import studio_dsn
from mvsepd.tray.view import Notifications, tooltip


def _config(tmp_path: Path, store: str, folder: str) -> str:
    return f"""
presets:
  vocals: {{sep_type: 40}}
store:
{store}
folders:
  - path: "{tmp_path / "nas" / "Exports"}"
    preset: vocals
{folder}
"""


def test_the_connection_string_is_taken_from_config_file_or_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MVSEPD_DSN", "host=from-env")
    assert (
        studio_dsn(StoreConfig.model_validate({"backend": "postgres", "dsn": "host=inline"}))
        == "host=inline"
    )
    dsn_file = tmp_path / "dsn"
    dsn_file.write_text("host=from-file\n", encoding="utf-8")
    assert (
        studio_dsn(StoreConfig.model_validate({"backend": "postgres", "dsn_file": dsn_file}))
        == "host=from-file"
    )
    assert studio_dsn(StoreConfig.model_validate({"backend": "postgres"})) == "host=from-env"
    monkeypatch.delenv("MVSEPD_DSN")
    with pytest.raises(ConfigError, match="MVSEPD_DSN"):
        studio_dsn(StoreConfig.model_validate({"backend": "postgres"}))
    with pytest.raises(ConfigError, match="cannot read"):
        studio_dsn(
            StoreConfig.model_validate({"backend": "postgres", "dsn_file": tmp_path / "missing"})
        )


def test_the_connection_string_never_shows_in_a_repr(tmp_path: Path) -> None:
    settings = StoreConfig.model_validate(
        {"backend": "postgres", "dsn": "host=db password=hunter22-x"}
    )
    assert "hunter22-x" not in repr(settings)
    assert "hunter22-x" not in settings.model_dump_json()


def test_the_password_of_a_connection_string_is_masked_in_logs(
    tmp_path: Path, postgres_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from mvsepd.paths import AppPaths
    from mvsepd.process.studiohost import open_store

    config = parse_config(
        _config(tmp_path, f'  backend: postgres\n  dsn: "{postgres_dsn} password=Mix3r-Secret"', "")
    )
    paths = AppPaths(tmp_path / "c", tmp_path / "s", tmp_path / "k", tmp_path / "l", tmp_path / "r")
    store, _clock = open_store(config, paths, lambda: 0.0)
    store.close()
    assert logsetup.REDACTOR.scrub("connecting with password=Mix3r-Secret") == (
        f"connecting with password={logsetup.MASK}"
    )


@pytest.mark.parametrize(
    ("store", "folder", "words"),
    [
        ("  backend: sqlite", "    shared: nas", "needs studio mode"),
        ("  backend: postgres\n  shares: {other: /srv}", "    shared: nas", 'no share "nas"'),
        ("  backend: sqlite\n  shares: {nas: /srv}", "", "shares are for studio mode"),
    ],
)
def test_shared_folders_need_studio_mode_and_a_known_share(
    tmp_path: Path, store: str, folder: str, words: str
) -> None:
    with pytest.raises(ConfigError, match=words):
        parse_config(_config(tmp_path, store, folder))


def test_a_shared_folder_and_its_stems_must_be_on_the_share(tmp_path: Path) -> None:
    elsewhere = f'  backend: postgres\n  shares: {{nas: "{tmp_path / "other"}"}}'
    with pytest.raises(ConfigError, match="is not on the share nas"):
        parse_config(_config(tmp_path, elsewhere, "    shared: nas"))
    on_share = f'  backend: postgres\n  shares: {{nas: "{tmp_path / "nas"}"}}'
    off = f'    shared: nas\n    output: "{tmp_path / "local"}/{{track}} - {{stem}}.{{ext}}"'
    with pytest.raises(ConfigError, match="off the share nas"):
        parse_config(_config(tmp_path, on_share, off))
    assert parse_config(_config(tmp_path, on_share, "    shared: nas")).folders[0].shared == "nas"


def test_the_tray_says_once_that_the_studio_database_is_away() -> None:
    away = {"jobs": [], "done_today": 0, "studio": {"host": "a", "outage": "no answer"}}
    back = {"jobs": [], "done_today": 0, "studio": {"host": "a", "hosts": [], "outage": None}}
    assert "studio database unreachable" in tooltip(away)
    notices = Notifications()
    assert notices.update(back) == []
    assert [n.title for n in notices.update(away)] == ["Studio database unreachable"]
    assert notices.update(away) == []
    assert [n.title for n in notices.update(back)] == ["Studio database back"]
