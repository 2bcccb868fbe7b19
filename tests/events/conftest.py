"""A harness whose server may call handlers on 127.0.0.1 and retries quickly, an installed
application with a token, and a handler server."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from b24tel.clock import Clock
from b24tel.config import Settings
from tests.conftest import WEBHOOK_CODE, Harness, make_harness
from tests.events.handler import HandlerServer

FAST = {
    "event_handler_allowlist": "127.0.0.1/32",
    "event_retry_initial": 0.05,
    "event_retry_max": 0.2,
    "event_timeout": 2.0,
    "event_poll_interval": 0.05,
}


@pytest.fixture
async def ev(settings: Settings, clock: Clock) -> AsyncIterator[Harness]:
    async with make_harness(settings.replace(**FAST), clock) as h:
        admin = await h.add_user(name="Admin", admin=True, inner_number="101")
        await h.add_webhook(admin, code=WEBHOOK_CODE)
        await h.add_user(name="Bob", inner_number="102")
        yield h


@pytest.fixture
def handler() -> Iterator[HandlerServer]:
    with HandlerServer() as server:
        yield server


class App:
    """An installed application and an access token of a user."""

    def __init__(self, h: Harness, app: Any, token: str) -> None:
        self.h, self.app, self.token = h, app, token

    async def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        return await self.h.client.post(
            f"/rest/{method}", json={**(params or {}), "auth": self.token}
        )


async def installed_app(h: Harness, user_id: int = 1, scopes: str | None = None) -> App:
    app, _ = await h.add_app(scopes)
    pair = await h.token(app, user_id)
    return App(h, app, pair.access_token)


@pytest.fixture
async def admin_app(ev: Harness) -> App:
    return await installed_app(ev, 1)


@pytest.fixture
async def user_app(ev: Harness, admin_app: App) -> App:
    """The same application, used by user 2 (not an administrator)."""
    pair = await ev.token(admin_app.app, 2)
    return App(ev, admin_app.app, pair.access_token)


async def until(predicate: Callable[[], Any], timeout: float = 10.0) -> None:
    """Wait for ``predicate`` (plain or async) to hold."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.02)
