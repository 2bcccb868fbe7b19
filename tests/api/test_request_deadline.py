"""The request deadline (setting ``request_deadline``): the server's own work is cut at it
with 503 ``REQUEST_TIMEOUT``; a client sending its body slowly is not the server being
slow, and is not cut."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest

from b24tel.clock import Clock
from b24tel.config import Settings
from b24tel.faults import service
from tests.conftest import Harness, make_harness
from tests.helpers import err, ok


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.replace(request_deadline=1.0)


async def slow_fault(h: Harness, ms: str) -> None:
    """server.time made slow by the server itself (a latency fault rule)."""
    async with h.db.transaction() as s:
        await service.add(s, {"method": "server.time", "latency": ms}, h.services.clock.now(),
                          "test")  # fmt: skip
    h.services.faults.invalidate()


async def test_the_servers_own_slowness_is_cut_at_the_deadline(harness: Harness, hook: str) -> None:
    await slow_fault(harness, "3000")
    started = time.monotonic()
    answer = await harness.client.post(hook + "server.time")
    err(answer, 503, "REQUEST_TIMEOUT")
    assert answer.headers["retry-after"] == "5"
    assert time.monotonic() - started < 2.5


async def test_a_slow_body_is_not_the_servers_time(harness: Harness, hook: str) -> None:
    params = json.dumps({"USER_ID": 1, "PHONE_NUMBER": "+79160001234", "TYPE": 2}).encode()

    async def slowly() -> AsyncIterator[bytes]:
        for i in range(0, len(params), 20):
            await asyncio.sleep(0.4)  # 2 s or so in all, twice the deadline
            yield params[i : i + 20]

    answer = await harness.client.post(
        hook + "telephony.externalCall.register",
        content=slowly(),
        headers={"content-type": "application/json"},
    )
    assert ok(answer)["result"]["CALL_ID"]


async def test_zero_turns_it_off(settings: Settings, clock: Clock) -> None:
    async with make_harness(settings.replace(request_deadline=0), clock) as h:
        await h.add_webhook(await h.add_user(name="Admin", admin=True), code="secretcode")
        await slow_fault(h, "1500")
        ok(await h.client.post("/rest/1/secretcode/server.time"))


async def test_a_cut_request_that_ends_in_another_error_gets_one_answer() -> None:
    """A library may turn the cancellation into an error of its own on the way out: the
    client still gets the one 503, and nothing reaches the server's error handling."""
    from starlette.types import Message, Scope

    from b24tel.rest.deadline import Deadline
    from b24tel.rest.envelope import render_error

    async def stubborn(scope: Scope, receive: object, send: object) -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            raise RuntimeError("the driver's own error") from None

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    app = Deadline(stubborn, 0.2, lambda scope, error: render_error(error))
    scope = {"type": "http", "method": "POST", "path": "/rest/x", "headers": [], "state": {}}
    await app(scope, receive, send)
    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert [m["status"] for m in starts] == [503]
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert json.loads(body)["error"] == "REQUEST_TIMEOUT"
