"""Status lists (sources, lead stages, deal stages…) seeded with the reference's
(docs/reference/crm.md, "Statuses")."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from b24tel.crm import repository as repo
from b24tel.crm.entities import FieldMap, filtered_select
from b24tel.crm.models import Status
from b24tel.db.filters import FieldDef
from b24tel.paging import ListResult
from b24tel.wire.php import NotAnArray

_SEMANTICS = {"S": "success", "F": "failure"}

FIELDS: dict[str, FieldDef] = {
    "ID": FieldDef(Status.id, "int"),
    "ENTITY_ID": FieldDef(Status.entity_id),
    "STATUS_ID": FieldDef(Status.status_id),
    "NAME": FieldDef(Status.name),
    "SORT": FieldDef(Status.sort, "int"),
    "SYSTEM": FieldDef(Status.system),
    "SEMANTICS": FieldDef(Status.semantics),
}


def status_dict(row: Status) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ID": str(row.id),
        "ENTITY_ID": row.entity_id,
        "STATUS_ID": row.status_id,
        "NAME": row.name,
        "NAME_INIT": row.name if row.system == "Y" else "",
        "SORT": str(row.sort),
        "SYSTEM": row.system,
        "CATEGORY_ID": None if row.category_id is None else str(row.category_id),
        "COLOR": row.color,
        "SEMANTICS": row.semantics,
    }
    if row.entity_id in ("STATUS", "DEAL_STAGE"):
        out["EXTRA"] = {
            "SEMANTICS": _SEMANTICS.get(row.semantics or "", "process"),
            "COLOR": row.color,
        }
    return out


async def status_list(
    session: AsyncSession,
    filter_param: FieldMap | NotAnArray,
    order_param: FieldMap | NotAnArray,
    tz: ZoneInfo,
) -> ListResult:
    stmt = filtered_select(
        Status, FIELDS, filter_param, order_param, tz, [Status.entity_id, Status.sort]
    )
    rows = (await session.execute(stmt)).scalars().all()
    return ListResult([status_dict(r) for r in rows], len(rows))


async def status_items(session: AsyncSession, entity_id: str) -> list[dict[str, Any]]:
    rows = await repo.statuses(session, entity_id)
    return [{"NAME": r.name, "SORT": r.sort, "STATUS_ID": r.status_id} for r in rows]


async def source_exists(session: AsyncSession, source_id: str) -> bool:
    """Whether ``source_id`` is a SOURCE status (a lead's source)."""
    return await repo.status(session, "SOURCE", source_id) is not None
