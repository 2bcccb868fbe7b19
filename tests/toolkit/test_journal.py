"""The request journal: what each request sent and got, in which form, with secrets masked
and large values cut to size and sha256; batch commands and event deliveries; its bounds
and its off switch (docs/integrators.md, "The request journal")."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from typing import Any

import pytest
from sqlalchemy import func, select

from b24tel.clock import Clock
from b24tel.config import Settings
from b24tel.db.hot import Query, scalar
from b24tel.journal import queries
from b24tel.journal.models import JournalRow
from tests.conftest import FIXTURES, WEBHOOK_CODE, Harness, make_harness

HOOK = f"/rest/1/{WEBHOOK_CODE}/"


async def entries(h: Harness, **wanted: Any) -> list[JournalRow]:
    await h.services.journal.flush()
    async with h.db.transaction(readonly=True) as s:
        found = await queries.entries(
            s, queries.Filter(limit=1000, **wanted), h.services.clock.now()
        )
    return list(reversed(found))


async def test_each_request_with_its_form_params_and_answer(harness: Harness, hook: str) -> None:
    await harness.client.post(HOOK + "server.time.json?bx24_request_id=7")
    await harness.client.post(HOOK.rstrip("/") + "/User.Get/", data={"FILTER[ID]": "1"})
    await harness.client.get("/rest/server.time", params={"auth": "not-a-token"})
    first, second, third = await entries(harness)
    assert (first.method, first.kind, first.http_method, first.encoding) == (
        "server.time", "method", "POST", "query",
    )  # fmt: skip
    assert first.url == "/rest/1/***/server.time.json?bx24_request_id=7"
    assert first.params == {"bx24_request_id": "7"} and isinstance(first.result, str)
    assert (first.caller, first.user_id, first.status) == ("webhook:1", 1, 200)
    assert first.bytes_out > 0 and first.duration_ms >= 0 and first.client
    assert second.url == "/rest/1/***/User.Get/" and second.method == "user.get"
    assert second.encoding == "form" and second.params == {"FILTER": {"ID": "1"}}
    assert second.result[0]["ID"] == "1" and second.bytes_in == len("FILTER%5BID%5D=1")
    assert (third.status, third.error, third.caller) == (401, "invalid_token", "")
    assert third.url == "/rest/server.time?auth=***"


async def test_large_values_are_size_and_sha256_and_secrets_never_kept(
    harness: Harness, hook: str
) -> None:
    content = base64.b64encode((FIXTURES / "call-8k-mono.wav").read_bytes() * 8).decode()
    reg = await harness.call(HOOK, "telephony.externalCall.register",
                             {"USER_ID": 1, "PHONE_NUMBER": "+79160001234", "TYPE": 2})  # fmt: skip
    call_id = reg.json()["result"]["CALL_ID"]
    await harness.call(HOOK, "telephony.externalCall.finish", {"CALL_ID": call_id, "USER_ID": 1})
    attach = {"CALL_ID": call_id, "FILENAME": "a.wav", "FILE_CONTENT": content}
    stored = await harness.call(HOOK, "telephony.externalCall.attachRecord", attach)
    assert stored.status_code == 200
    link = await harness.call(HOOK, "telephony.externalCall.attachRecord",
                              {"CALL_ID": call_id, "FILENAME": "b.wav"})  # fmt: skip
    assert "uploadUrl" in link.json()["result"]
    app, secret = await harness.add_app()
    pair = await harness.token(app, 1)
    await harness.client.post("/oauth/token/", data={
        "grant_type": "refresh_token", "client_id": app.client_id, "client_secret": secret,
        "refresh_token": pair.refresh_token,
    })  # fmt: skip
    found = {(e.method, e.kind): e for e in await entries(harness)}
    attached = next(e for e in await entries(harness, method="*attachRecord")
                    if isinstance(e.params.get("FILE_CONTENT"), dict))  # fmt: skip
    assert attached.params["FILE_CONTENT"] == {
        "elided": True, "size": len(content),
        "sha256": hashlib.sha256(content.encode()).hexdigest(),
    }  # fmt: skip
    assert attached.result == {"FILE_ID": 1} and attached.bytes_in > len(content)
    token = found[("oauth.token", "token")]
    assert token.status == 200 and token.result["access_token"] == "***"
    assert token.result["refresh_token"] == "***"
    dump = json.dumps([queries.as_dict(e) for e in await entries(harness)], default=str)
    for secret_value in (WEBHOOK_CODE, secret, pair.access_token, pair.refresh_token):
        assert secret_value not in dump
    assert "/rest/1/***/upload/?token=***" in dump  # the upload link, without secrets


async def test_batch_commands_have_entries_of_their_own(harness: Harness, hook: str) -> None:
    cmd = {"a": "user.get?ID=1", "b": "no.such.method", "c": "server.time"}
    await harness.call(HOOK, "batch", {"cmd": cmd})
    found = await entries(harness)
    assert [(e.kind, e.method, e.status) for e in found] == [
        ("batch", "batch", 200), ("subcall", "user.get", 200),
        ("subcall", "b", 404), ("subcall", "server.time", 200),
    ]  # fmt: skip
    assert len({e.request_id for e in found}) == 1
    assert found[1].params == {"ID": "1"} and found[2].error == "ERROR_METHOD_NOT_FOUND"


async def test_bounds_and_off_switch(settings: Settings, clock: Clock) -> None:
    async with make_harness(settings.replace(journal_max_entries=30), clock) as h:
        uid = await h.add_user(name="A", admin=True)
        hook = await h.add_webhook(uid)
        for _ in range(4):
            for _ in range(25):
                await h.call(hook, "server.time")
            await h.services.journal.flush()
        async with h.db.transaction(readonly=True) as s:
            assert (await s.execute(select(func.count(JournalRow.id)))).scalar_one() == 30
    async with make_harness(settings.replace(journal_enabled=False), clock) as h:
        uid = await h.add_user(name="A", admin=True)
        hook = await h.add_webhook(uid)
        await h.call(hook, "server.time")
        await h.services.journal.flush()
        async with h.db.transaction(readonly=True) as s:
            assert (await s.execute(select(func.count(JournalRow.id)))).scalar_one() == 0


async def test_one_instance_prunes_at_a_time_on_postgresql(
    settings: Settings, clock: Clock
) -> None:
    if settings.is_sqlite:
        pytest.skip("SQLite is one instance")
    from sqlalchemy import text

    from b24tel.journal.writer import PRUNE_LOCK

    async with make_harness(settings.replace(journal_max_entries=10), clock) as h:
        uid = await h.add_user(name="A", admin=True)
        hook = await h.add_webhook(uid)

        async def count() -> int:
            async with h.db.transaction(readonly=True) as s:
                return int((await s.execute(select(func.count(JournalRow.id)))).scalar_one())

        async with h.db.transaction() as other:  # another instance, pruning right now
            await other.execute(text("SELECT pg_advisory_xact_lock(:key)"), PRUNE_LOCK)
            for _ in range(25):
                await h.call(hook, "server.time")
            await h.services.journal.flush()  # writes, does not wait, does not prune
            assert await count() == 25
        await h.call(hook, "server.time")
        await h.services.journal.flush()
        assert await count() == 10


async def test_filters(harness: Harness, hook: str) -> None:
    await harness.call(HOOK, "server.time")
    await harness.call(HOOK, "user.current")
    await harness.call(HOOK, "no.such")
    await harness.services.journal.flush()
    methods = [e.method for e in await entries(harness, method="USER.*")]
    assert methods == ["user.current"]
    assert [e.method for e in await entries(harness, status="error")] == ["no.such"]
    assert [e.method for e in await entries(harness, status="ERROR_METHOD_NOT_FOUND")] == [
        "no.such"
    ]
    assert len(await entries(harness, status="200")) == 2
    assert len(await entries(harness, caller="user:1")) == 2
    assert len(await entries(harness, since="1h")) == 3


@pytest.mark.parametrize("known_call", [True, False])
async def test_a_large_form_value_is_kept_as_sent_whether_or_not_the_method_read_it(
    harness: Harness, hook: str, known_call: bool
) -> None:
    content = base64.b64encode((FIXTURES / "call-8k-mono.wav").read_bytes() * 8).decode()
    call_id = "externalCall.none.1"
    if known_call:
        new = {"USER_ID": 1, "PHONE_NUMBER": "+79160001234", "TYPE": 2}
        reg = await harness.call(HOOK, "telephony.externalCall.register", new)
        call_id = reg.json()["result"]["CALL_ID"]
        await harness.call(HOOK, "telephony.externalCall.finish",
                           {"CALL_ID": call_id, "USER_ID": 1, "DURATION": 5})  # fmt: skip
    answer = await harness.client.post(
        HOOK + "telephony.externalCall.attachRecord",
        data={"CALL_ID": call_id, "FILENAME": "a.wav", "FILE_CONTENT": content},
    )
    assert answer.status_code == (200 if known_call else 400), answer.text
    [entry] = await entries(harness, method="*attachRecord")
    assert entry.encoding == "form"
    assert entry.params["FILE_CONTENT"] == {
        "elided": True, "size": len(content),
        "sha256": hashlib.sha256(content.encode()).hexdigest(),
    }  # fmt: skip


async def test_a_long_flush_takes_turns_with_requests(harness: Harness) -> None:
    """A flush writes CHUNK entries per transaction: a request's unit of work runs between
    two of them instead of waiting for the whole flush (its p99, docs/benchmarks.md)."""
    from b24tel.journal.writer import CHUNK
    from b24tel.rest.journal import Entry

    journal, total = harness.services.journal, 10 * CHUNK
    for i in range(total):
        journal.record(Entry(
            at=harness.services.clock.now(), request_id=f"r{i}", direction="in", kind="method",
            method="server.time", caller="webhook:1", user_id=1, http_method="POST",
            url="/rest/1/***/server.time", encoding="json", params={"N": i}, status=200,
            result="2026-01-01T00:00:00+00:00", error=None, error_description=None,
            duration_ms=1.0, bytes_in=2, bytes_out=60, client="127.0.0.1", user_agent="t",
            fault=None,
        ))  # fmt: skip
    flush = asyncio.create_task(journal.flush())
    seen = 0
    while not seen:  # a request's unit of work, again and again, until a chunk is in
        async with harness.db.hot(readonly=True) as tx:
            seen = int(await scalar(tx, Query(select(func.count(JournalRow.id)))))
        await asyncio.sleep(0)
    assert 0 < seen < total
    assert await flush == total
