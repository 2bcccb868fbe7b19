"""`crm.activity.add/get/update/delete/list` (docs/reference/crm.md, "Activities")."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from b24tel.crm import errors
from b24tel.crm import repository as repo
from b24tel.crm.activity_fields import (
    CALL,
    FIELDS,
    REST_TYPES,
    FileUrl,
    activity_dict,
    filter_fields,
)
from b24tel.crm.bindings import bind
from b24tel.crm.entities import FieldMap, coerce, exists, filtered_select, require_map, valid_id
from b24tel.crm.fields import BY_OWNER_TYPE
from b24tel.crm.models import Activity, ActivityCommunication
from b24tel.db.filters import page
from b24tel.errors import BusinessError
from b24tel.paging import ListResult
from b24tel.users import lookup as users
from b24tel.wire.php import NotAnArray, as_list, opt_int, opt_str


def _communications_in(raw: object) -> list[dict[str, Any]]:
    items = []
    for item in as_list(raw):
        if not isinstance(item, dict):
            continue
        item = {str(k).upper(): v for k, v in item.items()}
        value = opt_str(item.get("VALUE"))
        if value:
            items.append(
                {
                    "VALUE": value,
                    "TYPE": opt_str(item.get("TYPE")) or "PHONE",
                    "ENTITY_ID": opt_int(item.get("ENTITY_ID")),
                    "ENTITY_TYPE_ID": opt_int(item.get("ENTITY_TYPE_ID")),
                }
            )
    return items


async def _owner_of(
    session: AsyncSession, fields: FieldMap, comms: list[dict[str, Any]]
) -> tuple[int, int]:
    owner_type, owner_id = opt_int(fields.get("OWNER_TYPE_ID")), opt_int(fields.get("OWNER_ID"))
    if owner_type and owner_id:
        if not await exists(session, owner_type, owner_id):
            entity = BY_OWNER_TYPE.get(owner_type)
            raise errors.owner_missing(entity.name if entity else str(owner_type), owner_id)
        return owner_type, owner_id
    for comm in comms:
        if (
            comm["ENTITY_TYPE_ID"]
            and comm["ENTITY_ID"]
            and await exists(session, comm["ENTITY_TYPE_ID"], comm["ENTITY_ID"])
        ):
            return comm["ENTITY_TYPE_ID"], comm["ENTITY_ID"]
    raise errors.no_binding()


def _nullable(attr: str) -> bool:
    return bool(Activity.__table__.columns[attr].nullable)


def _apply(act: Activity, fields: FieldMap, tz: ZoneInfo) -> None:
    for f in FIELDS:
        if f.wire in fields and not f.readonly and f.wire not in ("TYPE_ID", "OWNER_TYPE_ID"):
            raw = fields[f.wire]
            value = (
                (raw if isinstance(raw, dict) else None)
                if f.kind == "object"
                else coerce(f, raw, tz)
            )
            if value is None and not _nullable(f.attr):
                continue  # a required column keeps its value rather than becoming NULL
            if value is not None or f.kind in ("str", "text", "object", "datetime"):
                setattr(act, f.attr, value)
    if "COMPLETED" in fields:
        act.status = 2 if act.completed == "Y" else 1


def _check_new(fields: FieldMap) -> tuple[int, list[dict[str, Any]]]:
    """crm.activity.add's checks, in the reference's order; the type and communications."""
    type_id = opt_int(fields.get("TYPE_ID"))
    if type_id is None or type_id not in REST_TYPES:
        raise errors.activity_field("TYPE_ID")
    if type_id == 6 and not opt_str(fields.get("PROVIDER_ID")):
        raise BusinessError(
            "The custom activity without provider is not supported in current context"
        )
    comms = _communications_in(fields.get("COMMUNICATIONS"))
    if not comms:
        raise errors.activity_field("COMMUNICATIONS")
    if type_id == CALL and len(comms) > 1:
        raise BusinessError("The only one communication is allowed for activity of specified type")
    if not (opt_str(fields.get("SUBJECT")) or "").strip():
        raise errors.activity_field("SUBJECT", "not defined or empty")
    return type_id, comms


async def add(
    session: AsyncSession,
    fields_param: FieldMap | NotAnArray,
    user_id: int,
    now: dt.datetime,
    tz: ZoneInfo,
) -> int:
    fields = require_map(fields_param)
    type_id, comms = _check_new(fields)
    owner_type, owner_id = await _owner_of(session, fields, comms)
    responsible = await _responsible(session, fields, owner_type, owner_id, user_id)
    act = Activity(
        owner_type_id=owner_type,
        owner_id=owner_id,
        type_id=type_id,
        responsible_id=responsible,
        author_id=user_id,
        editor_id=user_id,
        created=now,
        last_updated=now,
        subject="",
        settings={},
        provider_params={},
    )
    if type_id == CALL:
        act.provider_id, act.provider_type_id = "CRM_CALL", "CALL"
    _apply(act, fields, tz)
    act.start_time = act.start_time or now
    act.end_time = act.end_time or act.start_time
    act.deadline = act.deadline or (act.start_time if type_id in (1, CALL) else act.end_time)
    act.status = 2 if act.completed == "Y" else 1
    session.add(act)
    await session.flush()
    await bind(session, act.id, owner_type, owner_id)
    for comm in comms:
        session.add(
            ActivityCommunication(
                activity_id=act.id,
                type=comm["TYPE"],
                value=comm["VALUE"],
                entity_id=comm["ENTITY_ID"],
                entity_type_id=comm["ENTITY_TYPE_ID"],
            )
        )
        if (
            comm["ENTITY_TYPE_ID"]
            and comm["ENTITY_ID"]
            and await exists(session, comm["ENTITY_TYPE_ID"], comm["ENTITY_ID"])
        ):
            await bind(session, act.id, comm["ENTITY_TYPE_ID"], comm["ENTITY_ID"])
    await session.flush()
    return act.id


async def _responsible(
    session: AsyncSession, fields: FieldMap, owner_type: int, owner_id: int, user_id: int
) -> int:
    if "RESPONSIBLE_ID" in fields:
        wanted = opt_int(fields["RESPONSIBLE_ID"])
        user = await users.user(session, wanted) if wanted else None
        if user is None:
            raise errors.activity_field("RESPONSIBLE_ID")
        return user.id
    # defaults to the owner's responsible, else the caller
    entity = BY_OWNER_TYPE[owner_type]
    owner = await repo.get(session, entity, owner_id)
    responsible = owner.assigned_by_id if owner is not None else None
    return int(responsible or user_id)


async def _existing(session: AsyncSession, activity_id: int | None) -> Activity:
    act = await repo.activity(session, valid_id(activity_id))
    if act is None:
        raise errors.activity_not_found()
    return act


async def get(
    session: AsyncSession, activity_id: int | None, tz: ZoneInfo, file_url: FileUrl
) -> dict[str, Any]:
    return await activity_dict(session, await _existing(session, activity_id), tz, file_url)


async def update(
    session: AsyncSession,
    activity_id: int | None,
    fields_param: FieldMap | NotAnArray,
    user_id: int,
    now: dt.datetime,
    tz: ZoneInfo,
) -> bool:
    act = await _existing(session, activity_id)
    fields = require_map(fields_param)
    if "SUBJECT" in fields and not (opt_str(fields["SUBJECT"]) or "").strip():
        raise errors.activity_field("SUBJECT", "not defined or empty")
    if "RESPONSIBLE_ID" in fields:
        act.responsible_id = await _responsible(
            session, fields, act.owner_type_id, act.owner_id, user_id
        )
    _apply(act, fields, tz)
    act.editor_id, act.last_updated = user_id, now
    await session.flush()
    return True


async def delete(session: AsyncSession, activity_id: int | None) -> bool:
    act = await _existing(session, activity_id)
    await session.delete(act)
    return True


async def list_(
    session: AsyncSession,
    *,
    filter_param: FieldMap | NotAnArray,
    order_param: FieldMap | NotAnArray,
    select_names: list[str],
    start: int,
    tz: ZoneInfo,
    file_url: FileUrl,
) -> ListResult:
    stmt = filtered_select(
        Activity, filter_fields(), filter_param, order_param, tz, [Activity.start_time.asc()]
    )
    wanted = set(select_names) or {"*"}
    result = await page(session, stmt, start, key_column=Activity.id, convert=lambda r: r[0])
    result.items = [await activity_dict(session, a, tz, file_url, wanted) for a in result.items]
    return result
