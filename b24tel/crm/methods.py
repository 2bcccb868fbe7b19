"""REST handlers of the CRM (scope `crm`): entities, duplicates, statuses, activities and
their bindings."""

from __future__ import annotations

from typing import Any

from b24tel.crm import activity_service as activities
from b24tel.crm import errors, service
from b24tel.crm.activity_service import BindingArgs
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
from b24tel.errors import ApiError
from b24tel.recordings.links import file_url_for
from b24tel.rest.context import CallContext
from b24tel.rest.params import NoParams, as_list, opt_int, opt_str
from b24tel.rest.registry import Registry


def env(ctx: CallContext) -> service.Env:
    return service.Env(ctx.caller.user_id, ctx.now(), ctx.services.tz, ctx.settings.phone_region)


def register(registry: Registry) -> None:
    for entity in ENTITIES.values():
        _register_entity(registry, entity)
    _register_lookups(registry)
    _register_activities(registry)


def _register_entity(registry: Registry, entity: EntityDef) -> None:
    prefix = entity.method_prefix

    @registry.method(f"{prefix}.add", scope="crm", params=AddParams)
    async def add(ctx: CallContext, p: AddParams) -> int:
        async with ctx.db.transaction() as s:
            return await service.add(s, entity, p.fields, p.params, env(ctx))

    @registry.method(f"{prefix}.update", scope="crm", params=UpdateParams)
    async def update(ctx: CallContext, p: UpdateParams) -> bool:
        async with ctx.db.transaction() as s:
            return await service.update(s, entity, p.id, p.fields, p.params, env(ctx))

    @registry.method(f"{prefix}.get", scope="crm", params=IdParams)
    async def get(ctx: CallContext, p: IdParams) -> dict:
        async with ctx.db.transaction(readonly=True) as s:
            return await service.get(s, entity, p.id, ctx.services.tz)

    @registry.method(f"{prefix}.delete", scope="crm", params=IdParams)
    async def delete(ctx: CallContext, p: IdParams) -> bool:
        async with ctx.db.transaction() as s:
            return await service.delete(s, entity, p.id)

    @registry.method(f"{prefix}.list", scope="crm", params=ListParams, is_list=True)
    async def list_(ctx: CallContext, p: ListParams) -> Any:
        async with ctx.db.transaction(readonly=True) as s:
            return await service.list_(
                s,
                entity,
                filter_raw=p.filter,
                order_raw=p.order,
                select_raw=p.select,
                start=ctx.start,
                tz=ctx.services.tz,
                region=ctx.settings.phone_region,
            )

    @registry.method(f"{prefix}.fields", scope="crm")
    async def fields(ctx: CallContext, p: NoParams) -> dict:
        return describe_entity(entity)


def _register_lookups(registry: Registry) -> None:
    @registry.method("crm.duplicate.findbycomm", scope="crm", params=FindByCommParams)
    async def findbycomm(ctx: CallContext, p: FindByCommParams) -> dict:
        # this method reports the message as the error code (protocol.md §6.4)
        comm_type = (opt_str(p.type) or "").upper()
        if not comm_type:
            raise ApiError("Communication type is not defined", "Parameter 'type' is required.")
        if comm_type not in ("PHONE", "EMAIL"):
            text = f"Communication type '{p.type}' is not supported in current context"
            raise ApiError(text, text)
        if not isinstance(p.values, list | dict) or not as_list(p.values):
            raise ApiError("Communication values is not defined", "Parameter 'values' is required.")
        values = [v for v in (opt_str(x) for x in as_list(p.values)[:20]) if v]
        wanted = (opt_str(p.entity_type) or "").upper()
        types = (
            [wanted] if wanted in ("LEAD", "CONTACT", "COMPANY") else ["LEAD", "CONTACT", "COMPANY"]
        )
        async with ctx.db.transaction(readonly=True) as s:
            return await service.find_duplicates(
                s, comm_type, values, types, ctx.settings.phone_region
            )

    @registry.method("crm.status.list", scope="crm", params=StatusListParams, is_list=True)
    async def status_list(ctx: CallContext, p: StatusListParams) -> Any:
        async with ctx.db.transaction(readonly=True) as s:
            return await service.status_list(s, p.filter, p.order, ctx.services.tz)

    @registry.method("crm.status.entity.items", scope="crm", params=StatusItemsParams)
    async def status_items(ctx: CallContext, p: StatusItemsParams) -> list:
        async with ctx.db.transaction(readonly=True) as s:
            return await service.status_items(s, p.entityId or "")


def _binding(p: Any, *names: str) -> list[int]:
    values = []
    for name in names:
        value = opt_int(getattr(p, name))
        if value is None:
            raise errors.required_argument(name)
        values.append(value)
    return values


def _register_activities(registry: Registry) -> None:
    def file_url(ctx: CallContext) -> activities.FileUrl:
        return lambda file_id, activity_id: file_url_for(ctx, file_id)

    @registry.method("crm.activity.add", scope="crm", params=AddParams)
    async def add(ctx: CallContext, p: AddParams) -> int:
        async with ctx.db.transaction() as s:
            return await activities.add(s, p.fields, ctx.caller.user_id, ctx.now(), ctx.services.tz)

    @registry.method("crm.activity.update", scope="crm", params=UpdateParams)
    async def update(ctx: CallContext, p: UpdateParams) -> bool:
        async with ctx.db.transaction() as s:
            return await activities.update(
                s, p.id, p.fields, ctx.caller.user_id, ctx.now(), ctx.services.tz
            )

    @registry.method("crm.activity.get", scope="crm", params=IdParams)
    async def get(ctx: CallContext, p: IdParams) -> dict:
        async with ctx.db.transaction(readonly=True) as s:
            return await activities.get(s, p.id, ctx.services.tz, file_url(ctx))

    @registry.method("crm.activity.delete", scope="crm", params=IdParams)
    async def delete(ctx: CallContext, p: IdParams) -> bool:
        async with ctx.db.transaction() as s:
            return await activities.delete(s, p.id)

    @registry.method("crm.activity.list", scope="crm", params=ListParams, is_list=True)
    async def list_(ctx: CallContext, p: ListParams) -> Any:
        async with ctx.db.transaction(readonly=True) as s:
            return await activities.list_(
                s,
                filter_raw=p.filter,
                order_raw=p.order,
                select_raw=p.select,
                start=ctx.start,
                tz=ctx.services.tz,
                file_url=file_url(ctx),
            )

    @registry.method("crm.activity.fields", scope="crm")
    async def fields(ctx: CallContext, p: NoParams) -> dict:
        return activities.fields_description()

    @registry.method("crm.activity.binding.add", scope="crm", params=BindingParams)
    async def binding_add(ctx: CallContext, p: BindingParams) -> bool:
        args = BindingArgs(*_binding(p, "activityId", "entityTypeId", "entityId"))
        async with ctx.db.transaction() as s:
            return await activities.binding_add(s, args)

    @registry.method("crm.activity.binding.delete", scope="crm", params=BindingParams)
    async def binding_delete(ctx: CallContext, p: BindingParams) -> bool:
        args = BindingArgs(*_binding(p, "activityId", "entityTypeId", "entityId"))
        async with ctx.db.transaction() as s:
            return await activities.binding_delete(s, args)

    @registry.method("crm.activity.binding.list", scope="crm", params=BindingListParams)
    async def binding_list(ctx: CallContext, p: BindingListParams) -> list:
        (activity_id,) = _binding(p, "activityId")
        async with ctx.db.transaction(readonly=True) as s:
            return await activities.binding_list(s, activity_id)

    @registry.method("crm.activity.binding.move", scope="crm", params=BindingMoveParams)
    async def binding_move(ctx: CallContext, p: BindingMoveParams) -> bool:
        a, st, si, tt, ti = _binding(
            p,
            "activityId",
            "sourceEntityTypeId",
            "sourceEntityId",
            "targetEntityTypeId",
            "targetEntityId",
        )
        async with ctx.db.transaction() as s:
            return await activities.binding_move(s, BindingArgs(a, st, si), BindingArgs(a, tt, ti))
