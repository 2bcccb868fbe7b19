"""Fault rules: what they match, what they do, how often — and that every injected fault is
marked in the journal (docs/integrators.md, "Fault rules")."""

from __future__ import annotations

import re
from typing import Any

import pytest

from b24tel.faults import service
from b24tel.faults.rules import RuleError, parse
from b24tel.journal import queries
from tests.conftest import WEBHOOK_CODE, Harness

HOOK = f"/rest/1/{WEBHOOK_CODE}/"


async def rule(h: Harness, **fields: Any) -> int:
    async with h.db.transaction() as s:
        added = await service.add(s, fields, h.services.clock.now(), "test")
    h.services.faults.invalidate()
    return added.id


async def statuses(h: Harness, method: str, n: int, params: dict[str, Any] | None = None) -> list:
    return [(await h.call(HOOK, method, params or {})).status_code for _ in range(n)]


async def entries(h: Harness, **wanted: Any) -> list[Any]:
    await h.services.journal.flush()
    async with h.db.transaction(readonly=True) as s:
        found = await queries.entries(
            s, queries.Filter(limit=500, **wanted), h.services.clock.now()
        )
    return list(reversed(found))


async def test_the_next_n_then_normal(harness: Harness, hook: str) -> None:
    await rule(harness, method="server.time", error="QUERY_LIMIT_EXCEEDED", times=2)
    r = await harness.call(HOOK, "server.time")
    assert (r.status_code, r.json()) == (
        503, {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"},
    )  # fmt: skip
    assert await statuses(harness, "server.time", 3) == [503, 200, 200]
    marked = [(e.status, e.fault) for e in await entries(harness, method="server.time")]
    assert marked[:2] == [(503, "rule 1: QUERY_LIMIT_EXCEEDED (503)")] * 2
    assert marked[2:] == [(200, None), (200, None)]


async def test_after_the_first_n_and_globs(harness: Harness, hook: str) -> None:
    await rule(harness, method="user.*", error="expired_token", after=2, times=1)
    assert await statuses(harness, "user.current", 2) == [200, 200]
    r = await harness.call(HOOK, "user.get")
    assert (r.status_code, r.json()["error"]) == (401, "expired_token")
    assert await statuses(harness, "user.get", 1) == [200]
    assert await statuses(harness, "server.time", 1) == [200]


async def test_probability_with_a_seed_repeats(harness: Harness, hook: str) -> None:
    async def run() -> list[int]:
        rule_id = await rule(harness, method="server.time", error="INTERNAL_SERVER_ERROR",
                             probability=0.5, seed=7)  # fmt: skip
        got = await statuses(harness, "server.time", 20)
        async with harness.db.transaction() as s:
            await service.remove(s, rule_id)
        harness.services.faults.invalidate()
        harness.services.faults._random.clear()  # a new rule, a new generator
        return got

    first, second = await run(), await run()
    assert first == second and set(first) == {200, 500}


async def test_matching_by_caller_and_parameter(harness: Harness, hook: str) -> None:
    other = await harness.add_webhook(await harness.add_user(name="B"))
    await rule(harness, method="*", caller="user:1", param="ID=1*", error="ACCESS_DENIED")
    denied = await harness.call(HOOK, "user.get", {"ID": 12})
    assert (denied.status_code, denied.json()["error_description"]) == (403, "Access denied!")
    assert (await harness.call(HOOK, "user.get", {"ID": 2})).status_code == 200
    assert (await harness.call(other, "user.get", {"ID": 12})).status_code == 200


async def test_proxy_page_and_non_json(harness: Harness, hook: str) -> None:
    await rule(harness, method="server.time", proxy=504, times=1)
    r = await harness.call(HOOK, "server.time")
    assert r.status_code == 504 and r.headers["content-type"].startswith("text/html")
    assert "504 Gateway Time-out" in r.text
    await rule(harness, method="server.time", non_json=True, times=1)
    r = await harness.call(HOOK, "server.time")
    assert r.status_code == 200 and r.text.startswith("<html>")
    assert r.json  # the client finds no JSON here
    with pytest.raises(ValueError):
        r.json()


async def test_latency_is_marked(harness: Harness, hook: str) -> None:
    await rule(harness, method="server.time", latency="10-20", times=1)
    assert await statuses(harness, "server.time", 1) == [200]
    [entry] = await entries(harness, method="server.time")
    mark = re.fullmatch(r"rule 1: \+(\d+) ms", entry.fault or "")
    assert mark is not None and 10 <= int(mark.group(1)) <= 20  # both ends of the range count


async def test_a_window_that_has_closed_does_nothing(harness: Harness, hook: str) -> None:
    await rule(harness, method="server.time", error="QUERY_LIMIT_EXCEEDED",
               **{"from": "2020-01-01T00:00:00Z", "until": "2020-01-02T00:00:00Z"})  # fmt: skip
    await rule(harness, method="user.current", error="QUERY_LIMIT_EXCEEDED", **{"for": "1h"})
    assert await statuses(harness, "server.time", 1) == [200]
    assert await statuses(harness, "user.current", 1) == [503]


async def test_batch_commands_meet_faults_one_by_one(harness: Harness, hook: str) -> None:
    await rule(harness, method="user.current", error="QUERY_LIMIT_EXCEEDED")
    await rule(harness, method="batch", kind="batch", latency=1, times=1)
    r = await harness.call(HOOK, "batch", {"cmd": {"a": "server.time", "b": "user.current"}})
    body = r.json()["result"]
    assert r.status_code == 200 and isinstance(body["result"]["a"], str)
    assert body["result_error"]["b"]["error"] == "QUERY_LIMIT_EXCEEDED"
    found = {e.kind + ":" + e.method: e for e in await entries(harness)}
    assert found["batch:batch"].fault.startswith("rule 2: +1")
    assert found["subcall:user.current"].fault == "rule 1: QUERY_LIMIT_EXCEEDED (503)"
    assert found["subcall:server.time"].fault is None


async def test_upload_download_and_token_endpoints(harness: Harness, hook: str) -> None:
    file_id = await harness.store_recording("call-8k-mono.wav")
    await rule(harness, kind="download", error="INTERNAL_SERVER_ERROR", times=1)
    url = HOOK + "download.json"
    assert (await harness.client.get(url, params={"id": file_id})).status_code == 500
    assert (await harness.client.get(url, params={"id": file_id})).status_code == 200
    await rule(harness, kind="token", error="invalid_grant", status=400, description="bad")
    r = await harness.client.post("/oauth/token/", data={"grant_type": "refresh_token"})
    assert (r.status_code, r.json()) == (
        400,
        {"error": "invalid_grant", "error_description": "bad"},
    )


def test_rule_validation() -> None:
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    for bad, message in [
        ({}, "exactly one effect"),
        ({"error": "X", "drop": True}, "exactly one effect"),
        ({"latency": "fast"}, "not a duration"),
        ({"error": "X", "kind": "nope"}, "kind must be one of"),
        ({"error": "X", "param": "CALL_ID"}, "NAME=VALUE"),
        ({"proxy": 418}, "proxy must be 502, 503 or 504"),
        ({"error": "X", "times": 0}, "times"),
        ({"error": "X", "probability": 2}, "probability"),
        ({"error": "X", "colour": "red"}, "colour"),
        ({"delay_event": "1s", "kind": "method"}, "applies to event deliveries"),
        ({"error": "X", "kind": "event"}, "delayed or duplicated"),
    ]:
        with pytest.raises(RuleError, match=message):
            parse(bad, now, "test")
    made = parse({"error": "QUERY_LIMIT_EXCEEDED", "for": "10m"}, now, "test")
    assert (made.status, made.description) == (503, "Too many requests")
    assert made.ends_at == now + dt.timedelta(minutes=10)


async def test_a_rule_answers_like_a_database_outage(harness: Harness, hook: str) -> None:
    """A connector can be tried against the server's own retryable 503 on purpose."""
    await rule(harness, method="server.time", error="DATABASE_UNAVAILABLE", times=1)
    r = await harness.call(HOOK, "server.time")
    text = "The portal's database is unavailable; try again in a few seconds"
    assert (r.status_code, r.json()) == (
        503, {"error": "DATABASE_UNAVAILABLE", "error_description": text},
    )  # fmt: skip
    assert r.headers["retry-after"] == "5"
    assert (await harness.call(HOOK, "server.time")).status_code == 200
