"""One application's dead handlers cannot starve everyone's events: free slots go to the
subscriber with the fewest in flight, each handler URL has a cap, and a handler that keeps
timing out is left alone for a while by its circuit breaker — its events wait, none is lost
(b24tel.events.fairness)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from b24tel.cli.main import cli
from b24tel.clock import Clock
from b24tel.config import Settings
from b24tel.events import claims, fairness
from b24tel.events.models import HandlerHealth
from b24tel.events.policy import Policy
from tests.api.test_recordings_ops import cli_env
from tests.conftest import WEBHOOK_CODE, Harness, make_harness
from tests.events.conftest import FAST, installed_app, until
from tests.events.handler import HandlerServer
from tests.events.test_delivery import all_delivered, outgoing_hook
from tests.web.test_pages import sign_in

HOOK = f"/rest/1/{WEBHOOK_CODE}/"
TIGHT = {**FAST, "event_concurrency": 4, "event_handler_concurrency": 2, "event_timeout": 0.5,
         "event_breaker_failures": 3, "event_breaker_cooldown": 1.0}  # fmt: skip


@pytest.fixture
async def tight(
    settings: Settings, clock: Clock, request: pytest.FixtureRequest
) -> AsyncIterator[Harness]:
    extra = getattr(request, "param", {})
    async with make_harness(settings.replace(**{**TIGHT, **extra}), clock) as h:
        admin = await h.add_user(name="Admin", admin=True, inner_number="101")
        await h.add_webhook(admin, code=WEBHOOK_CODE)
        yield h


def _group(sub: str, handler: str, oldest: int) -> fairness.Group:
    return fairness.Group(sub, None, None, handler, oldest)


def test_slots_go_to_the_least_served_subscriber_then_handler() -> None:
    a = [_group("app:1", f"http://a/{n}", n) for n in range(6)]
    b = _group("app:2", "http://b/", 100)
    by_sub: Counter[str] = Counter({"app:1": 4})
    by_handler: Counter[str] = Counter({"http://a/0": 2, "http://a/1": 2})
    given = fairness.allocate([*a, b], by_sub, by_handler, free=3, cap=2)
    assert given[b] == 2  # app 2 has nothing in flight: it comes first, until it has more
    assert sum(given.values()) == 3 and given[a[0]] == given[a[1]] == 0  # capped
    opened = fairness.Breakers(open=frozenset({fairness.handler_key("http://b/")}))
    given = fairness.allocate([*a, b], Counter(), Counter(), free=3, cap=2, breakers=opened)
    assert given[b] == 0 and sum(given.values()) == 3
    trial = fairness.Breakers(trial=frozenset({fairness.handler_key("http://b/")}))
    given = fairness.allocate([b], Counter(), Counter(), free=4, cap=2, breakers=trial)
    assert given[b] == 1  # half open: one at a time


# no breaker here: fair shares alone must do it
@pytest.mark.parametrize("tight", [{"event_breaker_failures": 1000}], indirect=True)
async def test_hanging_handlers_of_one_application_do_not_starve_another(
    tight: Harness,
) -> None:
    with HandlerServer(delay=5.0) as dead, HandlerServer() as quick:
        app = await installed_app(tight, 1)
        for n in range(6):
            r = await app.call("event.bind", {"event": "ONCRMCOMPANYADD",
                                              "handler": f"{dead.url}/h{n}"})  # fmt: skip
            assert r.status_code == 200, r.text
        await outgoing_hook(tight, quick.url, "ONCRMCOMPANYADD")
        for n in range(10):
            await tight.call(HOOK, "crm.company.add", {"fields": {"TITLE": f"c{n}"}})
        await until(lambda: len(quick.events()) == 10, timeout=20)
        # the other application's 60 deliveries got a share of the slots, not all of them
        assert len(dead.received) < 20, len(dead.received)


# open long enough for the page and the command to see it open
@pytest.mark.parametrize("tight", [{"event_breaker_cooldown": 4.0}], indirect=True)
async def test_a_breaker_opens_on_timeouts_and_closes_on_an_answer(tight: Harness) -> None:
    with HandlerServer(delay=5.0) as slow:
        await outgoing_hook(tight, slow.url, "ONCRMDEALADD")
        for n in range(2):
            await tight.call(HOOK, "crm.deal.add", {"fields": {"TITLE": f"d{n}"}})

        async def opened() -> HandlerHealth | None:
            async with tight.db.transaction(readonly=True) as s:
                row = (await s.execute(select(HandlerHealth))).scalar_one_or_none()
            return row if row is not None and row.open_until is not None else None

        await until(opened, timeout=20)
        row = await opened()
        assert row is not None and row.timeouts >= 3 and row.trips == 1
        assert row.last_error == "no answer within 0.5 s"
        # shown where an operator looks: the events page and `events log`
        await sign_in(tight, 1)
        page = (await tight.client.get("/admin/deliveries")).text
        assert "Handlers not answering" in page and "breaker open for" in page
        env = {**cli_env(tight.services.settings), "B24TEL_EVENT_BREAKER_FAILURES": "3"}
        log = await asyncio.to_thread(CliRunner(env=env).invoke, cli, ["events", "log"])
        assert f"handler {slow.url}: breaker open for" in log.output, log.output
        # while it is open, nothing of that handler is claimed
        now = tight.services.clock.now()
        if row.open_until is not None and row.open_until > now + dt.timedelta(seconds=0.2):
            async with tight.db.transaction() as s:
                policy = Policy.of(tight.services.settings)
                assert await claims.claim(s, now, policy, 10, locking=False) == []
        slow.delay = 0.0  # the handler answers again
        await until(lambda: len(slow.events()) == 2, timeout=20)
        await until(lambda: _closed(tight), timeout=5)
        await until(lambda: all_delivered(tight), timeout=5)


async def _closed(h: Harness) -> bool:
    async with h.db.transaction(readonly=True) as s:
        row = (await s.execute(select(HandlerHealth))).scalar_one()
    return row.timeouts == 0 and row.open_until is None
