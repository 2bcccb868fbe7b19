"""The command line: first start of `b24tel serve`, graceful shutdown, admin commands."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from b24tel.app import create_app
from b24tel.cli.main import cli
from b24tel.config import Settings
from b24tel.db import migrate
from b24tel.db.engine import Database
from tests.conftest import free_port, reset_database
from tests.helpers import assert_time_block

# starts real b24tel processes: left out of the quick run (`-m "not slow"`)
pytestmark = pytest.mark.slow


def _start(tmp_path: Path, port: int) -> tuple[subprocess.Popen, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("B24TEL_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "b24tel",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    url = ""
    deadline = time.monotonic() + 30
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            raise AssertionError(f"b24tel serve exited with {proc.returncode}")
        if match := re.search(r"Webhook URL: (\S+)", line):
            url = match.group(1)
        if "Uvicorn running" in line or "Application startup complete" in line:
            break
    threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep the pipe drained
    return proc, url


def test_serve_first_start_then_graceful_shutdown(tmp_path: Path) -> None:
    port = free_port()
    proc, url = _start(tmp_path, port)
    try:
        assert re.fullmatch(rf"http://127\.0\.0\.1:{port}/rest/1/[0-9a-f]{{16}}/", url), url
        body = httpx.get(url + "server.time").json()
        assert isinstance(body["result"], str)
        assert_time_block(body["time"])
        assert (tmp_path / "data" / "b24tel.db").exists()

        # an in-flight request (its body still arriving) finishes after SIGTERM; the signal
        # goes once the server has surely read the request's head — sent at once, a loaded
        # machine may deliver it first, and a connection with no request yet is closed
        def slow_body():  # type: ignore[no-untyped-def]
            yield b"a=1"
            time.sleep(0.5)
            proc.send_signal(signal.SIGTERM)
            time.sleep(1.0)
            yield b"&b=2"

        response = httpx.post(
            url + "server.time",
            content=slow_body(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 200 and "result" in response.json()
        # uvicorn re-raises the signal it caught once shutdown is complete
        assert proc.wait(20) in (0, -signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
    # the second start does not create another webhook
    proc, url = _start(tmp_path, port)
    try:
        assert url == ""
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) in (0, -signal.SIGINT)


@pytest.fixture
def runner(settings: Settings) -> CliRunner:
    async def reset() -> None:
        db = Database(settings.effective_database_url)
        await reset_database(db)
        await db.dispose()

    asyncio.run(reset())
    return CliRunner(
        env={
            "B24TEL_DATABASE_URL": settings.effective_database_url,
            "B24TEL_DATA_DIR": settings.data_dir,
        }
    )


async def _profile_with_token(settings: Settings, token: str) -> list[str]:
    """The printed token works in the query, a form body and a Bearer header."""
    app = create_app(settings)
    ids = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for response in (
                await client.get(f"/rest/profile?auth={token}"),
                await client.post("/rest/profile.json", data={"auth": token}),
                await client.post("/rest/profile", headers={"Authorization": f"Bearer {token}"}),
            ):
                ids.append(response.json()["result"]["ID"])
    return ids


def test_admin_commands(runner: CliRunner, settings: Settings) -> None:
    out = runner.invoke(cli, ["users", "add", "--name", "Ann", "--inner-number", "101", "--admin"])
    assert out.exit_code == 0, out.output
    assert out.output.strip() == "1"
    out = runner.invoke(cli, ["users", "list"])
    assert "1\tY\tY\t101\tAnn" in out.output
    out = runner.invoke(
        cli,
        [
            "webhooks",
            "create",
            "--user",
            "1",
            "--scope",
            "telephony,crm,user",
            "--code",
            "mycode123",
        ],
    )
    assert out.exit_code == 0 and out.output.strip().endswith("/rest/1/mycode123/"), out.output
    out = runner.invoke(cli, ["webhooks", "create", "--user", "1", "--scope", "nonsense"])
    assert out.exit_code != 0 and "unknown scope" in out.output
    out = runner.invoke(cli, ["webhooks", "create", "--user", "1", "--code", "mycode123"])
    assert out.exit_code != 0 and "already exists" in out.output
    out = runner.invoke(cli, ["webhooks", "list"])
    assert "1\t1\tactive\tcrm,telephony,user" in out.output
    assert runner.invoke(cli, ["webhooks", "revoke", "1"]).exit_code == 0
    assert "revoked" in runner.invoke(cli, ["webhooks", "list"]).output
    assert runner.invoke(cli, ["webhooks", "revoke", "1"]).exit_code != 0
    out = runner.invoke(cli, ["apps", "create", "--name", "Connector"])
    assert re.search(r"client_id: local\.[0-9a-f]{13}\.\d{8}", out.output), out.output
    out = runner.invoke(cli, ["apps", "token", "--app", "1", "--user", "1"])
    assert re.search(r"access_token: [0-9a-f]{70}\nrefresh_token: [0-9a-f]{70}", out.output)
    assert runner.invoke(cli, ["apps", "token", "--app", "9", "--user", "1"]).exit_code != 0
    access = re.search(r"access_token: (\w+)", out.output).group(1)  # type: ignore[union-attr]
    assert asyncio.run(_profile_with_token(settings, access)) == ["1", "1", "1"]
    out = runner.invoke(cli, ["apps", "code", "--app", "1", "--user", "1"])
    assert re.fullmatch(r"[0-9a-f]{32}\n", out.output)


def test_users_update_deactivate_activate(runner: CliRunner) -> None:
    def run(*args: str) -> str:
        out = runner.invoke(cli, list(args))
        assert out.exit_code == 0, out.output
        return out.output.strip()

    def refused(*args: str) -> str:
        out = runner.invoke(cli, list(args))
        assert out.exit_code == 1, out.output
        return out.output.strip()

    run("users", "add", "--name", "Ann", "--inner-number", "101", "--admin")
    run("users", "add", "--name", "Bob", "--inner-number", "102")
    assert refused("users", "add", "--name", "Cid", "--inner-number", "102") == (
        "Error: inner number 102 already belongs to active user 2 (Bob)"
    )
    assert run("users", "update", "2", "--last-name", "Stone", "--email", "bob@x.io") == "updated"
    assert "2\tY\tN\t102\tBob Stone" in run("users", "list")
    assert run("users", "deactivate", "2") == "deactivated"
    assert run("users", "add", "--name", "Cid", "--inner-number", "102") == "3"
    assert "2\tN\tN\t102\tBob Stone" in run("users", "list")
    assert refused("users", "activate", "2") == (
        "Error: inner number 102 already belongs to active user 3 (Cid)"
    )
    run("users", "update", "2", "--inner-number", "")
    assert run("users", "activate", "2") == "activated"
    assert refused("users", "deactivate", "1") == "Error: user 1 is the only active administrator"
    assert refused("users", "update", "9", "--name", "X") == "Error: user 9 does not exist"
    assert refused("users", "update", "3", "--email", "BOB@x.io") == (
        "Error: user 2 already has the e-mail address BOB@x.io"
    )


def test_dev_cert(tmp_path: Path) -> None:
    out = CliRunner().invoke(cli, ["dev-cert", "--out", str(tmp_path / "tls")])
    assert out.exit_code == 0, out.output
    for name in ("ca.pem", "server.pem", "server.key"):
        assert (tmp_path / "tls" / name).stat().st_size > 0
    assert "SSL_CERT_FILE" in out.output


HOG = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA busy_timeout=30000")
print("holding", flush=True)
end = time.monotonic() + 60
while time.monotonic() < end:
    conn.execute("BEGIN IMMEDIATE")
    time.sleep(0.3)  # a long write transaction
    conn.execute("COMMIT")
    time.sleep(0.0003)  # and the lock free for a moment only
"""


def test_a_command_gets_its_write_in_beside_a_process_that_keeps_the_lock(
    tmp_path: Path,
) -> None:
    """A busy server lets go of SQLite's write lock only for moments between transactions;
    SQLite's own busy handler (tries 100 ms apart) missed them for the whole busy timeout
    and the command failed with "database is locked"."""
    data = tmp_path / "data"
    data.mkdir()
    migrate.upgrade(f"sqlite+aiosqlite:///{data / 'b24tel.db'}")
    hog = subprocess.Popen(
        [sys.executable, "-c", HOG, str(data / "b24tel.db")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert hog.stdout is not None and hog.stdout.readline().strip() == "holding"
        runner = CliRunner(env={"B24TEL_DATA_DIR": str(data)})
        for name in ("Ann", "Bob", "Cy"):
            done = runner.invoke(cli, ["users", "add", "--name", name])
            assert done.exit_code == 0, done.output
    finally:
        hog.kill()
        hog.wait(10)
