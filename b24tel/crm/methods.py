"""REST handlers of the CRM (scope `crm`): entities, duplicates, statuses, activities and
their bindings (docs/reference/crm.md)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from b24tel.crm import activities, bindings, entities, errors, phone_search, statuses
from b24tel.crm.activity_fields import FileUrl, fields_description
from b24tel.crm.bindings import BindingArgs
from b24tel.crm.fields import ENTITIES, EntityDef, describe_entity
from b24tel.crm.schemas import (
    AddParams,
    BindingListParams,
    BindingMoveParams,
    BindingParams,
    FindByCommParams,
    IdParams,
    ListParams,
    StatusItemsParams,
    StatusListParams,
    UpdateParams,
)
from b24tel.events.sink import crm_changed
from b24tel.paging import ListResult
from b24tel.recordings.links import file_url_for
from b24tel.rest.params import NoParams
from b24tel.rest.registry import Registry
from b24tel.services import Ctx


def env(ctx: Ctx) -> entities.Env:
    return entities.Env(ctx.caller.user_id, ctx.now(), ctx.services.tz, ctx.settings.phone_region)


def register(registry: Registry) -> None:
    for entity in ENTITIES.values():
        _register_entity(registry, entity)
    _register_lookups(registry)
    _register_activities(registry)
    _register_bindings(registry)


def _register_entity(registry: Registry, entity: EntityDef) -> None:
    prefix = entity.method_prefix

    @registry.method(f"{prefix}.add", scope="crm", params=AddParams)
    async def add(ctx: Ctx, p: AddParams) -> int:
        async with ctx.db.transaction() as s:
            new_id = await entities.add(s, entity, p.fields, p.params, env(ctx))
            await _changed(ctx, s, entity.name, "ADD", new_id)
            return new_id

    @registry.method(f"{prefix}.update", scope="crm", params=UpdateParams)
    async def update(ctx: Ctx, p: UpdateParams) -> bool:
        async with ctx.db.transaction() as s:
            done = await entities.update(s, entity, p.id, p.fields, p.params, env(ctx))
            await _changed(ctx, s, entity.name, "UPDATE", p.id)
            return done

    @registry.method(f"{prefix}.get", scope="crm", params=IdParams)
    async def get(ctx: Ctx, p: IdParams) -> dict[str, Any]:
        async with ctx.db.transaction(readonly=True) as s:
            return await entities.get(s, entity, p.id, ctx.services.tz)

    @registry.method(f"{prefix}.delete", scope="crm", params=IdParams)
    async def delete(ctx: Ctx, p: IdParams) -> bool:
        async with ctx.db.transaction() as s:
            done = await entities.delete(s, entity, p.id)
            await _changed(ctx, s, entity.name, "DELETE", p.id)
            return done

    @registry.method(f"{prefix}.list", scope="crm", params=ListParams, is_list=True)
    async def list_(ctx: Ctx, p: ListParams) -> ListResult:
        async with ctx.db.transaction(readonly=True) as s:
            return await entities.list_(
                s,
                entity,
                filter_param=p.filter,
                order_param=p.order,
                select_names=p.select,
                start=ctx.start,
                tz=ctx.services.tz,
                region=ctx.settings.phone_region,
            )

    @registry.method(f"{prefix}.fields", scope="crm")
    async def fields(ctx: Ctx, p: NoParams) -> dict[str, Any]:
        return describe_entity(entity)


def _register_lookups(registry: Registry) -> None:
    @registry.method("crm.duplicate.findbycomm", scope="crm", params=FindByCommParams)
    async def findbycomm(ctx: Ctx, p: FindByCommParams) -> dict[str, list[int]]:
        comm_type = (p.type or "").upper()
        if not comm_type:
            raise errors.communication_type_missing()
        if comm_type not in ("PHONE", "EMAIL"):
            raise errors.communication_type_unsupported(p.type or "")
        if p.values is None:
            raise errors.communication_values_missing()
        every = ["LEAD", "CONTACT", "COMPANY"]
        types = [p.entity_type] if p.entity_type in every else every
        async with ctx.db.transaction(readonly=True) as s:
            return await phone_search.find_duplicates(
                s, comm_type, p.values, types, ctx.settings.phone_region
            )

    @registry.method("crm.status.list", scope="crm", params=StatusListParams, is_list=True)
    async def status_list(ctx: Ctx, p: StatusListParams) -> ListResult:
        async with ctx.db.transaction(readonly=True) as s:
            return await statuses.status_list(s, p.filter, p.order, ctx.services.tz)

    @registry.method("crm.status.entity.items", scope="crm", params=StatusItemsParams)
    async def status_items(ctx: Ctx, p: StatusItemsParams) -> list[dict[str, Any]]:
        async with ctx.db.transaction(readonly=True) as s:
            return await statuses.status_items(s, p.entityId or "")


async def _changed(
    ctx: Ctx, session: AsyncSession, kind: str, action: str, entity_id: int | None
) -> None:
    """ONCRM<KIND><ACTION> in the same unit of work (docs/reference/events.md, "Events")."""
    if entity_id is not None:
        await crm_changed(ctx.services, session, kind, action, entity_id, ctx.caller.user_id)


def _file_url(ctx: Ctx) -> FileUrl:
    return lambda file_id, activity_id: file_url_for(ctx, file_id)


def _register_activities(registry: Registry) -> None:
    @registry.method("crm.activity.add", scope="crm", params=AddParams)
    async def add(ctx: Ctx, p: AddParams) -> int:
        async with ctx.db.transaction() as s:
            user, now, tz = ctx.caller.user_id, ctx.now(), ctx.services.tz
            new_id = await activities.add(s, p.fields, user, now, tz)
            await _changed(ctx, s, "ACTIVITY", "ADD", new_id)
            return new_id

    @registry.method("crm.activity.update", scope="crm", params=UpdateParams)
    async def update(ctx: Ctx, p: UpdateParams) -> bool:
        async with ctx.db.transaction() as s:
            user, now, tz = ctx.caller.user_id, ctx.now(), ctx.services.tz
            done = await activities.update(s, p.id, p.fields, user, now, tz)
            await _changed(ctx, s, "ACTIVITY", "UPDATE", p.id)
            return done

    @registry.method("crm.activity.get", scope="crm", params=IdParams)
    async def get(ctx: Ctx, p: IdParams) -> dict[str, Any]:
        async with ctx.db.transaction(readonly=True) as s:
            return await activities.get(s, p.id, ctx.services.tz, _file_url(ctx))

    @registry.method("crm.activity.delete", scope="crm", params=IdParams)
    async def delete(ctx: Ctx, p: IdParams) -> bool:
        async with ctx.db.transaction() as s:
            done = await activities.delete(s, p.id)
            await _changed(ctx, s, "ACTIVITY", "DELETE", p.id)
            return done

    @registry.method("crm.activity.list", scope="crm", params=ListParams, is_list=True)
    async def list_(ctx: Ctx, p: ListParams) -> ListResult:
        async with ctx.db.transaction(readonly=True) as s:
            return await activities.list_(
                s,
                filter_param=p.filter,
                order_param=p.order,
                select_names=p.select,
                start=ctx.start,
                tz=ctx.services.tz,
                file_url=_file_url(ctx),
            )

    @registry.method("crm.activity.fields", scope="crm")
    async def fields(ctx: Ctx, p: NoParams) -> dict[str, Any]:
        return fields_description()


def _required(**values: int | None) -> list[int]:
    """The binding methods' parameters, each required (the first missing one is named)."""
    out = []
    for name, value in values.items():
        if value is None:
            raise errors.required_argument(name)
        out.append(value)
    return out


def _register_bindings(registry: Registry) -> None:
    @registry.method("crm.activity.binding.add", scope="crm", params=BindingParams)
    async def binding_add(ctx: Ctx, p: BindingParams) -> bool:
        args = BindingArgs(
            *_required(activityId=p.activityId, entityTypeId=p.entityTypeId, entityId=p.entityId)
        )
        async with ctx.db.transaction() as s:
            return await bindings.binding_add(s, args)

    @registry.method("crm.activity.binding.delete", scope="crm", params=BindingParams)
    async def binding_delete(ctx: Ctx, p: BindingParams) -> bool:
        args = BindingArgs(
            *_required(activityId=p.activityId, entityTypeId=p.entityTypeId, entityId=p.entityId)
        )
        async with ctx.db.transaction() as s:
            return await bindings.binding_delete(s, args)

    @registry.method("crm.activity.binding.list", scope="crm", params=BindingListParams)
    async def binding_list(ctx: Ctx, p: BindingListParams) -> list[dict[str, int]]:
        (activity_id,) = _required(activityId=p.activityId)
        async with ctx.db.transaction(readonly=True) as s:
            return await bindings.binding_list(s, activity_id)

    @registry.method("crm.activity.binding.move", scope="crm", params=BindingMoveParams)
    async def binding_move(ctx: Ctx, p: BindingMoveParams) -> bool:
        a, st, si, tt, ti = _required(
            activityId=p.activityId,
            sourceEntityTypeId=p.sourceEntityTypeId,
            sourceEntityId=p.sourceEntityId,
            targetEntityTypeId=p.targetEntityTypeId,
            targetEntityId=p.targetEntityId,
        )
        async with ctx.db.transaction() as s:
            return await bindings.binding_move(s, BindingArgs(a, st, si), BindingArgs(a, tt, ti))
