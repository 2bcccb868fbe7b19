"""The event commands as an administrator uses them: installs refused with a reason, calls
that have nobody to dial them, outgoing webhooks, and the delivery log with redelivery."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from b24tel.cli.main import cli
from b24tel.db import migrate
from b24tel.events import outgoing
from b24tel.events.models import Delivery
from tests.conftest import Harness
from tests.events.conftest import until
from tests.events.handler import HandlerServer


@pytest.fixture
def admin(tmp_path: Path) -> CliRunner:
    data = tmp_path / "data"
    data.mkdir()
    migrate.upgrade(f"sqlite+aiosqlite:///{data / 'b24tel.db'}")
    runner = CliRunner(
        env={
            "B24TEL_DATA_DIR": str(data),
            "B24TEL_EVENT_HANDLER_ALLOWLIST": "127.0.0.1/32",
            "B24TEL_EVENT_TIMEOUT": "2",
        }
    )
    assert runner.invoke(cli, ["users", "add", "--name", "Ann", "--admin"]).exit_code == 0
    assert runner.invoke(cli, ["users", "add", "--name", "Bob"]).exit_code == 0
    return runner


def run(admin: CliRunner, *args: str, ok: bool = True) -> str:
    result = admin.invoke(cli, list(args))
    assert (result.exit_code == 0) is ok, result.output
    return result.output


def test_install_needs_an_administrator_and_a_reachable_handler(
    admin: CliRunner, handler: HandlerServer
) -> None:
    refused = run(admin, "apps", "create", "--name", "X", "--handler-url", "http://10.0.0.1/x",
                  ok=False)  # fmt: skip
    assert "10.0.0.1 is a private address; allow it with event_handler_allowlist" in refused
    created = run(admin, "apps", "create", "--name", "X", "--handler-url", handler.url + "/i")
    app_id = created.split("app_id: ")[1].split()[0]
    assert "is not an active administrator" in run(
        admin, "apps", "install", app_id, "--user", "2", ok=False
    )
    assert "no active application with ID 99" in run(
        admin, "apps", "install", "99", "--user", "1", ok=False
    )
    out = run(admin, "apps", "install", app_id, "--user", "1")
    # no server runs on this data: the command queues, says so in one line, sends nothing
    assert out.splitlines() == [
        f"application {app_id} installed",
        "no server delivers events on this data: ONAPPINSTALL stays queued until "
        "`b24tel serve` runs (or send it now with `b24tel events deliver --once`)",
    ]
    assert handler.events() == []
    assert run(admin, "events", "deliver", "--once") == "1 deliveries attempted\n"
    assert [r.event for r in handler.events()] == ["ONAPPINSTALL"]
    # and its attempt is in the request journal, as a server's would be
    journal = run(admin, "requests", "list", "--kind", "event")
    assert "ONAPPINSTALL" in journal, journal
    assert "not installed" in run(admin, "apps", "uninstall", "99", ok=False)


def test_a_call_needs_an_application_to_dial_it(admin: CliRunner) -> None:
    out = run(admin, "call", "start", "--user", "1", "--number", "+79161234567", ok=False)
    assert "no installed application has bound ONEXTERNALCALLSTART" in out
    out = run(admin, "call", "start", "--user", "1", "--number", "1", "--line", "555", ok=False)
    assert "no application has a line '555'" in out
    out = run(admin, "call", "callback", "--number", "+79161234567", ok=False)
    assert "ONEXTERNALCALLBACKSTART" in out


def test_outgoing_webhooks_log_and_redeliver(admin: CliRunner, handler: HandlerServer) -> None:
    assert "delivered to applications only" in run(
        admin, "webhooks", "outgoing", "create", "--event", "ONEXTERNALCALLSTART",
        "--handler", handler.url, ok=False,
    )  # fmt: skip
    assert "unknown event 'ONNOPE'" in run(
        admin, "webhooks", "outgoing", "create", "--event", "ONNOPE", "--handler", handler.url,
        ok=False,
    )  # fmt: skip
    made = run(admin, "webhooks", "outgoing", "create", "--event", "onAppInstall",
               "--handler", handler.url, ok=False)  # fmt: skip
    assert "delivered to applications only" in made
    made = run(admin, "webhooks", "outgoing", "create", "--event", "ONCRMLEADADD",
               "--handler", handler.url + "/?key=abc", "--title", "CRM feed")  # fmt: skip
    assert len(made.split("application_token: ")[1].split()[0]) == 32
    listing = run(admin, "webhooks", "outgoing", "list")
    assert "ONCRMLEADADD" in listing and "CRM feed" in listing
    assert run(admin, "events", "log") == (
        "ID\tEVENT\tSTATUS\tATTEMPTS\tCODES\tLATENCY_MS\tHANDLER\tLAST_ERROR\n"
    )
    assert "no delivery with ID 5" in run(admin, "events", "redeliver", "5", ok=False)
    assert "revoked" in run(admin, "webhooks", "outgoing", "revoke", "1")
    assert "no active outgoing webhook" in run(admin, "webhooks", "outgoing", "revoke", "1",
                                               ok=False)  # fmt: skip


async def test_log_shows_attempts_and_redeliver_sends_again(
    ev: Harness, handler: HandlerServer, tmp_path: Path
) -> None:
    """Through the harness's database: a dead delivery, then `events redeliver` from the
    command line succeeds with the same idempotency key."""
    h = ev
    if not h.db.is_sqlite:
        pytest.skip("the command line runs against the SQLite file")
    async with h.db.transaction() as s:
        await outgoing.create(s, h.services.clock.now(), h.services.secret, user_id=1,
                              events=["ONCRMLEADADD"], handler=handler.url)  # fmt: skip
    handler.statuses = [500] * 100
    worker = h.app.state.event_worker
    worker.policy = type(worker.policy)(**{**worker.policy.__dict__, "horizon": 0.2})
    await h.call("/rest/1/secretcode/", "crm.lead.add", {"fields": {"TITLE": "x"}})

    async def dead() -> bool:
        async with h.db.transaction(readonly=True) as s:
            return [d.status for d in (await s.execute(select(Delivery))).scalars()] == ["dead"]

    await until(dead)
    handler.statuses = []  # the handler is fixed
    env = {
        "B24TEL_DATABASE_URL": h.db.url,
        "B24TEL_DATA_DIR": str(tmp_path),
        "B24TEL_EVENT_HANDLER_ALLOWLIST": "127.0.0.1/32",
        "B24TEL_SECRET_KEY": "test-secret",
    }
    runner = CliRunner(env=env)  # fmt: skip

    def invoke(*args: str) -> str:
        return runner.invoke(cli, list(args)).output

    # the command line runs its own event loop: in a thread
    row = json.loads(
        await asyncio.to_thread(invoke, "events", "log", "--json", "--status", "failed")
    )
    assert row["status"] == "dead" and row["status_codes"][:1] == [500]
    out = await asyncio.to_thread(invoke, "events", "redeliver", str(row["id"]))
    assert "ONCRMLEADADD delivered" in out
    assert len({r.key for r in handler.received}) == 1
