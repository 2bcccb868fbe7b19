"""Which entities an activity belongs to: `crm.activity.binding.*`
(docs/reference/crm.md, "Bindings"), and binding a new activity."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel.crm import errors
from b24tel.crm import repository as repo
from b24tel.crm.entities import exists
from b24tel.crm.models import Activity, ActivityBinding


async def bind(session: AsyncSession, activity_id: int, owner_type: int, owner_id: int) -> bool:
    if await repo.binding(session, activity_id, owner_type, owner_id) is not None:
        return False
    try:
        async with session.begin_nested():  # another request may bind it at the same moment
            session.add(
                ActivityBinding(
                    activity_id=activity_id, owner_type_id=owner_type, owner_id=owner_id
                )
            )
    except IntegrityError:
        return False
    return True


@dataclass(frozen=True)
class BindingArgs:
    activity_id: int
    entity_type_id: int
    entity_id: int


async def _binding_target(session: AsyncSession, args: BindingArgs, not_found: str) -> Activity:
    act = await repo.activity(session, args.activity_id)
    if act is None:
        raise errors.binding_error("NOT_FOUND", not_found)
    return act


async def binding_add(session: AsyncSession, args: BindingArgs) -> bool:
    await _binding_target(session, args, "Entity not found")
    if not await exists(session, args.entity_type_id, args.entity_id):
        raise errors.binding_error("OWNER_NOT_FOUND", "Owner of the entity not found")
    if not await bind(session, args.activity_id, args.entity_type_id, args.entity_id):
        raise errors.binding_error(
            "ACTIVITY_IS_ALREADY_BOUND", "The activity is already bound to this entity"
        )
    return True


async def binding_delete(session: AsyncSession, args: BindingArgs) -> bool:
    act = await _binding_target(session, args, "Element not found")
    if not await exists(session, args.entity_type_id, args.entity_id):
        raise errors.binding_error("OWNER_NOT_FOUND", "Owner of the element not found")
    row = await repo.binding(session, act.id, args.entity_type_id, args.entity_id)
    if row is None:
        raise errors.binding_error("BINDING_NOT_FOUND", "The activity is not bound to this entity")
    if len((await repo.bindings(session, [act.id]))[act.id]) <= 1:
        raise errors.binding_error(
            "LAST_BINDING_CANNOT_BE_DELETED", "The last binding of the activity cannot be deleted"
        )
    await session.delete(row)
    if (act.owner_type_id, act.owner_id) == (args.entity_type_id, args.entity_id):
        await session.flush()
        rest = (await repo.bindings(session, [act.id]))[act.id][0]
        act.owner_type_id, act.owner_id = rest.owner_type_id, rest.owner_id
    return True


async def binding_list(session: AsyncSession, activity_id: int) -> list[dict[str, int]]:
    if await repo.activity(session, activity_id) is None:
        raise errors.binding_error("NOT_FOUND", "Element not found")
    rows = (await repo.bindings(session, [activity_id]))[activity_id]
    return [{"entityTypeId": r.owner_type_id, "entityId": r.owner_id} for r in rows]


async def binding_move(session: AsyncSession, source: BindingArgs, target: BindingArgs) -> bool:
    act = await _binding_target(session, source, "Element not found")
    if source.entity_type_id != target.entity_type_id:
        raise errors.binding_error(
            "SOURCE_AND_TARGET_ENTITY_TYPES_ARE_NOT_EQUAL_ERROR",
            "Cannot move the activity to an entity of another type",
        )
    if source.entity_id == target.entity_id:
        raise errors.binding_error(
            "SOURCE_AND_TARGET_ENTITY_ID_ARE_EQUAL_ERROR",
            "Cannot move the activity to the same entity",
        )
    if not await exists(session, target.entity_type_id, target.entity_id):
        raise errors.binding_error("OWNER_NOT_FOUND", "Owner of the element not found")
    row = await repo.binding(session, act.id, source.entity_type_id, source.entity_id)
    if row is None:
        raise errors.binding_error("BINDING_NOT_FOUND", "The activity is not bound to this entity")
    if await repo.binding(session, act.id, target.entity_type_id, target.entity_id):
        raise errors.binding_error(
            "ACTIVITY_IS_ALREADY_BOUND", "The activity is already bound to this entity"
        )
    await session.delete(row)
    await session.flush()
    await bind(session, act.id, target.entity_type_id, target.entity_id)
    if (act.owner_type_id, act.owner_id) == (source.entity_type_id, source.entity_id):
        act.owner_id = target.entity_id
    return True
