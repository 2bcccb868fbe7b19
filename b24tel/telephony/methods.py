"""REST handlers of external telephony (scope `telephony`)."""

from __future__ import annotations

import logging
from typing import Any

from b24tel import errors, logs
from b24tel.errors import ApiError
from b24tel.rest.context import CallContext
from b24tel.rest.guard import unexpected
from b24tel.rest.params import NoParams
from b24tel.rest.registry import Registry
from b24tel.services import Services
from b24tel.telephony import line_service, record_service, service, stats_service
from b24tel.telephony import repository as repo
from b24tel.telephony.errors import Errors
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

log = logging.getLogger("b24tel.telephony")


def env(ctx: CallContext, *, app_only: bool = False) -> service.Env:
    settings = ctx.settings
    # the current cloud refuses webhooks here; open-source connectors all use them, so
    # it is a switch (compat T1)
    if app_only and settings.telephony_require_app and ctx.caller.kind == "webhook":
        raise errors.wrong_auth_type()
    return service.Env(
        ctx.caller,
        ctx.now(),
        ctx.services.tz,
        settings.phone_region,
        Errors(settings.telephony_error_code),
    )


async def fetch_finish_record(services: Services, env: service.Env, call_id: str, url: str) -> None:
    """finish's deprecated RECORD_URL, after the response (the reference downloads inside
    the request): a failure is logged and kept on the statistic row, never an error."""
    status, error = "done", None
    try:
        await record_service.attach_record_url(services, env.errors, call_id, url)
    except ApiError as exc:
        status, error = "failed", exc.description
        log.warning("RECORD_URL of %s not attached: %s", call_id, logs.redact(exc.description))
    except Exception as exc:
        # a defect, not the client's doing: the row must still leave `pending`
        status, error = "failed", unexpected(exc, "", f"RECORD_URL of {call_id}").description
    async with services.db.transaction() as s:
        stat = await repo.statistic(s, call_id)
        if stat is not None:
            stat.record_fetch_status, stat.record_fetch_error = status, error


def register(registry: Registry) -> None:
    @registry.method("telephony.externalCall.register", scope="telephony", params=RegisterParams)
    async def register_call(ctx: CallContext, p: RegisterParams) -> Any:
        e = env(ctx, app_only=True)
        async with ctx.db.transaction() as s:
            return await service.register(s, e, p)

    @registry.method("telephony.externalCall.finish", scope="telephony", params=FinishParams)
    async def finish(ctx: CallContext, p: FinishParams) -> Any:
        e = env(ctx, app_only=True)
        async with ctx.db.transaction() as s:
            result, stat = await service.finish(s, e, p)
        if stat.call_record_url:
            ctx.services.background.spawn(
                fetch_finish_record(ctx.services, e, stat.call_id, stat.call_record_url),
                name=f"record-url {stat.call_id}",
            )
        return result

    @registry.method("telephony.externalCall.show", scope="telephony", params=ShowHideParams)
    async def show(ctx: CallContext, p: ShowHideParams) -> bool:
        async with ctx.db.transaction() as s:
            return await service.set_card(s, env(ctx), p.CALL_ID, p.USER_ID, "shown")

    @registry.method("telephony.externalCall.hide", scope="telephony", params=ShowHideParams)
    async def hide(ctx: CallContext, p: ShowHideParams) -> bool:
        async with ctx.db.transaction() as s:
            return await service.set_card(s, env(ctx), p.CALL_ID, p.USER_ID, "hidden")

    @registry.method(
        "telephony.externalCall.attachRecord",
        scope="telephony",
        params=AttachRecordParams,
        lazy=record_service.LAZY,
    )
    async def attach_record(ctx: CallContext, p: AttachRecordParams) -> Any:
        return await record_service.attach_record(ctx, env(ctx), p)

    @registry.method(
        "telephony.externalCall.searchCrmEntities", scope="telephony", params=SearchParams
    )
    async def search(ctx: CallContext, p: SearchParams) -> Any:
        async with ctx.db.transaction(readonly=True) as s:
            return await service.search(s, env(ctx), p.PHONE_NUMBER)

    @registry.method(
        "telephony.call.attachTranscription", scope="telephony", params=TranscriptionParams
    )
    async def attach_transcription(ctx: CallContext, p: TranscriptionParams) -> Any:
        async with ctx.db.transaction() as s:
            return await stats_service.attach_transcription(s, env(ctx), p)

    @registry.method(
        "voximplant.statistic.get",
        scope="telephony",
        params=StatisticParams,
        is_list=True,
        alt_scopes=frozenset({"call"}),
    )
    async def statistic_get(ctx: CallContext, p: StatisticParams) -> Any:
        async with ctx.db.transaction(readonly=True) as s:
            return await stats_service.statistic_get(s, env(ctx), p, ctx.start)

    @registry.method("telephony.externalLine.add", scope="telephony", params=LineParams)
    async def line_add(ctx: CallContext, p: LineParams) -> Any:
        e = env(ctx, app_only=True)
        async with ctx.db.transaction() as s:
            return await line_service.add(s, e, p)

    @registry.method("telephony.externalLine.update", scope="telephony", params=LineParams)
    async def line_update(ctx: CallContext, p: LineParams) -> Any:
        e = env(ctx, app_only=True)
        async with ctx.db.transaction() as s:
            return await line_service.update(s, e, p)

    @registry.method("telephony.externalLine.delete", scope="telephony", params=LineParams)
    async def line_delete(ctx: CallContext, p: LineParams) -> Any:
        e = env(ctx, app_only=True)
        async with ctx.db.transaction() as s:
            return await line_service.delete(s, e, p)

    @registry.method("telephony.externalLine.get", scope="telephony")
    async def line_get(ctx: CallContext, p: NoParams) -> Any:
        e = env(ctx, app_only=True)
        async with ctx.db.transaction(readonly=True) as s:
            return await line_service.get(s, e)
