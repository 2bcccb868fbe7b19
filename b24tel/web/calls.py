"""The call journal, its CSV export, the call page and click-to-call."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy import select
from starlette.responses import JSONResponse, Response, StreamingResponse

from b24tel import errors, phones
from b24tel.bridge import status as queue_status
from b24tel.crm.models import Activity
from b24tel.events.models import Delivery
from b24tel.files.download import GONE
from b24tel.recordings.links import PURPOSE
from b24tel.recordings.models import RecordingFile
from b24tel.rest.endpoint import page_form
from b24tel.rest.envelope import COMMON_HEADERS
from b24tel.services import EndpointCtx, Services
from b24tel.telephony import click, statistics
from b24tel.telephony.models import Statistic, Transcript, TranscriptLine
from b24tel.telephony.outcomes import DIRECTIONS, outcome
from b24tel.telephony.rules import Env
from b24tel.web import live
from b24tel.web import repository as repo
from b24tel.web.bridge_page import STATES
from b24tel.web.links import entity_link
from b24tel.web.render import HEADERS, Viewer, local_time, page, viewer
from b24tel.web.repository import PAGE_SIZE, CallFilter, CallQuery
from b24tel.wire import links
from b24tel.wire.numbers import ascii_int

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PHONE = re.compile(r"^\+?[\d\s()\-]*$")
CSV_COLUMNS = (
    "CALL_ID",
    "CALL_START_DATE",
    "CALL_TYPE",
    "DIRECTION",
    "PHONE_NUMBER",
    "PHONE_NUMBER_E164",
    "PORTAL_USER_ID",
    "USER_NAME",
    "PORTAL_NUMBER",
    "LINE_NAME",
    "CALL_DURATION",
    "CALL_FAILED_CODE",
    "STATUS",
    "CRM_ENTITY_TYPE",
    "CRM_ENTITY_ID",
    "CRM_ENTITY_NAME",
    "RECORD_FILE_ID",
    "TRANSCRIPT_ID",
)


def status_of(stat: Statistic) -> str:
    return outcome(stat.call_failed_code)


def play_url(services: Services, file_id: int, user_id: int) -> str:
    """A signed download link: the player asks for it with Range, without credentials."""
    claims = {
        "f": file_id,
        "by": f"user:{user_id}",
        "exp": int(services.clock.time()) + services.settings.download_link_ttl,
    }
    return f"/rest/download.json?token={quote(links.sign(services.secret, PURPOSE, claims))}"


def _query(ctx: EndpointCtx, me: Viewer, f: CallFilter) -> CallQuery:
    services = ctx.services
    dialect = "sqlite" if services.db.is_sqlite else "postgresql"
    return CallQuery(f, me.user_id, me.admin, services.tz, services.settings.phone_region, dialect)


async def journal(ctx: EndpointCtx) -> Response:
    me = await viewer(ctx)
    f = CallFilter.parse(ctx.query)
    async with ctx.services.db.transaction(readonly=True) as s:
        rows, total = await _query(ctx, me, f).page(s)
        names = await repo.entity_names(s, [(r.crm_entity_type, r.crm_entity_id) for r in rows])
        people = await repo.user_names(s, [r.portal_user_id for r in rows])
        line_names = await repo.line_names(s)
        choices = {"users": await repo.users(s), "lines": await repo.lines(s)}
    calls = [_row(ctx.services, me, r, names, people, line_names) for r in rows]
    pages = max(1, -(-total // PAGE_SIZE))
    return page(
        ctx,
        me,
        "calls.html",
        calls=calls,
        total=total,
        f=f,
        pages=pages,
        link=lambda **kw: "/calls?" + urlencode(f.query(**kw)),
        export="/calls.csv?" + urlencode(f.query(page="")),
        directions=DIRECTIONS,
        **choices,
    )


def _row(
    services: Services,
    me: Viewer,
    r: Statistic,
    names: dict[tuple[str, int], str],
    people: dict[int, str],
    line_names: dict[str, str],
) -> dict[str, Any]:
    entity = entity_link(services.settings.upstream_origin, r.crm_entity_type, r.crm_entity_id,
                         names)  # fmt: skip
    return {
        "call_id": r.call_id,
        "start": local_time(r.call_start_date, services.tz),
        "direction": r.incoming,
        "direction_name": DIRECTIONS.get(r.incoming, r.incoming),
        "number": r.phone_number,
        "entity": entity,
        "user": people.get(r.portal_user_id or 0, ""),
        "line": line_names.get(r.portal_number or "") or live.line_number(r.portal_number),
        "duration": r.call_duration,
        "status": status_of(r),
        "play": play_url(services, r.record_file_id, me.user_id) if r.record_file_id else None,
    }


async def export(ctx: EndpointCtx) -> Response:
    """Every call the filter matches, streamed in chunks: memory stays flat at any size.
    Times are ISO 8601 with the portal's offset, numbers also in E.164, people, lines and
    CRM records also by name."""
    me = await viewer(ctx)
    query = _query(ctx, me, CallFilter.parse(ctx.query))
    services = ctx.services
    region = services.settings.phone_region

    async def lines() -> AsyncIterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        async with services.db.transaction(readonly=True) as s:
            line_names = await repo.line_names(s)
        async for chunk in query.chunks(services.db):
            async with services.db.transaction(readonly=True) as s:
                people = await repo.user_names(s, [r.portal_user_id for r in chunk])
                pairs = [(r.crm_entity_type, r.crm_entity_id) for r in chunk]
                names = await repo.entity_names(s, pairs)
            for r in chunk:
                writer.writerow(
                    [
                        r.call_id,
                        r.call_start_date.astimezone(services.tz).isoformat(),
                        r.incoming,
                        DIRECTIONS.get(r.incoming, ""),
                        _cell(r.phone_number),
                        phones.e164(r.phone_number, region),
                        r.portal_user_id,
                        _cell(people.get(r.portal_user_id or 0, "")),
                        _cell(r.portal_number),
                        _cell(line_names.get(r.portal_number or "", "")),
                        r.call_duration,
                        r.call_failed_code,
                        status_of(r),
                        r.crm_entity_type,
                        r.crm_entity_id,
                        _cell(names.get((r.crm_entity_type or "", r.crm_entity_id or 0), "")),
                        r.record_file_id,
                        r.transcript_id,
                    ]
                )
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue().encode()

    headers = {
        "Content-Disposition": 'attachment; filename="calls.csv"',
        "Cache-Control": "no-store",
    }
    return StreamingResponse(lines(), media_type="text/csv; charset=utf-8", headers=headers)


def _cell(value: str | None) -> str:
    """A cell a spreadsheet will not run as a formula (CSV injection); phone numbers such
    as ``+7 916 …`` stay as they are."""
    text = value or ""
    return "'" + text if text[:1] in FORMULA_START and not _PHONE.match(text) else text


async def visible_call(ctx: EndpointCtx, me: Viewer, call_id: str) -> Statistic:
    async with ctx.services.db.transaction(readonly=True) as s:
        stat = (await s.execute(select(Statistic).where(Statistic.call_id == call_id))).scalar()
    if stat is None:
        raise errors.ApiError("NOT_FOUND", "No such call", 404)
    if not me.admin and stat.portal_user_id != me.user_id:
        raise errors.access_denied("This call belongs to another user")
    return stat


async def call_page(ctx: EndpointCtx) -> Response:
    me = await viewer(ctx)
    call_id = str(ctx.request.path_params["call_id"])
    if (ongoing := await live.in_progress(ctx, me, call_id)) is not None:
        return ongoing
    stat = await visible_call(ctx, me, call_id)
    services = ctx.services
    async with services.db.transaction(readonly=True) as s:
        versions = (
            (
                await s.execute(
                    select(RecordingFile)
                    .where(RecordingFile.call_id == stat.call_id)
                    .order_by(RecordingFile.id.desc())
                )
            )
            .scalars()
            .all()
        )
        names = await repo.entity_names(s, [(stat.crm_entity_type, stat.crm_entity_id)])
        # in bridge mode the activity is the portal's: not one of ours
        bridged = bool(services.settings.upstream_url)
        activity = (
            await s.get(Activity, stat.crm_activity_id)
            if stat.crm_activity_id and not bridged
            else None
        )
        transcript = await _transcript(s, stat.transcript_id)
        deliveries = (
            (
                await s.execute(
                    select(Delivery)
                    .where(Delivery.ordering_key.like(f"%|CALL:{_like(stat.call_id)}", escape="\\"))
                    .order_by(Delivery.id)
                    .limit(100)
                )
            )
            .scalars()
            .all()
        )
    assert ctx.caller is not None  # a session endpoint
    env = Env(
        ctx.caller, services.clock.now(), services.tz, services.settings.phone_region, services
    )
    recorded = next((v for v in versions if v.id == stat.record_file_id), None)
    current = recorded if recorded is not None and not recorded.deleted_at else None
    removed = GONE.get(recorded.deleted_reason or "") if recorded is not None else None
    operations = await queue_status.operations(services.db, stat.call_id) if bridged else []
    portal = services.settings.upstream_origin
    return page(
        ctx,
        me,
        "call.html",
        stat=stat,
        fields=statistics.row(stat, env),
        status=status_of(stat),
        direction=DIRECTIONS.get(stat.incoming, stat.incoming),
        current=current,
        removed=removed,
        player=play_url(services, current.id, me.user_id) if current else None,
        versions=[
            {"file": v, "play": None if v.deleted_at else play_url(services, v.id, me.user_id)}
            for v in versions
        ],
        entity=entity_link(portal, stat.crm_entity_type, stat.crm_entity_id, names),
        activity=activity,
        portal_activity=stat.crm_activity_id if bridged else None,
        operations=operations,
        states=STATES,
        transcript=transcript,
        deliveries=deliveries,
    )


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def _transcript(s: Any, transcript_id: int | None) -> list[TranscriptLine]:
    if not transcript_id:
        return []
    if await s.get(Transcript, transcript_id) is None:
        return []
    stmt = (
        select(TranscriptLine)
        .where(TranscriptLine.transcript_id == transcript_id)
        .order_by(TranscriptLine.start_time, TranscriptLine.id)
    )
    return list((await s.execute(stmt)).scalars())


async def start_call(ctx: EndpointCtx) -> Response:
    """Click-to-call: ONEXTERNALCALLSTART to the connector, and the card for the call."""
    me = await viewer(ctx)
    form = await page_form(ctx.request, 10)
    number = form.get("number")
    if not isinstance(number, str) or not number.strip():
        raise errors.invalid_request("Give a phone number to call")
    entity_type, entity_id = form.get("entity_type"), form.get("entity_id")
    try:
        started = await click.start_call(
            ctx.services,
            user_id=me.user_id,
            number=number.strip()[:100],
            show=True,
            entity_type=entity_type if isinstance(entity_type, str) and entity_type else None,
            entity_id=ascii_int(entity_id),
        )
    except click.ClickError as exc:
        return JSONResponse(
            {"error": "CALL_NOT_STARTED", "error_description": str(exc)},
            409,
            headers=COMMON_HEADERS,
        )
    return JSONResponse(
        {"call_id": started.call_id, "app_id": started.app_id},
        headers={**COMMON_HEADERS, **HEADERS},
    )
