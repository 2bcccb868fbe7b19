"""Contacts, companies, leads and deals: add/get/update/delete/list with the legacy CRM
semantics (docs/reference/crm.md, "Entities") and their PHONE/EMAIL multifields."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, false, not_, select
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel.crm import errors
from b24tel.crm import repository as repo
from b24tel.crm.fields import BY_OWNER_TYPE, HAS_FLAGS, KINDS, MULTIFIELD_TYPES, EntityDef, Field
from b24tel.crm.models import Activity, CrmRow, Deal, Lead, Multifield, Status
from b24tel.crm.phone_search import normalized_key
from b24tel.db.filters import FieldDef, build_order, build_where, page, parse_datetime
from b24tel.paging import ListResult
from b24tel.rest.envelope import iso
from b24tel.wire.php import NotAnArray, as_list, loose_bool, opt_float, opt_int, opt_str

FieldMap = dict[str, Any]


@dataclass(frozen=True)
class Env:
    """What entity operations need to know besides their input."""

    user_id: int
    now: dt.datetime
    tz: ZoneInfo
    region: str


def valid_id(value: int | None) -> int:
    if value is None or value <= 0:
        raise errors.invalid_id()
    return value


def require_map(value: FieldMap | NotAnArray, name: str = "fields") -> FieldMap:
    """A map parameter, or the reference's "must be array" error."""
    if isinstance(value, NotAnArray):
        raise errors.must_be_array(name)
    return value


# --- values in and out ----------------------------------------------------------------------


def coerce(f: Field, raw: object, tz: ZoneInfo) -> Any:
    kind = f.kind
    if kind in ("id", "int", "user", "link"):
        value = opt_int(raw)
        return None if value is None or (kind == "link" and value <= 0) else value
    if kind == "yn":
        return "Y" if loose_bool(raw) else "N"
    if kind == "datetime":
        return parse_datetime(opt_str(raw), tz)
    if kind == "money":
        number = opt_float(raw)
        try:
            return None if number is None else Decimal(str(number))
        except InvalidOperation:
            return None
    return opt_str(raw)


def render(f: Field, value: object, tz: ZoneInfo) -> object:
    if value is None:
        return None
    if f.kind in ("id", "int", "user", "link"):
        return str(value)
    if f.kind == "datetime" and isinstance(value, dt.datetime):
        return iso(value, tz)
    if f.kind == "money" and isinstance(value, Decimal | float | int):
        return f"{Decimal(value):.2f}"
    return value


def render_multifield(m: Multifield) -> dict[str, str]:
    return {"ID": str(m.id), "VALUE_TYPE": m.value_type, "VALUE": m.value, "TYPE_ID": m.type_id}


def entity_dict(
    entity: EntityDef,
    obj: CrmRow,
    mfs: list[Multifield],
    tz: ZoneInfo,
    select_: set[str] | None = None,
) -> dict[str, Any]:
    """The wire form; ``select_`` None means everything incl. multifields (get)."""
    wanted = select_ if select_ is not None else {"*", *MULTIFIELD_TYPES}
    star = "*" in wanted
    out: dict[str, Any] = {}
    for f in entity.fields:
        if star or f.wire in wanted or f.wire == "ID":
            out[f.wire] = render(f, getattr(obj, f.attr), tz)
    if entity.multifields:
        for flag, mtype in HAS_FLAGS.items():
            if star or flag in wanted:
                out[flag] = "Y" if any(m.type_id == mtype for m in mfs) else "N"
        for mtype in MULTIFIELD_TYPES:
            values = [render_multifield(m) for m in mfs if m.type_id == mtype]
            # multifields only when asked for, and only when non-empty
            if values and mtype in wanted:
                out[mtype] = values
    return out


# --- writing --------------------------------------------------------------------------------


def _apply_fields(
    entity: EntityDef, obj: CrmRow, fields: FieldMap, env: Env, importing: bool
) -> None:
    for f in entity.fields:
        if f.wire not in fields or f.wire == "ID":
            continue
        if f.readonly and not (f.import_only and importing):
            continue  # unknown and read-only fields are ignored (docs/reference/crm.md)
        value = coerce(f, fields[f.wire], env.tz)
        if value is None and not obj.__table__.columns[f.attr].nullable:
            continue  # a required column keeps its value rather than becoming NULL
        setattr(obj, f.attr, value)


async def _derive(session: AsyncSession, obj: CrmRow) -> None:
    """Semantic ids follow the status (lead) or stage (deal)."""
    if isinstance(obj, Lead) and obj.status_id:
        row = await repo.status(session, "STATUS", obj.status_id)
        obj.status_semantic_id = (row.semantics if row else None) or "P"
    if isinstance(obj, Deal) and obj.stage_id:
        row = await repo.status(session, "DEAL_STAGE", obj.stage_id)
        obj.stage_semantic_id = (row.semantics if row else None) or "P"
        obj.closed = "Y" if obj.stage_semantic_id in ("S", "F") else "N"


def _multifield_items(raw: object) -> list[dict[str, Any]]:
    # a list, or a map keyed n0, n1 … (forms send FIELDS[PHONE][n0][VALUE])
    return [
        {str(k).upper(): v for k, v in item.items()}
        for item in as_list(raw)
        if isinstance(item, dict)
    ]


async def _write_multifields(
    session: AsyncSession,
    entity: EntityDef,
    entity_id: int,
    fields: FieldMap,
    env: Env,
    *,
    existing: list[Multifield],
) -> None:
    by_id = {m.id: m for m in existing}
    for mtype in MULTIFIELD_TYPES:
        if mtype not in fields:
            continue
        for item in _multifield_items(fields[mtype]):
            value = (opt_str(item.get("VALUE")) or "").strip()
            value_type = (opt_str(item.get("VALUE_TYPE")) or "WORK").upper()
            row = by_id.get(opt_int(item.get("ID")) or 0)
            if row is not None and row.type_id == mtype:
                if not value or loose_bool(item.get("DELETE")):
                    await session.delete(row)
                else:
                    row.value, row.value_type = value, value_type
                    row.normalized = normalized_key(mtype, value, env.region)
                continue
            if value and item.get("ID") is None:
                session.add(
                    Multifield(
                        entity_type=entity.name,
                        entity_id=entity_id,
                        type_id=mtype,
                        value_type=value_type,
                        value=value,
                        normalized=normalized_key(mtype, value, env.region),
                    )
                )


def _check_required(entity: EntityDef, obj: CrmRow) -> None:
    if entity.required_any and not any(
        (getattr(obj, entity.by_wire[name].attr) or "").strip() for name in entity.required_any
    ):
        raise errors.required_field(entity.by_wire[entity.required_any[0]].title)


async def add(
    session: AsyncSession,
    entity: EntityDef,
    fields_param: FieldMap | NotAnArray,
    params_param: FieldMap | NotAnArray,
    env: Env,
) -> int:
    fields = require_map(fields_param)
    params = require_map(params_param, "params")
    importing = loose_bool(params.get("IMPORT")) is True
    obj = entity.model(**entity.defaults)
    obj.assigned_by_id = obj.created_by_id = obj.modify_by_id = env.user_id
    obj.date_create = obj.date_modify = env.now
    _apply_fields(entity, obj, fields, env, importing)
    _check_required(entity, obj)
    await _derive(session, obj)
    session.add(obj)
    await session.flush()
    if entity.multifields:
        await _write_multifields(session, entity, obj.id, fields, env, existing=[])
        await session.flush()
    return int(obj.id)


async def update(
    session: AsyncSession,
    entity: EntityDef,
    entity_id: int | None,
    fields_param: FieldMap | NotAnArray,
    params_param: FieldMap | NotAnArray,
    env: Env,
) -> bool:
    found_id = valid_id(entity_id)
    obj = await repo.get(session, entity, found_id)
    if obj is None:
        raise errors.entity_not_found(entity.title)
    fields = require_map(fields_param)
    require_map(params_param, "params")
    _apply_fields(entity, obj, fields, env, importing=False)
    _check_required(entity, obj)
    await _derive(session, obj)
    obj.modify_by_id, obj.date_modify = env.user_id, env.now
    if entity.multifields:
        existing = (await repo.multifields(session, entity.name, [found_id]))[found_id]
        await _write_multifields(session, entity, found_id, fields, env, existing=existing)
    await session.flush()
    return True


async def get(
    session: AsyncSession, entity: EntityDef, entity_id: int | None, tz: ZoneInfo
) -> dict[str, Any]:
    found_id = valid_id(entity_id)
    obj = await repo.get(session, entity, found_id)
    if obj is None:
        raise errors.not_found()
    mfs = (await repo.multifields(session, entity.name, [found_id]))[found_id]
    return entity_dict(entity, obj, mfs, tz)


async def delete(session: AsyncSession, entity: EntityDef, entity_id: int | None) -> bool:
    found_id = valid_id(entity_id)
    obj = await repo.get(session, entity, found_id)
    if obj is None:
        raise errors.binding_error(*entity.delete_not_found)
    await repo.delete_multifields(session, entity.name, found_id)
    await repo.drop_bindings_to(session, entity.owner_type_id, found_id)
    await session.delete(obj)
    return True


async def exists(session: AsyncSession, owner_type_id: int, owner_id: int) -> bool:
    entity = BY_OWNER_TYPE.get(owner_type_id)
    return entity is not None and await repo.get(session, entity, owner_id) is not None


# --- listing --------------------------------------------------------------------------------


def filter_fields(entity: EntityDef, region: str) -> dict[str, FieldDef]:
    model: Any = entity.model
    out = {f.wire: FieldDef(getattr(model, f.attr), KINDS[f.kind][1]) for f in entity.fields}
    if entity.multifields:
        for mtype in MULTIFIELD_TYPES:
            out[mtype] = FieldDef(None, custom=_multifield_condition(entity, mtype, region))
    return out


def _multifield_condition(entity: EntityDef, mtype: str, region: str) -> Any:
    model: Any = entity.model

    def build(op: str, raw: object) -> Any:
        values = [opt_str(v) for v in (raw if isinstance(raw, list) else [raw])]
        keys = [normalized_key(mtype, v, region) for v in values if v]
        if not keys:
            return false()
        # an IN over the (type_id, normalized) index: a lookup, not a scan of the entities
        owners = select(Multifield.entity_id).where(
            Multifield.type_id == mtype,
            Multifield.normalized.in_(keys),
            Multifield.entity_type == entity.name,
        )
        cond = model.id.in_(owners)
        return not_(cond) if op.startswith("!") else cond

    return build


def filtered_select(
    model: type[CrmRow | Activity | Status],
    fields: dict[str, FieldDef],
    filter_param: FieldMap | NotAnArray,
    order_param: FieldMap | NotAnArray,
    tz: ZoneInfo,
    default_order: list[Any],
) -> Select[Any]:
    """``select(model)`` with a legacy ``filter`` and ``order`` (both must be maps), ID
    last so pages are stable."""
    filters = require_map(filter_param, "filter")
    order = require_map(order_param, "order")
    stmt = select(model)
    for cond in build_where(filters, fields, tz):
        stmt = stmt.where(cond)
    return stmt.order_by(*(build_order(order, fields) or default_order), model.id.asc())


async def list_(
    session: AsyncSession,
    entity: EntityDef,
    *,
    filter_param: FieldMap | NotAnArray,
    order_param: FieldMap | NotAnArray,
    select_names: list[str],
    start: int,
    tz: ZoneInfo,
    region: str,
) -> ListResult:
    model: Any = entity.model
    stmt = filtered_select(model, filter_fields(entity, region), filter_param, order_param, tz, [])
    wanted = set(select_names) or {"*"}
    result = await page(session, stmt, start, key_column=model.id, convert=lambda r: r[0])
    mfs = (
        await repo.multifields(session, entity.name, [o.id for o in result.items])
        if entity.multifields
        else {}
    )
    result.items = [entity_dict(entity, o, mfs.get(o.id, []), tz, wanted) for o in result.items]
    return result
