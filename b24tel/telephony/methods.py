"""REST handlers of external telephony (scope `telephony`; docs/reference/telephony.md).
Business errors go out with the code of the `telephony_error_code` setting."""

from __future__ import annotations

import functools
import logging
from typing import Any

from b24tel import errors as protocol
from b24tel.paging import ListResult
from b24tel.rest.params import NoParams
from b24tel.rest.registry import Registry
from b24tel.services import Ctx
from b24tel.telephony import finish as finishing
from b24tel.telephony import lines, records, refetch, statistics, transcripts, upload
from b24tel.telephony import register as registering
from b24tel.telephony.errors import business_code
from b24tel.telephony.rules import Env, set_card
from b24tel.telephony.schemas import (
    AttachRecordParams,
    FinishParams,
    LineParams,
    RegisterParams,
    SearchParams,
    ShowHideParams,
    StatisticParams,
    TranscriptionParams,
)
from b24tel.telephony.search import search_crm_entities

log = logging.getLogger("b24tel.telephony")


def env(ctx: Ctx, *, app_only: bool = False) -> Env:
    settings = ctx.settings
    # the current cloud refuses webhooks here; open-source connectors all use them, so it is
    # a switch (docs/reference/users.md, "Webhooks")
    if app_only and settings.telephony_require_app and ctx.caller.kind == "webhook":
        raise protocol.wrong_auth_type()
    return Env(ctx.caller, ctx.now(), ctx.services.tz, settings.phone_region, ctx.services)


def register(registry: Registry) -> None:
    method = functools.partial(registry.method, scope="telephony", business_code=business_code)
    upload.register(registry)

    @method("telephony.externalCall.register", params=RegisterParams)
    async def register_call(ctx: Ctx, p: RegisterParams) -> dict[str, Any]:
        e = env(ctx, app_only=True)
        async with ctx.db.hot() as tx:
            return await registering.register(tx, e, p)

    @method("telephony.externalCall.finish", params=FinishParams)
    async def finish(ctx: Ctx, p: FinishParams) -> dict[str, Any]:
        e = env(ctx, app_only=True)
        async with ctx.db.hot() as tx:
            result, stat = await finishing.finish(await tx.session(), e, p)
        if stat.call_record_url:
            refetch.spawn(ctx.services, stat.call_id, stat.call_record_url)
        return result

    @method("telephony.externalCall.show", params=ShowHideParams)
    async def show(ctx: Ctx, p: ShowHideParams) -> bool:
        async with ctx.db.transaction() as s:
            return await set_card(s, env(ctx), p.call_id, p.user_ids, "shown")

    @method("telephony.externalCall.hide", params=ShowHideParams)
    async def hide(ctx: Ctx, p: ShowHideParams) -> bool:
        async with ctx.db.transaction() as s:
            return await set_card(s, env(ctx), p.call_id, p.user_ids, "hidden")

    @method("telephony.externalCall.attachRecord", params=AttachRecordParams, lazy=records.LAZY)
    async def attach_record(ctx: Ctx, p: AttachRecordParams) -> dict[str, Any]:
        return await records.attach_record(ctx, p)

    @method("telephony.externalCall.searchCrmEntities", params=SearchParams)
    async def search(ctx: Ctx, p: SearchParams) -> list[dict[str, Any]]:
        async with ctx.db.transaction(readonly=True) as s:
            return await search_crm_entities(s, env(ctx), p.phone_number)

    @method("telephony.call.attachTranscription", params=TranscriptionParams)
    async def attach_transcription(ctx: Ctx, p: TranscriptionParams) -> dict[str, int]:
        async with ctx.db.transaction() as s:
            return await transcripts.attach_transcription(s, ctx.now(), p)

    @method(
        "voximplant.statistic.get",
        params=StatisticParams,
        is_list=True,
        alt_scopes=frozenset({"call"}),
    )
    async def statistic_get(ctx: Ctx, p: StatisticParams) -> ListResult:
        async with ctx.db.transaction(readonly=True) as s:
            return await statistics.statistic_get(s, env(ctx), p, ctx.start)

    @method("telephony.externalLine.add", params=LineParams)
    async def line_add(ctx: Ctx, p: LineParams) -> dict[str, int]:
        e = env(ctx, app_only=True)
        async with ctx.db.transaction() as s:
            return await lines.add(s, e, p)

    @method("telephony.externalLine.update", params=LineParams)
    async def line_update(ctx: Ctx, p: LineParams) -> dict[str, str]:
        e = env(ctx, app_only=True)
        async with ctx.db.transaction() as s:
            return await lines.update(s, e, p)

    @method("telephony.externalLine.delete", params=LineParams)
    async def line_delete(ctx: Ctx, p: LineParams) -> list[Any]:
        e = env(ctx, app_only=True)
        async with ctx.db.transaction() as s:
            return await lines.delete(s, e, p)

    @method("telephony.externalLine.get")
    async def line_get(ctx: Ctx, p: NoParams) -> list[dict[str, Any]]:
        e = env(ctx, app_only=True)
        async with ctx.db.transaction(readonly=True) as s:
            return await lines.get(s, e)
