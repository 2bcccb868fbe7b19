"""Events against real `b24tel serve` processes: an AsterX-style connector installed as a
local application handles click-to-call end to end; a killed server delivers what it owed
after a restart; two instances on one PostgreSQL deliver every event exactly once."""

from __future__ import annotations

import base64
import contextlib
import os
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.commands import b24tel
from tests.conftest import FIXTURES
from tests.events.handler import HandlerServer, Received
from tests.servers import ServeProcess, wait_for

# starts real b24tel processes: left out of the quick run (`-m "not slow"`)
pytestmark = pytest.mark.slow

FAST = {
    "B24TEL_EVENT_HANDLER_ALLOWLIST": "127.0.0.1/32",
    "B24TEL_EVENT_POLL_INTERVAL": "0.2",
    "B24TEL_EVENT_RETRY_INITIAL": "0.2",
    "B24TEL_EVENT_RETRY_MAX": "0.5",
    "B24TEL_EVENT_TIMEOUT": "1",
    "B24TEL_AUTH_CACHE_TTL": "0",
}
WAV = FIXTURES / "call-8k-mono.wav"


def cli(data_dir: Path, env: dict[str, str], *args: str) -> str:
    """A `b24tel` command next to the server, as an administrator would type it."""
    done = b24tel(data_dir, *args, env=env)
    assert done.code == 0, done.stdout + done.stderr
    return done.stdout


def field(text: str, name: str) -> str:
    return text.split(f"{name}: ", 1)[1].split()[0]


class AsterX:
    """What an AsterX-style connector does: stores the tokens of ONAPPINSTALL, binds
    ONEXTERNALCALLSTART, and on a click dials (here: at once), finishes the call and
    attaches its recording — with the tokens the events bring."""

    def __init__(self, server: ServeProcess, handler: HandlerServer) -> None:
        self.server, self.handler = server, handler
        self.install: Received | None = None
        self.bound: dict[str, Any] = {}
        self.finished: dict[str, Any] = {}
        self.attached: dict[str, Any] = {}
        self.done = threading.Event()

    def rest(self, method: str, params: dict[str, Any], token: str) -> dict[str, Any]:
        r = httpx.post(f"{self.server.url}/rest/{method}", json={**params, "auth": token},
                       timeout=30)  # fmt: skip
        return dict(r.json())

    def __call__(self, got: Received) -> None:
        if got.event == "ONAPPINSTALL":
            self.install = got
            self.bound = self.rest(
                "event.bind",
                {"event": "ONEXTERNALCALLSTART", "handler": self.handler.url + "/events"},
                got.auth["access_token"],
            )
        elif got.event == "ONEXTERNALCALLSTART":
            token = got.auth["access_token"]
            call = {"CALL_ID": got.data["CALL_ID"], "USER_ID": got.data["USER_ID"]}
            self.finished = self.rest("telephony.externalCall.finish",
                                      {**call, "DURATION": 20}, token)  # fmt: skip
            content = base64.b64encode(WAV.read_bytes()).decode()
            self.attached = self.rest(
                "telephony.externalCall.attachRecord",
                {"CALL_ID": call["CALL_ID"], "FILENAME": "call.wav", "FILE_CONTENT": content},
                token,
            )
            self.done.set()


def test_asterx_style_click_to_call(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with HandlerServer() as handler, ServeProcess(data, env=FAST) as server:
        connector = AsterX(server, handler)
        handler.on_event = connector
        created = cli(data, FAST, "apps", "create", "--name", "AsterX", "--scope",
                      "telephony,crm,user", "--handler-url", handler.url + "/install")  # fmt: skip
        app_id, client_id = field(created, "app_id"), field(created, "client_id")
        secret = field(created, "client_secret")
        installed = cli(data, FAST, "apps", "install", app_id, "--user", "1")
        assert "ONAPPINSTALL delivered" in installed
        assert wait_for(lambda: connector.bound.get("result") is True), connector.bound
        install = connector.install
        assert install is not None and install.path == "/install"
        app_token = install.auth["application_token"]
        assert install.data == {"VERSION": "1", "ACTIVE": "Y", "INSTALLED": "Y",
                                "LANGUAGE_ID": "en"}  # fmt: skip
        assert install.signed_by(app_token)

        done = subprocess.run(
            [sys.executable, "-m", "b24tel", "--data-dir", str(data), "call", "start",
             "--user", "1", "--number", "+7 916 123-45-67"],
            capture_output=True, text=True, env={**os.environ, **FAST}, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        call_id = done.stdout.strip()
        assert call_id.startswith("externalCall.")
        assert connector.done.wait(30), handler.received
        [click] = handler.events("ONEXTERNALCALLSTART")
        assert click.path == "/events" and click.signed_by(app_token)
        assert click.auth["application_token"] == app_token
        assert click.data["CALL_ID"] == call_id and click.data["USER_ID"] == "1"
        assert click.data["PHONE_NUMBER_INTERNATIONAL"] == "+79161234567"
        assert click.data["EXTENSION"] == "" and click.data["IS_MOBILE"] == "0"
        assert "error" not in connector.finished, connector.finished
        assert "error" not in connector.attached, connector.attached

        hook = server.hook
        stats = httpx.post(hook + "voximplant.statistic.get",
                           json={"FILTER": {"CALL_ID": call_id}}).json()  # fmt: skip
        [row] = stats["result"]
        assert row["CALL_DURATION"] == "20" and row["REST_APP_ID"] == app_id
        assert row["RECORD_FILE_ID"] == connector.attached["result"]["FILE_ID"]
        activity = httpx.post(hook + "crm.activity.get", json={"id": row["CRM_ACTIVITY_ID"]})
        assert activity.json()["result"]["ORIGIN_ID"] == f"VI_{call_id}"

        # the refresh token of ONAPPINSTALL works at /oauth/token/
        refreshed = httpx.post(
            server.url + "/oauth/token/",
            data={"grant_type": "refresh_token", "client_id": client_id,
                  "client_secret": secret, "refresh_token": install.auth["refresh_token"]},
        )  # fmt: skip
        assert refreshed.status_code == 200 and refreshed.json()["access_token"]

        cli(data, FAST, "apps", "uninstall", app_id)
        [bye] = handler.events("ONAPPUNINSTALL")
        assert "access_token" not in bye.auth and bye.auth["application_token"] == app_token
        gone = httpx.post(server.url + "/rest/event.get",
                          json={"auth": refreshed.json()["access_token"]})  # fmt: skip
        assert gone.status_code == 401
        assert "Traceback" not in server.output


def test_a_killed_server_delivers_after_restart(tmp_path: Path) -> None:
    """Events committed but not delivered — the handler was down, or a delivery was in
    flight — are delivered by the next start."""
    data = tmp_path / "data"
    handler = HandlerServer()
    port = handler.port
    env = dict(FAST)
    first = ServeProcess(data, env=env)
    try:
        created = cli(data, env, "webhooks", "outgoing", "create", "--event", "ONCRMLEADADD",
                      "--handler", f"http://127.0.0.1:{port}/")  # fmt: skip
        assert field(created, "application_token")
        for n in range(5):
            r = httpx.post(first.hook + "crm.lead.add", json={"fields": {"TITLE": f"L{n}"}})
            assert r.status_code == 200
        log = cli(data, env, "events", "log", "--json")
        assert log.count('"status": "pending"') + log.count('"status": "sending"') == 5
    finally:
        first.kill()
    handler.start()  # the handler is back
    try:
        with ServeProcess(data, port=first.port, env=env) as second:
            assert wait_for(lambda: len(handler.events()) == 5, timeout=30), handler.received
            keys = Counter(r.key for r in handler.events())
            assert len(keys) == 5
            assert sorted(r.data["FIELDS"]["ID"] for r in handler.events()) == list("12345")
            assert "Traceback" not in second.output
    finally:
        handler.stop()


def _statuses(data: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(data / "b24tel.db", timeout=5)) as db:
        return [row[0] for row in db.execute("SELECT status FROM event_deliveries")]


def test_an_in_flight_delivery_survives_a_kill(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with HandlerServer(delay=3.0) as slow:
        first = ServeProcess(data, env=FAST)
        try:
            cli(data, FAST, "webhooks", "outgoing", "create", "--event", "ONCRMDEALADD",
                "--handler", slow.url)  # fmt: skip
            httpx.post(first.hook + "crm.deal.add", json={"fields": {"TITLE": "D"}})
            # each attempt is in flight for event_timeout (1 s) of the handler's 3 s: look
            # at the outbox directly, a `b24tel events log` takes about as long to start
            assert wait_for(lambda: _statuses(data) == ["sending"], timeout=20)
        finally:
            first.kill()  # while the handler is still answering
        slow.delay = 0.0
        with ServeProcess(data, port=first.port, env=FAST):
            # the claim runs out (2 × event_timeout + 5 s) and the next worker sends it
            assert wait_for(
                lambda: '"status": "delivered"' in cli(data, FAST, "events", "log", "--json"),
                timeout=40,
            )
        keys = {r.key for r in slow.received}
        assert len(keys) == 1  # the same delivery both times, one idempotency key


def test_two_instances_deliver_every_event_exactly_once(
    tmp_path: Path, shared_postgres: str
) -> None:
    # a handler slowed by 240 requests at once may answer after FAST's 1 s: that delivery
    # would be retried (at least once, same idempotency key) and counted twice here; with
    # a generous timeout a second receipt can only come from two workers sending one claim.
    # 240 requests at once on two slow cores beside the other test workers: some took over
    # the default 8 s request deadline there; the test is about delivery, not speed
    env = {
        **FAST,
        "B24TEL_DATABASE_URL": shared_postgres,
        "B24TEL_EVENT_TIMEOUT": "10",
        "B24TEL_REQUEST_DEADLINE": "25",
    }
    with (
        HandlerServer() as handler,
        ServeProcess(tmp_path / "a", env=env) as a,
        ServeProcess(tmp_path / "b", env=env) as b,
    ):
        cli(tmp_path / "a", env, "webhooks", "outgoing", "create",
            "--event", "ONCRMCONTACTADD", "--handler", handler.url)  # fmt: skip
        code_path = a.hook.split("/rest/", 1)[1]
        urls = [f"{s.url}/rest/{code_path}" for s in (a, b)]
        # one client for the 240 threads: a client of its own each loaded the trust store
        # 240 times (20 ms of CPU apiece); a connection each, all at once, as before
        client = httpx.Client(timeout=30, limits=httpx.Limits(max_connections=240))

        def add(n: int) -> None:
            r = client.post(urls[n % 2] + "crm.contact.add", json={"fields": {"NAME": f"C{n}"}})
            assert r.status_code == 200, r.text

        with client:
            threads = [threading.Thread(target=add, args=(n,)) for n in range(240)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert wait_for(lambda: len(handler.events()) >= 240, timeout=120)
        wait_for(lambda: False, timeout=2)  # any duplicate would arrive meanwhile
        got = handler.events()
        assert len(got) == 240
        assert len(Counter(r.key for r in got)) == 240
        ids = sorted(int(r.data["FIELDS"]["ID"]) for r in got)
        assert ids == list(range(1, 241))
        assert "Traceback" not in a.output + b.output
