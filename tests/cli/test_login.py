"""``mvsepd login`` with the token MVSEP's page shows, against the emulator over HTTP: checked
before it is stored, the server remembered in the configuration, ``config init`` after it."""

from __future__ import annotations

import io
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from mvsepd.cli import main
from mvsepd.config.file import load_config, resolve_token
from mvsepd.emulator import EmulatorServer, EmulatorSettings
from mvsepd.exits import ExitStatus
from tests.cli.terminal import Terminal


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(EmulatorSettings(rate_limit=False)) as server:
        yield server


def typed(monkeypatch: pytest.MonkeyPatch, *lines: str) -> None:
    """What the user types (or pipes) on stdin."""
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(f"{line}\n" for line in lines)))


def test_login_with_a_token_checks_it_stores_it_and_writes_the_server(
    home: Path,
    emulator: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    account = emulator.add_account(plan="premium", credits=40)
    typed(monkeypatch, account.token)
    assert main(["login", "--token", "--server", emulator.url]) == 0
    out = capsys.readouterr().out
    assert f"logged in as {account.name} (premium, 40 credits)" in out
    assert account.token not in out
    token_file = home / "config" / "token"
    assert token_file.read_text() == account.token + "\n"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    # No configuration yet: the starter is written with the server and the stored token.
    config_file = home / "config" / "config.yaml"
    assert f"wrote {config_file} (server {emulator.url}" in out
    loaded = load_config(config_file)
    assert loaded.config.account.server == emulator.url
    assert loaded.config.account.token_file == token_file
    assert resolve_token(loaded.config, default_token_file=token_file).reveal() == account.token
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    # The daemon's own check of the file passes without any environment variable.
    assert main(["config", "check", "--offline"]) == 0


def test_a_token_pasted_at_the_e_mail_prompt_is_taken_as_the_token(
    home: Path, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = emulator.add_account()
    typed(monkeypatch, account.token)
    config = home / "elsewhere.yaml"
    assert main(["login", "--server", emulator.url, "--config", str(config)]) == 0
    assert (home / "config" / "token").read_text().strip() == account.token
    assert load_config(config).config.account.server == emulator.url


def test_a_token_pasted_at_the_prompt_of_a_terminal_does_not_stay_on_it(
    home: Path, emulator: EmulatorServer
) -> None:
    # The e-mail prompt echoes what is typed (an e-mail should be seen); a token pasted there
    # is written over at once, so it stays in no scrollback.
    account = emulator.add_account()
    config = home / "elsewhere.yaml"
    terminal = Terminal(["login", "--server", emulator.url, "--config", str(config)])
    terminal.wait_for(lambda text: "paste your API token" in text, 30, "the prompt")
    terminal.type(account.token + "\r")
    assert terminal.finish() == 0, terminal.text()
    screen = terminal.screen()
    assert account.token not in screen, screen
    assert "MVSEP e-mail (or paste your API token): (the API token, not shown)" in screen
    assert "logged in as" in screen
    assert (home / "config" / "token").read_text().strip() == account.token


def test_a_token_mvsep_does_not_know_is_refused_and_nothing_is_written(
    home: Path,
    emulator: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    typed(monkeypatch, "AbCdEfGhIjKlMnOpQrStUvWxYz0123")
    assert main(["login", "--token", "--server", emulator.url]) == ExitStatus.USAGE
    err = capsys.readouterr().err
    host = emulator.url.removeprefix("http://")
    assert f"MVSEP ({host}) does not know this API token; copy it again from " in err
    assert "AbCdEfGhIjKlMnOpQrStUvWxYz0123" not in err
    assert not (home / "config").exists()


def test_the_server_is_written_into_an_existing_configuration_keeping_its_comments(
    home: Path,
    emulator: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    account = emulator.add_account()
    config = home / "config" / "config.yaml"
    config.parent.mkdir()
    before = (
        "# my studio\n"
        "account:\n"
        "  server: mvsep.com   # was the main site\n"
        "presets:\n"
        "  vocals: {sep_type: 48}   # the usual\n"
    )
    config.write_text(before)
    typed(monkeypatch, account.token)
    assert main(["login", "--token", "--server", emulator.url]) == 0
    assert f"server {emulator.url} written to {config}" in capsys.readouterr().out
    assert config.read_text() == before.replace(
        "server: mvsep.com   #", f"server: {emulator.url} #"
    )
    # Without --server, the configured server is the one logged in to, and nothing is written.
    typed(monkeypatch, account.token)
    assert main(["login", "--token"]) == 0
    assert load_config(config).config.account.server == emulator.url


def test_config_init_after_a_login_reads_the_stored_token(
    home: Path,
    emulator: EmulatorServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    account = emulator.add_account()
    typed(monkeypatch, account.token)
    other = str(home / "other.yaml")
    assert main(["login", "--token", "--server", emulator.url, "--config", other]) == 0
    capsys.readouterr()
    assert main(["config", "init"]) == 0
    token_file = home / "config" / "token"
    assert f"(the API token is read from {token_file})" in capsys.readouterr().out
    config = load_config(home / "config" / "config.yaml").config
    assert config.account.token_file == token_file
    assert main(["config", "init"]) == 1
    assert "already exists; not overwriting it" in capsys.readouterr().err


def test_a_refused_connection_names_the_host(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with EmulatorServer(EmulatorSettings()) as stopped:
        url = stopped.url
    typed(monkeypatch, "AbCdEfGhIjKlMnOpQrStUvWxYz0123")
    assert main(["login", "--token", "--server", url]) == ExitStatus.ERROR
    host = url.removeprefix("http://")
    said = capsys.readouterr().err
    assert f"MVSEP: cannot connect to {host} (refused, unreachable or DNS failure)" in said
    assert "/app/" not in said  # an API path means nothing to the user
    assert not (home / "config").exists()
