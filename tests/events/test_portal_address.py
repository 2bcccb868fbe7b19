"""The portal's address: `serve` on a random port (and over TLS) tells an installed
application where it is, and every command run beside it says the same; commands queue
events and the running server delivers them, so they reach the request journal."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.events.handler import HandlerServer, Received
from tests.events.test_real_server import FAST, cli, field
from tests.servers import ServeProcess, wait_for

# starts real b24tel processes: left out of the quick run (`-m "not slow"`)
pytestmark = pytest.mark.slow


class Connector:
    """A connector installed as a local application: it keeps the address and tokens of
    ONAPPINSTALL and binds ONEXTERNALCALLSTART at the `client_endpoint` it was given, as
    the Bitrix24 SDKs do — never at an address of its own."""

    def __init__(self, handler: HandlerServer, verify: ssl.SSLContext | bool) -> None:
        self.handler, self.verify = handler, verify
        self.install: Received | None = None
        self.bound: dict[str, Any] = {}
        self.clicked = threading.Event()

    def __call__(self, got: Received) -> None:
        if got.event == "ONAPPINSTALL":
            self.install = got
            endpoint = got.auth["client_endpoint"]
            answer = httpx.post(
                endpoint + "event.bind",
                json={"event": "ONEXTERNALCALLSTART", "handler": self.handler.url + "/calls",
                      "auth": got.auth["access_token"]},
                verify=self.verify, timeout=30,
            )  # fmt: skip
            self.bound = dict(answer.json())
        elif got.event == "ONEXTERNALCALLSTART":
            self.clicked.set()


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_serve_on_a_random_port_tells_the_app_where_it_is(
    tmp_path: Path, tls: bool, tls_files: dict[str, Path]
) -> None:
    data = tmp_path / "data"
    args = ("--tls-cert", str(tls_files["cert"]), "--tls-key", str(tls_files["key"])) if tls else ()
    verify: ssl.SSLContext | bool = (
        ssl.create_default_context(cafile=tls_files["ca"]) if tls else True
    )
    with HandlerServer() as handler, ServeProcess(data, env=FAST, args=args) as server:
        base = f"{'https' if tls else 'http'}://127.0.0.1:{server.port}"
        assert server.port != 8080
        connector = Connector(handler, verify)
        handler.on_event = connector
        created = cli(data, FAST, "apps", "create", "--name", "PBX", "--scope",
                      "telephony,crm,user", "--handler-url", handler.url + "/install")  # fmt: skip
        app_id = field(created, "app_id")

        installed = cli(data, FAST, "apps", "install", app_id, "--user", "1")
        assert f"application {app_id} installed" in installed
        assert "ONAPPINSTALL delivered" in installed, installed
        install = connector.install
        assert install is not None
        assert install.auth["domain"] == f"127.0.0.1:{server.port}"
        assert install.auth["client_endpoint"] == f"{base}/rest/"
        assert install.auth["server_endpoint"] == f"{base}/rest/"
        # the connector's event.bind went to that address, and worked
        assert wait_for(lambda: connector.bound.get("result") is True), connector.bound

        call_id = cli(data, FAST, "call", "start", "--user", "1", "--number", "+79161234567")
        assert call_id.strip().startswith("externalCall.")
        assert connector.clicked.wait(30), handler.received
        [click] = handler.events("ONEXTERNALCALLSTART")
        assert click.auth["client_endpoint"] == f"{base}/rest/"

        # delivered by the server, so in its request journal (written a moment after)
        def journaled() -> list[str]:
            journal = cli(data, FAST, "requests", "list", "--kind", "event")
            return [line.split("\t")[3] for line in journal.splitlines()[1:]]

        assert wait_for(lambda: "→ONEXTERNALCALLSTART" in journaled()), journaled()
        assert "→ONAPPINSTALL" in journaled()

        hook = cli(data, FAST, "webhooks", "create", "--user", "1").strip()
        assert hook.startswith(f"{base}/rest/1/")
        assert "result" in httpx.get(hook + "server.time", verify=verify).json()

        status = cli(data, FAST, "status")
        assert f"portal address: {base} (where the running server listens)" in status
        assert "server: running, b24tel " in status and f"serves {base}, delivers" in status
        shown = json.loads(cli(data, FAST, "status", "--json"))
        assert shown["portal_url"] == base and shown["servers"][0]["delivers_events"] is True

    # the server has stopped: commands still name its address, and say nobody delivers
    status = cli(data, FAST, "status")
    assert f"portal address: {base} (where a server last listened)" in status
    assert "server: none running on this data" in status
    assert cli(data, FAST, "webhooks", "create", "--user", "1").startswith(f"{base}/rest/1/")


def test_without_a_server_events_wait_for_one(tmp_path: Path) -> None:
    """A command with no server on its data queues and says how to deliver; the next
    server delivers what waited, with its own address."""
    data = tmp_path / "data"
    with HandlerServer() as handler:
        connector = Connector(handler, True)
        handler.on_event = connector
        with ServeProcess(data, env=FAST):  # the first start creates the database
            pass
        created = cli(data, FAST, "apps", "create", "--name", "PBX", "--scope",
                      "telephony,crm,user", "--handler-url", handler.url + "/install")  # fmt: skip
        installed = cli(data, FAST, "apps", "install", field(created, "app_id"), "--user", "1")
        assert installed.splitlines()[1] == (
            "no server delivers events on this data: ONAPPINSTALL stays queued until "
            "`b24tel serve` runs (or send it now with `b24tel events deliver --once`)"
        )
        assert handler.received == []
        with ServeProcess(data, env=FAST) as server:
            assert wait_for(lambda: connector.install is not None, 30)
            assert connector.install is not None
            assert connector.install.auth["client_endpoint"] == f"{server.url}/rest/"
            assert wait_for(lambda: connector.bound.get("result") is True), connector.bound
            # a wait too short for the handler: the command says it is still queued
            handler.delay = 0.5
            done = subprocess.run(
                [sys.executable, "-m", "b24tel", "--data-dir", str(data), "call", "start",
                 "--user", "1", "--number", "+79161234567", "--wait", "0"],
                capture_output=True, text=True, env={**os.environ, **FAST}, timeout=120,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
            assert "ONEXTERNALCALLSTART to http://127.0.0.1:" in done.stderr
            assert "is queued: the running server has not sent it within 0 s" in done.stderr
            assert connector.clicked.wait(30)
