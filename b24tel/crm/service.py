"""Rules for contacts, companies, leads and deals: add/get/update/delete/list with the
legacy CRM semantics (protocol.md §6), multifields, phone search and duplicates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import false, not_, select
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel.crm import errors, phones
from b24tel.crm import repository as repo
from b24tel.crm.fields import (
    BY_OWNER_TYPE,
    ENTITIES,
    HAS_FLAGS,
    KINDS,
    MULTIFIELD_TYPES,
    EntityDef,
    Field,
)
from b24tel.crm.models import Multifield
from b24tel.db.filters import FieldDef, build_order, build_where, page, parse_datetime
from b24tel.rest.envelope import ListResult, iso
from b24tel.rest.params import as_list, loose_bool, opt_float, opt_int, opt_str


@dataclass(frozen=True)
class Env:
    """What entity operations need to know besides their input."""

    user_id: int
    now: dt.datetime
    tz: ZoneInfo
    region: str


def valid_id(raw: Any) -> int:
    value = opt_int(raw)
    if value is None or value <= 0:
        raise errors.invalid_id()
    return value


def as_fields(raw: Any, name: str = "fields") -> dict[str, Any]:
    """A map parameter; PHP would accept any array, so an empty list is an empty map."""
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return {str(k).upper(): v for k, v in raw.items()}
    if isinstance(raw, list) and not raw:
        return {}
    raise errors.must_be_array(name)


# --- values in and out ----------------------------------------------------------------------


def coerce(f: Field, raw: Any, tz: ZoneInfo) -> Any:
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


def render(f: Field, value: Any, tz: ZoneInfo) -> Any:
    if value is None:
        return None
    if f.kind in ("id", "int", "user", "link"):
        return str(value)
    if f.kind == "datetime":
        return iso(value, tz)
    if f.kind == "money":
        return f"{Decimal(value):.2f}"
    return value


def normalized_key(type_id: str, value: str, region: str) -> str:
    if type_id == "PHONE":
        return phones.normalize(value, region) or value.strip()
    return value.strip().lower()


def render_multifield(m: Multifield) -> dict[str, str]:
    return {"ID": str(m.id), "VALUE_TYPE": m.value_type, "VALUE": m.value, "TYPE_ID": m.type_id}


def entity_dict(
    entity: EntityDef,
    obj: Any,
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
    entity: EntityDef, obj: Any, fields: dict[str, Any], env: Env, importing: bool
) -> None:
    for f in entity.fields:
        if f.wire not in fields or f.wire == "ID":
            continue
        if f.readonly and not (f.import_only and importing):
            continue  # unknown and read-only fields are ignored (protocol.md §6.1)
        value = coerce(f, fields[f.wire], env.tz)
        if value is None and not obj.__table__.columns[f.attr].nullable:
            continue  # a required column keeps its value rather than becoming NULL
        setattr(obj, f.attr, value)


async def _derive(session: AsyncSession, entity: EntityDef, obj: Any) -> None:
    """Semantic ids follow the status (lead) or stage (deal)."""
    if entity.name == "LEAD" and obj.status_id:
        row = await repo.status(session, "STATUS", obj.status_id)
        obj.status_semantic_id = (row.semantics if row else None) or "P"
    if entity.name == "DEAL" and obj.stage_id:
        row = await repo.status(session, "DEAL_STAGE", obj.stage_id)
        obj.stage_semantic_id = (row.semantics if row else None) or "P"
        obj.closed = "Y" if obj.stage_semantic_id in ("S", "F") else "N"


def _multifield_items(raw: Any) -> list[dict[str, Any]]:
    # a list, or a map keyed n0, n1 … (forms send FIELDS[PHONE][n0][VALUE])
    return [item for item in as_list(raw) if isinstance(item, dict)]


async def _write_multifields(
    session: AsyncSession,
    entity: EntityDef,
    entity_id: int,
    fields: dict[str, Any],
    env: Env,
    *,
    existing: list[Multifield],
) -> None:
    by_id = {m.id: m for m in existing}
    for mtype in MULTIFIELD_TYPES:
        if mtype not in fields:
            continue
        for item in _multifield_items(fields[mtype]):
            item = {str(k).upper(): v for k, v in item.items()}
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


def _check_required(entity: EntityDef, obj: Any) -> None:
    if entity.required_any and not any(
        (getattr(obj, entity.by_wire[name].attr) or "").strip() for name in entity.required_any
    ):
        raise errors.required_field(entity.by_wire[entity.required_any[0]].title)


async def add(
    session: AsyncSession, entity: EntityDef, fields_raw: Any, params_raw: Any, env: Env
) -> int:
    fields = as_fields(fields_raw)
    params = as_fields(params_raw, "params")
    importing = loose_bool(params.get("IMPORT")) is True
    obj = entity.model(**entity.defaults)
    obj.assigned_by_id = obj.created_by_id = obj.modify_by_id = env.user_id
    obj.date_create = obj.date_modify = env.now
    _apply_fields(entity, obj, fields, env, importing)
    _check_required(entity, obj)
    await _derive(session, entity, obj)
    session.add(obj)
    await session.flush()
    if entity.multifields:
        await _write_multifields(session, entity, obj.id, fields, env, existing=[])
        await session.flush()
    return obj.id


async def update(
    session: AsyncSession,
    entity: EntityDef,
    id_raw: Any,
    fields_raw: Any,
    params_raw: Any,
    env: Env,
) -> bool:
    entity_id = valid_id(id_raw)
    obj = await repo.get(session, entity, entity_id)
    if obj is None:
        raise errors.entity_not_found(entity.title)
    fields = as_fields(fields_raw)
    as_fields(params_raw, "params")
    _apply_fields(entity, obj, fields, env, importing=False)
    _check_required(entity, obj)
    await _derive(session, entity, obj)
    obj.modify_by_id, obj.date_modify = env.user_id, env.now
    if entity.multifields:
        existing = (await repo.multifields(session, entity.name, [entity_id]))[entity_id]
        await _write_multifields(session, entity, entity_id, fields, env, existing=existing)
    await session.flush()
    return True


async def get(session: AsyncSession, entity: EntityDef, id_raw: Any, tz: ZoneInfo) -> dict:
    entity_id = valid_id(id_raw)
    obj = await repo.get(session, entity, entity_id)
    if obj is None:
        raise errors.not_found()
    mfs = (await repo.multifields(session, entity.name, [entity_id]))[entity_id]
    return entity_dict(entity, obj, mfs, tz)


async def delete(session: AsyncSession, entity: EntityDef, id_raw: Any) -> bool:
    entity_id = valid_id(id_raw)
    obj = await repo.get(session, entity, entity_id)
    if obj is None:
        raise errors.binding_error(*entity.delete_not_found)
    await repo.delete_multifields(session, entity.name, entity_id)
    await repo.drop_bindings_to(session, entity.owner_type_id, entity_id)
    await session.delete(obj)
    return True


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

    def build(op: str, raw: Any) -> Any:
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
    model: Any,
    fields: dict[str, FieldDef],
    filter_raw: Any,
    order_raw: Any,
    tz: ZoneInfo,
    default_order: list[Any],
) -> Any:
    """``select(model)`` with a legacy ``filter`` and ``order`` (both must be maps), ID
    last so pages are stable."""
    filters = as_fields(filter_raw, "filter") if filter_raw is not None else {}
    order = as_fields(order_raw, "order") if order_raw is not None else {}
    stmt = select(model)
    for cond in build_where(filters, fields, tz):
        stmt = stmt.where(cond)
    return stmt.order_by(*(build_order(order, fields) or default_order), model.id.asc())


def select_set(raw: Any) -> set[str]:
    names = {str(s).upper() for s in as_list(raw) if s not in (None, "")}
    return names or {"*"}


async def list_(
    session: AsyncSession,
    entity: EntityDef,
    *,
    filter_raw: Any,
    order_raw: Any,
    select_raw: Any,
    start: int,
    tz: ZoneInfo,
    region: str,
) -> ListResult:
    model: Any = entity.model
    stmt = filtered_select(model, filter_fields(entity, region), filter_raw, order_raw, tz, [])
    wanted = select_set(select_raw)
    result = await page(session, stmt, start, key_column=model.id, convert=lambda r: r[0])
    mfs = (
        await repo.multifields(session, entity.name, [o.id for o in result.items])
        if entity.multifields
        else {}
    )
    result.items = [entity_dict(entity, o, mfs.get(o.id, []), tz, wanted) for o in result.items]
    return result


# --- phone search ---------------------------------------------------------------------------

SEARCH_ORDER = ("CONTACT", "LEAD", "COMPANY")


@dataclass(frozen=True)
class Match:
    entity_type: str
    entity_id: int
    assigned_by_id: int | None
    name: str
    active: bool
    date_modify: dt.datetime

    @property
    def owner_type_id(self) -> int:
        return ENTITIES[self.entity_type].owner_type_id


def display_name(entity: EntityDef, obj: Any) -> str:
    if entity.name in ("COMPANY", "DEAL"):
        return obj.title or ""
    person = " ".join(p for p in (obj.name, obj.last_name) if p)
    return person or (getattr(obj, "title", None) or "")


async def search_phone(session: AsyncSession, number: str, region: str) -> list[Match]:
    """Every contact, lead and company with this number, grouped CONTACT, LEAD, COMPANY
    (searchCrmEntities order, behavior.md §3.6), best-ranked first within a group."""
    key = phones.normalize(number, region)
    if key is None:
        return []
    owners = await repo.owners_by_value(session, "PHONE", [key], SEARCH_ORDER)
    matches: list[Match] = []
    for type_name in SEARCH_ORDER:
        entity = ENTITIES[type_name]
        ids = [i for t, i in owners if t == type_name]
        for obj in await repo.get_many(session, entity, ids):
            active = not (type_name == "LEAD" and obj.status_semantic_id in ("S", "F"))
            matches.append(
                Match(
                    type_name,
                    obj.id,
                    obj.assigned_by_id,
                    display_name(entity, obj),
                    active,
                    obj.date_modify,
                )
            )
    rank = {t: i for i, t in enumerate(SEARCH_ORDER)}
    matches.sort(
        key=lambda m: (rank[m.entity_type], not m.active, -m.date_modify.timestamp(), -m.entity_id)
    )
    return matches


async def find_by_phone(session: AsyncSession, number: str, region: str) -> list[Match]:
    """The entities a call from ``number`` is matched to (behavior.md §3.1 step 13):
    contacts and companies first, leads only when neither matched; one per type (the
    best-ranked: active, most recently modified); primary order contact → lead → company.
    The first element is the primary entity."""
    found = await search_phone(session, number, region)
    best: dict[str, Match] = {}
    for m in found:
        best.setdefault(m.entity_type, m)
    if "CONTACT" in best or "COMPANY" in best:
        best.pop("LEAD", None)
    return [best[t] for t in SEARCH_ORDER if t in best]


async def find_duplicates(
    session: AsyncSession,
    type_id: str,
    values: list[str],
    entity_types: list[str],
    region: str,
) -> dict[str, list[int]]:
    keys = sorted({normalized_key(type_id, v, region) for v in values if v.strip()})
    owners = await repo.owners_by_value(session, type_id, keys, entity_types)
    out: dict[str, list[int]] = {}
    for type_name in ("LEAD", "CONTACT", "COMPANY"):
        ids = sorted({i for t, i in owners if t == type_name})
        if ids:
            out[type_name] = ids
    return out


async def entity_exists(session: AsyncSession, owner_type_id: int, owner_id: int) -> bool:
    entity = BY_OWNER_TYPE.get(owner_type_id)
    return entity is not None and await repo.get(session, entity, owner_id) is not None


# --- status lists ---------------------------------------------------------------------------

_SEMANTICS = {"S": "success", "F": "failure"}


def status_dict(row: Any) -> dict[str, Any]:
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


STATUS_FIELDS: dict[str, FieldDef] = {}


def _status_fields() -> dict[str, FieldDef]:
    from b24tel.crm.models import Status

    if not STATUS_FIELDS:
        STATUS_FIELDS.update(
            {
                "ID": FieldDef(Status.id, "int"),
                "ENTITY_ID": FieldDef(Status.entity_id),
                "STATUS_ID": FieldDef(Status.status_id),
                "NAME": FieldDef(Status.name),
                "SORT": FieldDef(Status.sort, "int"),
                "SYSTEM": FieldDef(Status.system),
                "SEMANTICS": FieldDef(Status.semantics),
            }
        )
    return STATUS_FIELDS


async def status_list(
    session: AsyncSession, filter_raw: Any, order_raw: Any, tz: ZoneInfo
) -> ListResult:
    from b24tel.crm.models import Status

    stmt = filtered_select(
        Status, _status_fields(), filter_raw, order_raw, tz, [Status.entity_id, Status.sort]
    )
    rows = (await session.execute(stmt)).scalars().all()
    return ListResult([status_dict(r) for r in rows], len(rows))


async def status_items(session: AsyncSession, entity_id: str) -> list[dict[str, Any]]:
    rows = await repo.statuses(session, entity_id)
    return [{"NAME": r.name, "SORT": r.sort, "STATUS_ID": r.status_id} for r in rows]
