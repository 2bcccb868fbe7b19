"""Queries on CRM tables."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel.crm.fields import EntityDef
from b24tel.crm.models import (
    Activity,
    ActivityBinding,
    ActivityCommunication,
    CrmRow,
    Multifield,
    Status,
)


async def get(session: AsyncSession, entity: EntityDef, entity_id: int) -> CrmRow | None:
    return await session.get(entity.model, entity_id)


async def get_many(session: AsyncSession, entity: EntityDef, ids: Iterable[int]) -> list[CrmRow]:
    ids = list(ids)
    if not ids:
        return []
    model = entity.model
    rows = (await session.execute(select(model).where(model.id.in_(ids)))).scalars()
    return [row for row in rows if isinstance(row, model)]


async def multifields(
    session: AsyncSession, entity_type: str, ids: Sequence[int]
) -> dict[int, list[Multifield]]:
    out: dict[int, list[Multifield]] = defaultdict(list)
    if not ids:
        return out
    stmt = (
        select(Multifield)
        .where(Multifield.entity_type == entity_type, Multifield.entity_id.in_(ids))
        .order_by(Multifield.id)
    )
    for row in (await session.execute(stmt)).scalars():
        out[row.entity_id].append(row)
    return out


async def delete_multifields(session: AsyncSession, entity_type: str, entity_id: int) -> None:
    await session.execute(
        delete(Multifield).where(
            Multifield.entity_type == entity_type, Multifield.entity_id == entity_id
        )
    )


async def owners_by_value(
    session: AsyncSession, type_id: str, keys: Sequence[str], entity_types: Sequence[str]
) -> list[tuple[str, int]]:
    """(entity type, id) of every entity with one of ``keys`` — an index lookup on
    (type_id, normalized)."""
    if not keys:
        return []
    stmt = (
        select(Multifield.entity_type, Multifield.entity_id)
        .where(
            Multifield.type_id == type_id,
            Multifield.normalized.in_(list(keys)),
            Multifield.entity_type.in_(list(entity_types)),
        )
        .distinct()
    )
    return [(t, i) for t, i in (await session.execute(stmt)).all()]


async def statuses(session: AsyncSession, entity_id: str | None = None) -> Sequence[Status]:
    stmt = select(Status).order_by(Status.entity_id, Status.sort, Status.id)
    if entity_id is not None:
        stmt = stmt.where(Status.entity_id == entity_id)
    return (await session.execute(stmt)).scalars().all()


async def status(session: AsyncSession, entity_id: str, status_id: str) -> Status | None:
    stmt = select(Status).where(Status.entity_id == entity_id, Status.status_id == status_id)
    return (await session.execute(stmt)).scalar_one_or_none()


# --- activities -----------------------------------------------------------------------------


async def activity(session: AsyncSession, activity_id: int) -> Activity | None:
    return await session.get(Activity, activity_id)


async def bindings(session: AsyncSession, ids: Sequence[int]) -> dict[int, list[ActivityBinding]]:
    out: dict[int, list[ActivityBinding]] = defaultdict(list)
    if ids:
        stmt = select(ActivityBinding).where(ActivityBinding.activity_id.in_(ids))
        for row in (await session.execute(stmt)).scalars():
            out[row.activity_id].append(row)
    return out


async def communications(
    session: AsyncSession, ids: Sequence[int]
) -> dict[int, list[ActivityCommunication]]:
    out: dict[int, list[ActivityCommunication]] = defaultdict(list)
    if ids:
        stmt = (
            select(ActivityCommunication)
            .where(ActivityCommunication.activity_id.in_(ids))
            .order_by(ActivityCommunication.id)
        )
        for row in (await session.execute(stmt)).scalars():
            out[row.activity_id].append(row)
    return out


async def binding(
    session: AsyncSession, activity_id: int, owner_type_id: int, owner_id: int
) -> ActivityBinding | None:
    return await session.get(ActivityBinding, (activity_id, owner_type_id, owner_id))


async def drop_bindings_to(session: AsyncSession, owner_type_id: int, owner_id: int) -> None:
    await session.execute(
        delete(ActivityBinding).where(
            ActivityBinding.owner_type_id == owner_type_id, ActivityBinding.owner_id == owner_id
        )
    )
