"""/healthz, /readyz and /metrics: through the app on both databases, and readiness of a
real server whose PostgreSQL goes away and comes back."""

from __future__ import annotations

import asyncio
import base64
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from b24tel.config import Settings
from b24tel.recordings.storage import LocalStorage
from tests.conftest import FIXTURES, WEBHOOK_CODE, Harness, make_harness
from tests.ops.proxy import TcpProxy
from tests.servers import ServeProcess
from tests.web.browser import cli
from tests.web.test_pages import _events

# starts real b24tel processes: left out of the quick run (`-m "not slow"`)
pytestmark = pytest.mark.slow

HOOK = f"/rest/1/{WEBHOOK_CODE}/"


async def test_healthz_and_readyz_need_no_credentials(harness: Harness, hook: str) -> None:
    alive = await harness.client.get("/healthz")
    assert alive.status_code == 200 and alive.json() == {"status": "ok"}
    ready = await harness.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "storage": "ok"}}
    url = harness.services.settings.effective_database_url
    assert make_url(url).database not in ready.text and WEBHOOK_CODE not in ready.text
    assert (await harness.client.post("/readyz")).status_code == 405


async def test_readyz_fails_while_storage_takes_no_writes(harness: Harness, hook: str) -> None:
    storage = harness.services.recordings.storage
    assert isinstance(storage, LocalStorage)
    root = storage.root
    moved = root.with_name("recordings.away")
    root.mkdir(parents=True, exist_ok=True)
    root.rename(moved)
    root.write_text("not a folder")  # every write below it fails
    try:
        answer = await harness.client.get("/readyz")
        assert answer.status_code == 503
        assert answer.json()["checks"]["database"] == "ok"
        assert answer.json()["checks"]["storage"].startswith("unavailable (")
    finally:
        root.unlink()
        moved.rename(root)
    assert (await harness.client.get("/readyz")).status_code == 200


async def test_readyz_names_an_old_schema(harness: Harness, hook: str) -> None:
    async with harness.db.transaction() as s:
        head = (await s.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        await s.execute(text("UPDATE alembic_version SET version_num = '0008'"))
    try:
        answer = await harness.client.get("/readyz")
        assert answer.status_code == 503
        assert "run `b24tel db upgrade`" in answer.json()["checks"]["database"]
    finally:
        async with harness.db.transaction() as s:
            await s.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})


async def test_metrics_count_requests_and_read_the_shared_figures(
    harness: Harness, hook: str
) -> None:
    for _ in range(3):
        await harness.client.get(hook + "server.time")
    await harness.client.get(hook + "no.such.method")
    call_id = (
        await harness.call(
            hook,
            "telephony.externalCall.register",
            {"USER_ID": 1, "PHONE_NUMBER": "+79160001234", "TYPE": 2},
        )
    ).json()["result"]["CALL_ID"]
    await harness.call(
        hook, "telephony.externalCall.finish", {"CALL_ID": call_id, "USER_ID": 1, "DURATION": 5}
    )
    wav = (FIXTURES / "call-8k-mono.wav").read_bytes()
    await harness.call(
        hook,
        "telephony.externalCall.attachRecord",
        {"CALL_ID": call_id, "FILENAME": "a.wav", "FILE_CONTENT": base64.b64encode(wav).decode()},
    )
    answer = await harness.client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    body = answer.text
    assert 'b24tel_requests_total{method="server.time",status="200"} 3.0' in body
    assert 'b24tel_requests_total{method="-",status="404"} 1.0' in body
    assert 'b24tel_request_duration_seconds_count{method="server.time"} 3.0' in body
    assert 'b24tel_recordings{state="current"} 1.0' in body
    assert f'b24tel_recording_bytes{{source="content"}} {float(len(wav))}' in body
    assert "b24tel_event_delivery_lag_seconds 0.0" in body
    assert "b24tel_journal_entries" in body
    assert WEBHOOK_CODE not in body


async def test_metrics_are_for_this_machine_or_the_token(settings: Settings) -> None:
    async with make_harness(settings, _clock()) as h:
        remote = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=h.app, client=("10.1.2.3", 40000)),
            base_url="http://testserver",
        )
        answer = await remote.get("/metrics")
        assert answer.status_code == 403 and "metrics_token" in answer.json()["error_description"]
    async with make_harness(settings.replace(metrics_token="scrape-me"), _clock()) as h:
        assert (await h.client.get("/metrics")).status_code == 401
        wrong = await h.client.get("/metrics", headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401
        right = await h.client.get("/metrics", headers={"authorization": "Bearer scrape-me"})
        assert right.status_code == 200 and "b24tel_requests_total" in right.text


def _clock():  # type: ignore[no-untyped-def]
    from b24tel.clock import Clock

    return Clock()


def test_readiness_follows_the_database_without_a_restart(
    shared_postgres: str, tmp_path: Path
) -> None:
    """PostgreSQL goes away (the connection is cut) and comes back."""
    url = make_url(shared_postgres)
    with TcpProxy((url.host or "127.0.0.1", url.port or 5432)) as proxy:
        through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        env = {"B24TEL_DATABASE_URL": through, "B24TEL_READINESS_TIMEOUT": "1"}
        with ServeProcess(tmp_path / "data", env=env) as server:
            assert httpx.get(server.url + "/readyz").status_code == 200
            proxy.cut()
            answer = httpx.get(server.url + "/readyz", timeout=10)
            assert answer.status_code == 503, answer.text
            assert answer.json()["checks"]["database"] != "ok"
            assert answer.json()["checks"]["storage"] == "ok"
            assert httpx.get(server.url + "/healthz").status_code == 200  # alive all along
            assert through not in answer.text and str(proxy.port) not in answer.text
            proxy.restore()
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                if httpx.get(server.url + "/readyz", timeout=10).status_code == 200:
                    break
                time.sleep(0.2)
            else:
                pytest.fail("not ready again after the database came back")
            # and live call cards listen again
            link = cli(
                tmp_path / "data",
                "users",
                "login-link",
                "--user",
                "1",
                "--url",
                server.url,
                env=env,
            )
            with httpx.Client(base_url=server.url) as browser:
                assert browser.get(link).status_code == 303
                with browser.stream("GET", "/live", timeout=10) as stream:
                    events = _events(stream, time.monotonic() + 15)
                    registered = httpx.post(
                        server.hook + "telephony.externalCall.register",
                        json={"USER_ID": 1, "PHONE_NUMBER": "+74951112233", "TYPE": 2},
                    )
                    call_id = registered.json()["result"]["CALL_ID"]  # SHOW defaults to 1
                    try:
                        got = next(e for e in events if e[1].get("call_id") == call_id)
                    except httpx.RemoteProtocolError:  # the server ended the stream: why
                        pytest.fail("the live stream ended:\n" + server.output[-6000:])
                    assert got[0] == "card"


def test_a_card_shown_while_not_listening_reaches_open_pages(
    shared_postgres: str, tmp_path: Path
) -> None:
    """The NOTIFY of a card is lost while the instance's LISTEN connection is down; when it
    listens again, open pages read their shown cards afresh."""
    url = make_url(shared_postgres)
    with TcpProxy((url.host or "127.0.0.1", url.port or 5432)) as proxy:
        through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        env = {"B24TEL_DATABASE_URL": through}
        with ServeProcess(tmp_path / "data", env=env) as server:
            registered = httpx.post(
                server.hook + "telephony.externalCall.register",
                json={"USER_ID": 1, "PHONE_NUMBER": "+74951112244", "TYPE": 2, "SHOW": 0},
            )
            call_id = registered.json()["result"]["CALL_ID"]
            link = cli(tmp_path / "data", "users", "login-link", "--user", "1",
                       "--url", server.url, env=env)  # fmt: skip
            with httpx.Client(base_url=server.url) as browser:
                assert browser.get(link).status_code == 303
                with browser.stream("GET", "/live", timeout=15) as stream:
                    events = _events(stream, time.monotonic() + 20)
                    # shown by someone whose NOTIFY this instance never hears: straight into
                    # the database, then the instance's connections break and come back
                    asyncio.run(_show_silently(shared_postgres, call_id))
                    proxy.cut()
                    proxy.restore()
                    try:
                        got = next(e for e in events if e[1].get("call_id") == call_id)
                    except httpx.RemoteProtocolError:  # the server ended the stream: why
                        pytest.fail("the live stream ended:\n" + server.output[-6000:])
                    assert got[0] == "card"


async def _show_silently(database_url: str, call_id: str) -> None:
    from b24tel.db.engine import Database

    db = Database(database_url)
    try:
        async with db.transaction() as s:
            await s.execute(
                text(
                    "INSERT INTO tel_call_cards (call_id, user_id, state, changed_at) "
                    "VALUES (:c, 1, 'shown', now() at time zone 'utc')"
                ),
                {"c": call_id},
            )
    finally:
        await db.dispose()
