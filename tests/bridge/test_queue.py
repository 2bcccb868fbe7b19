"""Bridge mode, never lose a call: while the portal is down or rate-limits, telephony writes
are answered here and wait; once it answers they reach it in order, each exactly once, with
their recordings, and the connector's later calls with our CALL_ID work."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from b24tel.bridge.models import BridgeItem
from b24tel.clock import Clock
from b24tel.config import Settings
from b24tel.recordings.models import RecordingFile
from b24tel.telephony.models import Statistic
from tests.bridge.test_passthrough import FIXTURES, PORTAL_ENV, portal
from tests.conftest import Harness, make_harness
from tests.servers import ServeProcess
from tests.web.browser import cli

# starts real b24tel processes: left out of the quick run (`-m "not slow"`)
pytestmark = pytest.mark.slow

WAV = (FIXTURES / "call-8k-mono.wav").read_bytes()
LOCAL_ID = re.compile(r"^externalCall\.[0-9a-f]{32}\.[0-9]+$")


@pytest.fixture
async def bridge(settings: Settings, clock: Clock, tmp_path: Path) -> AsyncIterator[Any]:
    upstream = portal(tmp_path, "upstream")
    tuned = settings.replace(upstream_url=upstream.hook, upstream_allow_http=True,
                             upstream_timeout=2.0, upstream_rate=20.0,
                             bridge_card_max_age=1.0)  # fmt: skip
    try:
        async with make_harness(tuned, clock) as h:
            admin = await h.add_user(name="Admin", admin=True, inner_number="101")
            await h.add_webhook(admin, code="secretcode")
            yield h, upstream
    finally:
        upstream.stop()


async def call_flow(h: Harness, n: int) -> str:
    """One call: register, show, finish, attachRecord; every answer a success."""

    async def call(method: str, params: dict[str, Any]) -> Any:
        answer = await h.client.post("/rest/1/secretcode/" + method, json=params)
        assert answer.status_code == 200, (method, answer.text)
        return answer.json()["result"]

    reg = await call("telephony.externalCall.register",
                     {"USER_ID": 1, "PHONE_NUMBER": f"+7916000{n:04d}", "TYPE": 2})  # fmt: skip
    assert await call("telephony.externalCall.show", {"CALL_ID": reg["CALL_ID"], "USER_ID": 1})
    await call("telephony.externalCall.finish",
               {"CALL_ID": reg["CALL_ID"], "USER_ID": 1, "DURATION": 10 + n})  # fmt: skip
    attached = await call("telephony.externalCall.attachRecord", {
        "CALL_ID": reg["CALL_ID"], "FILENAME": f"call{n}.wav",
        "FILE_CONTENT": base64.b64encode(WAV).decode(),
    })  # fmt: skip
    assert isinstance(attached["FILE_ID"], int)
    return str(reg["CALL_ID"])


async def drained(h: Harness, failed: int = 0, timeout: float = 60) -> None:
    """Until nothing waits, and exactly ``failed`` writes failed (the rest forwarded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with h.db.transaction(readonly=True) as s:
            states = list(await s.scalars(select(BridgeItem.state)))
        if "queued" not in states and states.count("failed") == failed:
            return
        h.services.bridge.queue.wake.set()  # type: ignore[union-attr]
        await asyncio.sleep(0.2)
    raise AssertionError("the queue did not drain")


async def local_copies(h: Harness) -> dict[str, bytes]:
    """The bridge's copy: each finished call's CALL_ID and the bytes of its recording."""
    async with h.db.transaction(readonly=True) as s:
        rows = (await s.execute(
            select(Statistic.call_id, RecordingFile.storage_key)
            .join(RecordingFile, RecordingFile.id == Statistic.record_file_id, isouter=True)
        )).all()  # fmt: skip
    storage = h.services.recordings.storage
    return {call_id: b"".join([c async for c in storage.open(key)]) if key else b""
            for call_id, key in rows}  # fmt: skip


async def portal_calls(base: str, recordings: bool = True) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=30) as client:
        answer = await client.post(base + "voximplant.statistic.get", json={"ORDER": {"ID": "ASC"}})
        rows = answer.json()["result"]
        for row in rows if recordings else []:
            got = await client.post(base + "disk.file.get", json={"id": row["RECORD_FILE_ID"]})
            row["recording"] = (await client.get(got.json()["result"]["DOWNLOAD_URL"])).content
        return list(rows)


async def test_calls_made_while_the_portal_is_down_reach_it_once_in_order(
    bridge: tuple[Harness, ServeProcess], tmp_path: Path
) -> None:
    h, upstream = bridge
    port, hook = upstream.port, upstream.hook
    upstream.stop()
    call_ids = [await call_flow(h, n) for n in range(8)]
    assert all(LOCAL_ID.match(c) for c in call_ids)
    assert sorted(await local_copies(h)) == sorted(call_ids)  # kept here under our ids
    await asyncio.sleep(0.3)  # the forwarder has met the portal away
    metrics = (await h.client.get("/metrics")).text
    assert 'b24tel_bridge_queue{state="queued"} 32.0' in metrics  # 8 calls, 4 writes each
    assert 'b24tel_upstream_failures_total{leg="passed",reason="unreachable"}' in metrics
    assert 'b24tel_upstream_failures_total{leg="forwarded",reason="unreachable"}' in metrics
    with ServeProcess(tmp_path / "upstream", port=port, env=PORTAL_ENV) as back:
        await drained(h)
        rows = await portal_calls(hook)
        # the copy took the portal's CALL_IDs, each with its recording
        copies = await local_copies(h)
        assert sorted(copies) == sorted(r["CALL_ID"] for r in rows)
        assert not set(copies) & set(call_ids) and all(v == WAV for v in copies.values())
        metrics = (await h.client.get("/metrics")).text
        assert 'b24tel_bridge_queue{state="queued"} 0.0' in metrics
        assert 'b24tel_upstream_duration_seconds_count{leg="forwarded"}' in metrics
        assert [r["PHONE_NUMBER"] for r in rows] == [f"+7916000{n:04d}" for n in range(8)]
        assert [r["CALL_DURATION"] for r in rows] == [str(10 + n) for n in range(8)]
        assert all(r["recording"] == WAV for r in rows)
        async with h.db.transaction(readonly=True) as s:
            cards = list(await s.scalars(select(BridgeItem).where(BridgeItem.method.like("%show"))))
        assert len(cards) == 8 and all("no use" in (c.error or "") for c in cards)
        # the connector goes on with our CALL_ID: passed on with the portal's
        answer = await h.client.post("/rest/1/secretcode/telephony.externalCall.hide",
                                     json={"CALL_ID": call_ids[0], "USER_ID": 1})  # fmt: skip
        assert answer.status_code == 200, answer.text
        assert back.port == port


async def test_a_rate_limited_register_waits_and_arrives(
    bridge: tuple[Harness, ServeProcess], tmp_path: Path
) -> None:
    h, upstream = bridge
    cli(tmp_path / "upstream", "faults", "add", "--method", "telephony.externalCall.register",
        "--error", "QUERY_LIMIT_EXCEEDED", "--times", "2")  # fmt: skip
    await asyncio.sleep(1.2)  # the running portal picks the rule up within a second
    call_ids = [await call_flow(h, n) for n in range(3)]
    assert sum(bool(LOCAL_ID.match(c)) for c in call_ids) >= 2
    await drained(h)
    rows = await portal_calls(upstream.hook)
    assert sorted(r["PHONE_NUMBER"] for r in rows) == [f"+7916000{n:04d}" for n in range(3)]
    assert all(r["recording"] == WAV for r in rows)


async def bridge_cli(h: Harness, *args: str) -> str:
    """A command beside the running bridge. In a thread: the bridge (this event loop) goes
    on meanwhile — a blocked loop would hold a write it began while the command waits."""
    settings = h.services.settings
    env = {"B24TEL_DATABASE_URL": settings.database_url, "B24TEL_UPSTREAM_URL":
           settings.upstream_url, "B24TEL_UPSTREAM_ALLOW_HTTP": "true"}  # fmt: skip
    return await asyncio.to_thread(cli, Path(settings.data_dir), "bridge", *args, env=env)


async def test_an_operator_sees_the_queue_and_skips_or_retries_a_write(
    bridge: tuple[Harness, ServeProcess], tmp_path: Path
) -> None:
    h, upstream = bridge
    port, hook = upstream.port, upstream.hook
    upstream.stop()
    await call_flow(h, 1)
    await asyncio.sleep(0.5)  # the forwarder has tried once
    shown = json.loads(await bridge_cli(h, "status", "--json"))
    assert (shown["queued"], shown["failed"], shown["calls_waiting_for_a_portal_id"]) == (4, 0, 1)
    assert shown["upstream"].endswith("/rest/1/***/") and shown["oldest_queued"]
    attach = next(i for i in shown["items"] if i["method"].endswith("attachrecord"))
    assert "skipped" in await bridge_cli(h, "skip", str(attach["id"]))
    with ServeProcess(tmp_path / "upstream", port=port, env=PORTAL_ENV):
        await drained(h, failed=1)
        rows = await portal_calls(hook, recordings=False)
        assert [(r["CALL_DURATION"], r["RECORD_FILE_ID"]) for r in rows] == [("11", None)]
        assert "queued again" in await bridge_cli(h, "retry", str(attach["id"]))
        await drained(h)
        rows = await portal_calls(hook)
        assert [r["recording"] for r in rows] == [WAV]
    text = await bridge_cli(h, "status")
    assert "waiting: 0, failed: 0, forwarded: 4" in text and "***" in text
    code = hook.rstrip("/").rsplit("/", 1)[1]
    assert code not in text


async def test_a_write_kept_after_the_call_was_forwarded_stays_in_its_calls_line(
    bridge: tuple[Harness, ServeProcess], tmp_path: Path
) -> None:
    """The portal goes away again after it took the call: the connector's next write, sent
    with our CALL_ID, waits under that CALL_ID — so the writes after it queue behind it."""
    h, upstream = bridge
    port, hook = upstream.port, upstream.hook
    queue = h.services.bridge.queue  # type: ignore[union-attr]
    upstream.stop()
    params = {"USER_ID": 1, "PHONE_NUMBER": "+79160009999", "TYPE": 2}
    reg = await h.client.post("/rest/1/secretcode/telephony.externalCall.register", json=params)
    ours = reg.json()["result"]["CALL_ID"]
    finish = {"CALL_ID": ours, "USER_ID": 1, "DURATION": 5}
    assert (await h.client.post("/rest/1/secretcode/telephony.externalCall.finish",
                                json=finish)).status_code == 200  # fmt: skip
    with ServeProcess(tmp_path / "upstream", port=port, env=PORTAL_ENV):
        await drained(h)
    assert (await queue.waiting(ours)) == (False, await queue.portal_id(ours))
    attach = {
        "CALL_ID": ours,
        "FILENAME": "late.wav",
        "FILE_CONTENT": base64.b64encode(WAV).decode(),
    }
    answer = await h.client.post(
        "/rest/1/secretcode/telephony.externalCall.attachRecord", json=attach
    )
    assert answer.status_code == 200, answer.text
    assert (await queue.waiting(ours))[0]  # kept under our CALL_ID
    with ServeProcess(tmp_path / "upstream", port=port, env=PORTAL_ENV):
        await drained(h)
        rows = await portal_calls(hook)
    assert [(r["CALL_DURATION"], r["recording"]) for r in rows] == [("5", WAV)]


async def test_two_bridges_on_one_database_forward_each_write_once(
    settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    """Two instances on one PostgreSQL database share one queue: calls taken by either
    while the portal is down reach it once each, in order per call."""
    if settings.is_sqlite:
        pytest.skip("several instances share a database on PostgreSQL")
    upstream = portal(tmp_path, "upstream")
    port, hook = upstream.port, upstream.hook
    tuned = settings.replace(upstream_url=hook, upstream_allow_http=True, upstream_timeout=2.0,
                             upstream_rate=20.0)  # fmt: skip
    try:
        async with make_harness(tuned, clock) as first, make_harness(tuned, clock) as second:
            admin = await first.add_user(name="Admin", admin=True, inner_number="101")
            await first.add_webhook(admin, code="secretcode")
            upstream.stop()
            for n in range(6):
                await call_flow(first if n % 2 else second, n)
            with ServeProcess(tmp_path / "upstream", port=port, env=PORTAL_ENV):
                await drained(first)
                rows = await portal_calls(hook)
    finally:
        upstream.stop()
    assert sorted(r["PHONE_NUMBER"] for r in rows) == [f"+7916000{n:04d}" for n in range(6)]
    assert sorted(r["CALL_DURATION"] for r in rows) == sorted(str(10 + n) for n in range(6))
    assert all(r["recording"] == WAV for r in rows)
