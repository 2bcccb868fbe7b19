"""The command line as a newcomer meets it: one-line errors instead of tracebacks, nothing
created by a command that fails, admin commands that never make a database of their own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from b24tel.cli.main import cli
from b24tel.config import Settings
from tests.conftest import free_port
from tests.servers import ServeProcess

# starts real b24tel processes: left out of the quick run (`-m "not slow"`)
pytestmark = pytest.mark.slow


def b24tel(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("B24TEL_")}
    return subprocess.run(
        [sys.executable, "-m", "b24tel", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**base, **(env or {})},
        timeout=60,
    )


def one_line_error(result: subprocess.CompletedProcess, *words: str) -> str:
    assert result.returncode != 0, result.stdout
    text = result.stderr.strip()
    assert "Traceback" not in text, text
    assert text.startswith("Error: ") and "\n" not in text, text
    for word in words:
        assert word in text, text
    return text


def test_admin_command_elsewhere_creates_nothing(tmp_path: Path) -> None:
    result = b24tel("users", "add", "--name", "Anna", cwd=tmp_path)
    text = one_line_error(result, "no b24tel database", "--data-dir", "B24TEL_DATA_DIR")
    assert str(tmp_path / "b24tel-data" / "b24tel.db") in text
    assert list(tmp_path.iterdir()) == []
    for args in (("webhooks", "list"), ("apps", "list"), ("recordings", "verify")):
        one_line_error(b24tel(*args, cwd=tmp_path), "no b24tel database")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("port", ["99999", "-1", "0"])
def test_bad_port_is_refused_before_anything_happens(tmp_path: Path, port: str) -> None:
    result = b24tel("serve", "--port", port, "--data-dir", str(tmp_path / "d"), cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "Webhook URL" not in result.stdout
    assert not (tmp_path / "d").exists()


def test_port_in_use_creates_nothing_and_a_later_start_prints_the_url(tmp_path: Path) -> None:
    import socket

    port = free_port()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        result = b24tel("serve", "--port", str(port), "--data-dir", "d", cwd=tmp_path)
        one_line_error(result, f"cannot listen on 127.0.0.1:{port}")
        assert "Webhook URL" not in result.stdout
    with ServeProcess(tmp_path / "d", port=port) as server:
        assert server.hook.startswith(f"http://127.0.0.1:{port}/rest/1/"), server.output


@pytest.mark.parametrize(
    ("args", "env", "words"),
    [
        (("--tls-cert", "missing.pem", "--tls-key", "missing.key"), {}, ["TLS", "missing.pem"]),
        (("--tls-cert", "junk.pem", "--tls-key", "junk.pem"), {}, ["PEM"]),
        ((), {"B24TEL_LOG_LEVEL": "loud"}, ["log_level"]),
        ((), {"B24TEL_STORAGE_URL": "ftp://x/y"}, ["storage_url"]),
        ((), {"B24TEL_DATABASE_URL": "mysql://x/y"}, ["database_url"]),
        (
            (),
            {"B24TEL_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nowhere"},
            ["cannot use the database", "127.0.0.1:1"],
        ),
        (("--config", "bad.toml"), {}, ["bad.toml", "TOML"]),
        (("--data-dir", "afile/sub"), {}, ["cannot create the data directory"]),
    ],
)
def test_serve_errors_are_one_line(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], words: list[str]
) -> None:
    (tmp_path / "junk.pem").write_text("not a certificate")
    (tmp_path / "bad.toml").write_text("port = [unclosed")
    (tmp_path / "afile").write_text("a file, not a directory")
    port = str(free_port())
    result = b24tel("serve", "--port", port, *args, cwd=tmp_path, env=env)
    one_line_error(result, *words)
    assert not (tmp_path / "b24tel-data").exists()


def test_postgresql_urls_as_hosting_panels_write_them() -> None:
    for url in ("postgresql://u@h/db", "postgres://u@h/db", "postgresql+psycopg2://u@h/db"):
        settings = Settings.load(env={}, database_url=url)
        assert settings.effective_database_url == "postgresql+asyncpg://u@h/db"


def test_version_and_help_text_everywhere() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("b24tel, version ")

    def walk(command: click.Command, path: str) -> None:
        assert command.help, f"{path} has no help text"
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{path} {param.opts} has no help text"
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, f"{path} {name}")

    walk(cli, "b24tel")


@pytest.fixture
def admin(tmp_path: Path) -> CliRunner:
    """A data directory with a database, as `serve` leaves it."""
    from b24tel.db import migrate

    data = tmp_path / "data"
    data.mkdir()
    migrate.upgrade(f"sqlite+aiosqlite:///{data / 'b24tel.db'}")
    return CliRunner(env={"B24TEL_DATA_DIR": str(data)})


def test_users_add_refuses_a_taken_inner_number_and_a_bad_email(admin: CliRunner) -> None:
    first = admin.invoke(cli, ["users", "add", "--name", "A", "--inner-number", "101"])
    assert first.exit_code == 0, first.output
    taken = admin.invoke(cli, ["users", "add", "--name", "B", "--inner-number", "1-0-1"])
    assert taken.exit_code != 0 and "already belongs to active user 1" in taken.output
    # an inactive user may keep an extension that is in use
    idle = admin.invoke(cli, ["users", "add", "--name", "C", "--inner-number", "101", "--inactive"])
    assert idle.exit_code == 0, idle.output
    bad = admin.invoke(cli, ["users", "add", "--name", "D", "--email", "not-an-address"])
    assert bad.exit_code != 0 and "not a valid e-mail" in bad.output


def test_webhooks_create_prints_the_configured_address(admin: CliRunner) -> None:
    admin.invoke(cli, ["users", "add", "--name", "A"])
    public = admin.invoke(
        cli, ["webhooks", "create", "--user", "1"], env={"B24TEL_PUBLIC_URL": "https://pbx.example"}
    )
    assert public.output.startswith("https://pbx.example/rest/1/"), public.output
    tls = admin.invoke(
        cli,
        ["webhooks", "create", "--user", "1"],
        env={
            "B24TEL_PORT": "8443",
            "B24TEL_HOST": "0.0.0.0",
            "B24TEL_TLS_CERT": "c.pem",
            "B24TEL_TLS_KEY": "k.pem",
        },
    )
    assert tls.output.startswith("https://127.0.0.1:8443/rest/1/"), tls.output


def test_simulate_against_nothing_is_one_line(tmp_path: Path) -> None:
    port = free_port()
    result = b24tel(
        "simulate", "--url", f"http://127.0.0.1:{port}/rest/1/abcdef/", "--calls", "1",
        cwd=tmp_path,
    )  # fmt: skip
    text = one_line_error(result, "check --url")
    assert "abcdef" not in text
