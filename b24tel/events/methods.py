"""REST handlers of the event methods (scope `basic`, application context only)."""

from __future__ import annotations

from typing import Any

from b24tel.events import offline, subscriptions
from b24tel.events.schemas import (
    BindParams,
    EventsParams,
    OfflineClearParams,
    OfflineGetParams,
    OfflineListParams,
)
from b24tel.paging import ListResult
from b24tel.rest.params import NoParams
from b24tel.rest.registry import Registry
from b24tel.services import Ctx


def register(registry: Registry) -> None:
    method = registry.method

    @method("event.bind", scope="basic", params=BindParams)
    async def bind(ctx: Ctx, p: BindParams) -> bool:
        async with ctx.db.transaction() as s:
            w = await subscriptions.who(s, ctx.caller)
            allow = ctx.settings.event_handler_allowlist
            return await subscriptions.bind(s, ctx.now(), w, p, allow)

    @method("event.unbind", scope="basic", params=BindParams)
    async def unbind(ctx: Ctx, p: BindParams) -> dict[str, int]:
        async with ctx.db.transaction() as s:
            return await subscriptions.unbind(s, await subscriptions.who(s, ctx.caller), p)

    @method("event.get", scope="basic", params=NoParams)
    async def get(ctx: Ctx, p: NoParams) -> list[dict[str, Any]]:
        async with ctx.db.transaction(readonly=True) as s:
            return await subscriptions.bindings_of(s, await subscriptions.who(s, ctx.caller))

    @method("events", scope="basic", params=EventsParams)
    async def events(ctx: Ctx, p: EventsParams) -> list[str]:
        return subscriptions.event_names(p, ctx.caller.scopes)

    @method("event.offline.get", scope="basic", params=OfflineGetParams)
    async def offline_get(ctx: Ctx, p: OfflineGetParams) -> dict[str, Any]:
        async with ctx.db.transaction() as s:
            w = await subscriptions.who(s, ctx.caller)
            skip_locked = not ctx.db.is_sqlite
            return await offline.get(s, ctx.now(), ctx.services.tz, w, p, skip_locked=skip_locked)

    @method("event.offline.clear", scope="basic", params=OfflineClearParams)
    async def offline_clear(ctx: Ctx, p: OfflineClearParams) -> bool:
        async with ctx.db.transaction() as s:
            return await offline.clear(s, await subscriptions.who(s, ctx.caller), p)

    @method("event.offline.error", scope="basic", params=OfflineClearParams)
    async def offline_error(ctx: Ctx, p: OfflineClearParams) -> bool:
        async with ctx.db.transaction() as s:
            return await offline.mark_error(s, await subscriptions.who(s, ctx.caller), p)

    @method("event.offline.list", scope="basic", params=OfflineListParams, is_list=True)
    async def offline_list(ctx: Ctx, p: OfflineListParams) -> ListResult:
        async with ctx.db.transaction(readonly=True) as s:
            w = await subscriptions.who(s, ctx.caller)
            return await offline.listing(s, ctx.services.tz, w, p, ctx.start)
