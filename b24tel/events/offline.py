"""The offline queue: ``event.offline.get/clear/error/list`` (docs/reference/events.md,
"Offline events"). Administrators of an application read the changes the portal queued for
it, reserve them under a process id, and clear them once handled."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel.db.base import INT64
from b24tel.db.filters import FieldDef, build_order, build_where, page
from b24tel.events import errors as event_errors
from b24tel.events.models import OfflineEvent
from b24tel.events.schemas import OfflineClearParams, OfflineGetParams, OfflineListParams
from b24tel.events.subscriptions import Who
from b24tel.paging import ListResult
from b24tel.rest.envelope import iso
from b24tel.wire.numbers import ascii_int
from b24tel.wire.php import NotAnArray

# a reservation that was never cleared frees its rows after this long
RESERVATION = dt.timedelta(days=30)
MAX_LIMIT = 1000

OE = OfflineEvent
FIELDS = {
    "ID": FieldDef(OE.id, "int"),
    "TIMESTAMP_X": FieldDef(OE.timestamp_x, "datetime"),
    "EVENT_NAME": FieldDef(OE.event_name),
    "MESSAGE_ID": FieldDef(OE.message_id),
}
LIST_FIELDS = {**FIELDS, "PROCESS_ID": FieldDef(OE.process_id), "ERROR": FieldDef(OE.error, "bool")}


def _map(value: dict[str, Any] | NotAnArray) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _require_admin(w: Who) -> None:
    if not w.admin:
        raise event_errors.admin_only()


def row(o: OfflineEvent, tz: ZoneInfo, *, listing: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ID": str(o.id),
        "TIMESTAMP_X": iso(o.timestamp_x, tz),
        "EVENT_NAME": o.event_name,
        "EVENT_DATA": o.event_data if o.event_data else False,
        "EVENT_ADDITIONAL": o.event_additional if o.event_additional else False,
        "MESSAGE_ID": o.message_id,
    }
    if listing:
        out["PROCESS_ID"] = o.process_id
        out["ERROR"] = "1" if o.error else "0"
    return out


def _queue(w: Who, connector: str | None) -> Select[Any]:
    return select(OE).where(OE.app_id == w.app_id, OE.auth_connector == (connector or "").strip())


async def get(
    session: AsyncSession,
    now: dt.datetime,
    tz: ZoneInfo,
    w: Who,
    p: OfflineGetParams,
    *,
    skip_locked: bool,
) -> dict[str, Any]:
    _require_admin(w)
    process_id = (p.process_id or "").strip()
    free = or_(OE.process_id == "", OE.reserved_at < now - RESERVATION)
    stmt = _queue(w, p.auth_connector).where(
        or_(free, OE.process_id == process_id) if process_id else free,
        OE.error.is_(bool(p.error)),
    )
    for cond in build_where(_map(p.filter), FIELDS, tz):
        stmt = stmt.where(cond)
    order = build_order(_map(p.order), FIELDS) or [OE.timestamp_x.asc()]
    limit = min(max(p.limit if p.limit is not None else 50, 1), MAX_LIMIT)
    stmt = stmt.order_by(*order, OE.id.asc()).limit(limit)
    if skip_locked:  # parallel readers each get other rows (PostgreSQL)
        stmt = stmt.with_for_update(skip_locked=True)
    rows = list((await session.execute(stmt)).scalars())
    result = [row(o, tz) for o in rows]
    ids = [o.id for o in rows]
    if p.clear is None or p.clear:
        if ids:
            await session.execute(delete(OE).where(OE.id.in_(ids)))
        return {"process_id": None, "events": result}
    process_id = process_id or uuid.uuid4().hex
    if ids:
        await session.execute(
            update(OE).where(OE.id.in_(ids)).values(process_id=process_id, reserved_at=now)
        )
    return {"process_id": process_id, "events": result}


async def clear(session: AsyncSession, w: Who, p: OfflineClearParams) -> bool:
    _require_admin(w)
    if not p.process_id:
        raise event_errors.process_id_empty()
    stmt = delete(OE).where(OE.app_id == w.app_id, OE.process_id == p.process_id)
    ids = [str(i) for i in p.id]
    if ids:
        # what is not a row id (a word, "²", past 64 bits) matches no row
        numbers = [n for i in ids if (n := ascii_int(i, 19)) is not None]
        stmt = stmt.where(OE.id.in_([n for n in numbers if n < INT64]))
    elif p.message_id:
        stmt = stmt.where(OE.message_id.in_([str(m) for m in p.message_id]))
    await session.execute(stmt)
    return True


async def mark_error(session: AsyncSession, w: Who, p: OfflineClearParams) -> bool:
    """Rows a process could not handle: out of its reservation, kept apart (``error=1``
    reads them)."""
    _require_admin(w)
    if not p.process_id:
        raise event_errors.process_id_empty()
    stmt = update(OE).where(OE.app_id == w.app_id, OE.process_id == p.process_id)
    if p.message_id:
        stmt = stmt.where(OE.message_id.in_([str(m) for m in p.message_id]))
    await session.execute(stmt.values(error=True, process_id="", reserved_at=None))
    return True


async def listing(
    session: AsyncSession, tz: ZoneInfo, w: Who, p: OfflineListParams, start: int
) -> ListResult:
    _require_admin(w)
    stmt = _queue(w, p.auth_connector)
    for cond in build_where(_map(p.filter), LIST_FIELDS, tz):
        stmt = stmt.where(cond)
    order = build_order(_map(p.order), LIST_FIELDS) or [OE.id.asc()]
    stmt = stmt.order_by(*order, OE.id.asc())
    return await page(
        session, stmt, start, key_column=OE.id, convert=lambda r: row(r[0], tz, listing=True)
    )
