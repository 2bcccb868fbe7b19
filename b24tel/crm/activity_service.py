"""Rules for CRM activities (protocol.md §5): the generic `crm.activity.*` methods, the
bindings, and the call activity telephony files when a call finishes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel.crm import errors
from b24tel.crm import repository as repo
from b24tel.crm.fields import BY_OWNER_TYPE, Field, describe
from b24tel.crm.models import Activity, ActivityBinding, ActivityCommunication
from b24tel.crm.service import (
    as_fields,
    coerce,
    entity_exists,
    filtered_select,
    render,
    valid_id,
)
from b24tel.db.filters import FieldDef, page
from b24tel.rest.envelope import ListResult
from b24tel.rest.params import as_list, opt_int, opt_str
from b24tel.users import repository as users_repo

CALL = 2
REST_TYPES = (1, 2, 4, 6)  # the only TYPE_IDs crm.activity.add accepts
STORAGE_RECORDINGS = 3  # the reference's "disk" storage type

# wire order of crm.activity.get (api-reference/crm/timeline/activities/activity-base/)
FIELDS: tuple[Field, ...] = tuple(
    Field(*spec)
    for spec in (
        ("ID", "id", "id", "ID", True),
        ("OWNER_ID", "owner_id", "int", "Owner ID"),
        ("OWNER_TYPE_ID", "owner_type_id", "int", "Owner type ID"),
        ("TYPE_ID", "type_id", "int", "Type", False, True),
        ("PROVIDER_ID", "provider_id", "str", "Provider ID"),
        ("PROVIDER_TYPE_ID", "provider_type_id", "str", "Provider type ID"),
        ("PROVIDER_GROUP_ID", "provider_group_id", "str", "Provider group ID"),
        ("ASSOCIATED_ENTITY_ID", "associated_entity_id", "int", "Associated entity ID", True),
        ("SUBJECT", "subject", "str", "Subject", False, True),
        ("CREATED", "created", "datetime", "Created on", True),
        ("LAST_UPDATED", "last_updated", "datetime", "Updated on", True),
        ("START_TIME", "start_time", "datetime", "Start time"),
        ("END_TIME", "end_time", "datetime", "End time"),
        ("DEADLINE", "deadline", "datetime", "Deadline"),
        ("COMPLETED", "completed", "yn", "Completed"),
        ("STATUS", "status", "int", "Status"),
        ("RESPONSIBLE_ID", "responsible_id", "user", "Responsible person", False, True),
        ("PRIORITY", "priority", "int", "Priority"),
        ("NOTIFY_TYPE", "notify_type", "int", "Notify"),
        ("NOTIFY_VALUE", "notify_value", "int", "Notify value"),
        ("DESCRIPTION", "description", "text", "Description"),
        ("DESCRIPTION_TYPE", "description_type", "int", "Description type"),
        ("DIRECTION", "direction", "int", "Direction"),
        ("LOCATION", "location", "str", "Location"),
        ("SETTINGS", "settings", "object", "Settings"),
        ("ORIGINATOR_ID", "originator_id", "str", "Data source"),
        ("ORIGIN_ID", "origin_id", "str", "Item ID in data source"),
        ("AUTHOR_ID", "author_id", "user", "Created by", True),
        ("EDITOR_ID", "editor_id", "user", "Modified by", True),
        ("PROVIDER_PARAMS", "provider_params", "object", "Provider parameters"),
        ("PROVIDER_DATA", "provider_data", "str", "Provider data"),
        ("RESULT_MARK", "result_mark", "int", "Result mark"),
        ("RESULT_VALUE", "result_value", "str", "Result value"),
        ("RESULT_SUM", "result_sum", "str", "Result sum"),
        ("RESULT_CURRENCY_ID", "result_currency_id", "str", "Result currency"),
        ("RESULT_STATUS", "result_status", "int", "Result status"),
        ("RESULT_STREAM", "result_stream", "int", "Result stream"),
        ("RESULT_SOURCE_ID", "result_source_id", "str", "Result source"),
        ("AUTOCOMPLETE_RULE", "autocomplete_rule", "int", "Autocomplete rule"),
    )
)
BY_WIRE = {f.wire: f for f in FIELDS}
EXTRA_SELECT = ("COMMUNICATIONS", "FILES", "STORAGE_TYPE_ID", "STORAGE_ELEMENT_IDS")

FileUrl = Callable[[int, int], str]  # (file id, activity id) → download URL


def fields_description() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in FIELDS:
        kind = f.kind if f.kind == "object" else None
        desc = describe(
            Field(f.wire, f.attr, "str" if kind else f.kind, f.title, f.readonly, f.required)
        )
        if kind:
            desc["type"] = "object"
        out[f.wire] = desc
    multi = {
        "isRequired": False,
        "isReadOnly": False,
        "isImmutable": False,
        "isMultiple": True,
        "isDynamic": False,
    }
    out["BINDINGS"] = {
        **multi,
        "type": "crm_activity_binding",
        "isReadOnly": True,
        "title": "Bindings",
    }
    out["COMMUNICATIONS"] = {
        **multi,
        "type": "crm_activity_communication",
        "isRequired": True,
        "title": "Communications",
    }
    out["FILES"] = {**multi, "type": "diskfile", "title": "Files"}
    out["IS_INCOMING_CHANNEL"] = {
        **multi,
        "type": "char",
        "isMultiple": False,
        "isReadOnly": True,
        "title": "Incoming channel",
    }
    return out


# --- rendering ------------------------------------------------------------------------------


def _render_value(f: Field, value: Any, tz: ZoneInfo) -> Any:
    if f.kind == "object":
        return value or []
    return render(f, value, tz)


async def _communications_out(session: AsyncSession, comms: list[ActivityCommunication]) -> list:
    out = []
    for c in comms:
        settings: dict[str, Any] = {}
        entity = BY_OWNER_TYPE.get(c.entity_type_id or 0)
        obj = await repo.get(session, entity, c.entity_id) if entity and c.entity_id else None
        if obj is not None and entity is not None:
            if entity.name in ("CONTACT", "LEAD"):
                settings = {
                    "HONORIFIC": obj.honorific,
                    "NAME": obj.name,
                    "SECOND_NAME": obj.second_name,
                    "LAST_NAME": obj.last_name,
                }
            if entity.name == "COMPANY":
                settings["COMPANY_TITLE"] = obj.title
        out.append(
            {
                "ID": str(c.id),
                "TYPE": c.type,
                "VALUE": c.value,
                "ENTITY_ID": None if c.entity_id is None else str(c.entity_id),
                "ENTITY_TYPE_ID": None if c.entity_type_id is None else str(c.entity_type_id),
                "ENTITY_SETTINGS": settings,
            }
        )
    return out


async def activity_dict(
    session: AsyncSession,
    act: Activity,
    tz: ZoneInfo,
    file_url: FileUrl,
    wanted: set[str] | None = None,
) -> dict[str, Any]:
    """``wanted`` None: everything (get); else the list's select (`*` = base fields;
    COMMUNICATIONS and FILES only when named)."""
    everything = wanted is None
    wanted = wanted or set()
    star = everything or "*" in wanted
    out = {
        f.wire: _render_value(f, getattr(act, f.attr), tz)
        for f in FIELDS
        if star or f.wire in wanted or f.wire == "ID"
    }
    if everything or "STORAGE_TYPE_ID" in wanted:
        out["STORAGE_TYPE_ID"] = None if act.storage_type_id is None else str(act.storage_type_id)
    ids = [int(i) for i in (act.storage_element_ids or [])]
    if everything or "STORAGE_ELEMENT_IDS" in wanted:
        out["STORAGE_ELEMENT_IDS"] = ids
    if everything or "COMMUNICATIONS" in wanted:
        comms = (await repo.communications(session, [act.id]))[act.id]
        out["COMMUNICATIONS"] = await _communications_out(session, comms)
    # the list example selects STORAGE_ELEMENT_IDS and gets FILES (protocol.md §2.4)
    if everything or wanted & {"FILES", "STORAGE_ELEMENT_IDS"}:
        out["FILES"] = [{"id": i, "url": file_url(i, act.id)} for i in ids]
    return out


# --- the generic methods --------------------------------------------------------------------


def _communications_in(raw: Any) -> list[dict[str, Any]]:
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
    session: AsyncSession, fields: dict[str, Any], comms: list[dict[str, Any]]
) -> tuple[int, int]:
    owner_type, owner_id = opt_int(fields.get("OWNER_TYPE_ID")), opt_int(fields.get("OWNER_ID"))
    if owner_type and owner_id:
        if not await entity_exists(session, owner_type, owner_id):
            entity = BY_OWNER_TYPE.get(owner_type)
            raise errors.owner_missing(entity.name if entity else str(owner_type), owner_id)
        return owner_type, owner_id
    for comm in comms:
        if (
            comm["ENTITY_TYPE_ID"]
            and comm["ENTITY_ID"]
            and await entity_exists(session, comm["ENTITY_TYPE_ID"], comm["ENTITY_ID"])
        ):
            return comm["ENTITY_TYPE_ID"], comm["ENTITY_ID"]
    raise errors.no_binding()


def _nullable(attr: str) -> bool:
    return bool(Activity.__table__.columns[attr].nullable)


def _apply(act: Activity, fields: dict[str, Any], tz: ZoneInfo) -> None:
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


async def add(
    session: AsyncSession, fields_raw: Any, user_id: int, now: dt.datetime, tz: ZoneInfo
) -> int:
    fields = as_fields(fields_raw)
    type_id = opt_int(fields.get("TYPE_ID"))
    if type_id not in REST_TYPES:
        raise errors.activity_field("TYPE_ID")
    if type_id == 6 and not opt_str(fields.get("PROVIDER_ID")):
        raise errors.business_error(
            "The custom activity without provider is not supported in current context"
        )
    comms = _communications_in(fields.get("COMMUNICATIONS"))
    if not comms:
        raise errors.activity_field("COMMUNICATIONS")
    if type_id == CALL and len(comms) > 1:
        raise errors.business_error(
            "The only one communication is allowed for activity of specified type"
        )
    if not (opt_str(fields.get("SUBJECT")) or "").strip():
        raise errors.activity_field("SUBJECT", "not defined or empty")
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
    await _bind(session, act.id, owner_type, owner_id)
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
            and await entity_exists(session, comm["ENTITY_TYPE_ID"], comm["ENTITY_ID"])
        ):
            await _bind(session, act.id, comm["ENTITY_TYPE_ID"], comm["ENTITY_ID"])
    await session.flush()
    return act.id


async def _responsible(
    session: AsyncSession, fields: dict[str, Any], owner_type: int, owner_id: int, user_id: int
) -> int:
    if "RESPONSIBLE_ID" in fields:
        wanted = opt_int(fields["RESPONSIBLE_ID"])
        user = await users_repo.get_user(session, wanted) if wanted else None
        if user is None:
            raise errors.activity_field("RESPONSIBLE_ID")
        return user.id
    # defaults to the owner's responsible (tutorial), else the caller
    entity = BY_OWNER_TYPE[owner_type]
    owner = await repo.get(session, entity, owner_id)
    return (owner.assigned_by_id if owner is not None else None) or user_id


async def _bind(session: AsyncSession, activity_id: int, owner_type: int, owner_id: int) -> bool:
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


async def _existing(session: AsyncSession, id_raw: Any) -> Activity:
    act = await repo.activity(session, valid_id(id_raw))
    if act is None:
        raise errors.activity_not_found()
    return act


async def get(session: AsyncSession, id_raw: Any, tz: ZoneInfo, file_url: FileUrl) -> dict:
    return await activity_dict(session, await _existing(session, id_raw), tz, file_url)


async def update(
    session: AsyncSession,
    id_raw: Any,
    fields_raw: Any,
    user_id: int,
    now: dt.datetime,
    tz: ZoneInfo,
) -> bool:
    act = await _existing(session, id_raw)
    fields = as_fields(fields_raw)
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


async def delete(session: AsyncSession, id_raw: Any) -> bool:
    act = await _existing(session, id_raw)
    await session.delete(act)
    return True


def filter_fields() -> dict[str, FieldDef]:
    out = {
        f.wire: FieldDef(getattr(Activity, f.attr), _filter_kind(f))
        for f in FIELDS
        if f.kind != "object"
    }
    out["BINDINGS"] = FieldDef(None, custom=_bindings_condition)
    return out


def _filter_kind(f: Field) -> Any:
    return {"id": "int", "int": "int", "user": "int", "datetime": "datetime"}.get(f.kind, "str")


def _bindings_condition(op: str, raw: Any) -> Any:
    """`filter[BINDINGS]` = [{OWNER_TYPE_ID[, OWNER_ID]}, …]: any of them."""
    from sqlalchemy import and_, false, or_

    parts = []
    for item in as_list(raw):
        if not isinstance(item, dict):
            continue
        item = {str(k).upper(): v for k, v in item.items()}
        conds = [ActivityBinding.activity_id == Activity.id]
        if opt_int(item.get("OWNER_TYPE_ID")) is not None:
            conds.append(ActivityBinding.owner_type_id == opt_int(item.get("OWNER_TYPE_ID")))
        if opt_int(item.get("OWNER_ID")) is not None:
            conds.append(ActivityBinding.owner_id == opt_int(item.get("OWNER_ID")))
        parts.append(select(ActivityBinding.activity_id).where(and_(*conds)).exists())
    return or_(*parts) if parts else false()


async def list_(
    session: AsyncSession,
    *,
    filter_raw: Any,
    order_raw: Any,
    select_raw: Any,
    start: int,
    tz: ZoneInfo,
    file_url: FileUrl,
) -> ListResult:
    stmt = filtered_select(
        Activity, filter_fields(), filter_raw, order_raw, tz, [Activity.start_time.asc()]
    )
    wanted = {str(s).upper() for s in as_list(select_raw) if s not in (None, "")} or {"*"}
    result = await page(session, stmt, start, key_column=Activity.id, convert=lambda r: r[0])
    result.items = [await activity_dict(session, a, tz, file_url, wanted) for a in result.items]
    return result


# --- bindings (api-reference/crm/timeline/activities/binding/) ------------------------------


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
    if not await entity_exists(session, args.entity_type_id, args.entity_id):
        raise errors.binding_error("OWNER_NOT_FOUND", "Owner of the entity not found")
    if not await _bind(session, args.activity_id, args.entity_type_id, args.entity_id):
        raise errors.binding_error(
            "ACTIVITY_IS_ALREADY_BOUND", "The activity is already bound to this entity"
        )
    return True


async def binding_delete(session: AsyncSession, args: BindingArgs) -> bool:
    act = await _binding_target(session, args, "Element not found")
    if not await entity_exists(session, args.entity_type_id, args.entity_id):
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
    if not await entity_exists(session, target.entity_type_id, target.entity_id):
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
    await _bind(session, act.id, target.entity_type_id, target.entity_id)
    if (act.owner_type_id, act.owner_id) == (source.entity_type_id, source.entity_id):
        act.owner_id = target.entity_id
    return True


# --- the call activity (telephony) ----------------------------------------------------------


@dataclass
class CallActivity:
    """What `telephony.externalCall.finish` files (behavior.md §3.11)."""

    call_id: str
    subject: str
    direction: int  # 1 incoming, 2 outgoing
    start: dt.datetime
    end: dt.datetime
    completed: bool
    responsible_id: int
    bindings: list[tuple[int, int]]  # (owner type id, owner id); the first is the owner
    phone: str
    comm_entity: tuple[int, int] | None
    description: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    provider_type_id: str = "CALL"
    result_stream: int = 0
    result_mark: int = 0


async def create_call_activity(session: AsyncSession, spec: CallActivity, now: dt.datetime) -> int:
    owner_type, owner_id = spec.bindings[0]
    act = Activity(
        owner_type_id=owner_type,
        owner_id=owner_id,
        type_id=CALL,
        provider_id="VOXIMPLANT_CALL",
        provider_type_id=spec.provider_type_id,
        subject=spec.subject,
        start_time=spec.start,
        end_time=spec.end,
        deadline=spec.end,
        completed="Y" if spec.completed else "N",
        status=2 if spec.completed else 1,
        responsible_id=spec.responsible_id,
        author_id=spec.responsible_id,
        editor_id=spec.responsible_id,
        priority=2,
        notify_type=0,
        description=spec.description,
        description_type=1,
        direction=spec.direction,
        location="",
        created=spec.start,
        last_updated=now,
        settings=spec.settings,
        provider_params={},
        origin_id=f"VI_{spec.call_id}",
        result_stream=spec.result_stream,
        result_mark=spec.result_mark,
    )
    session.add(act)
    await session.flush()
    for owner in dict.fromkeys(spec.bindings):
        await _bind(session, act.id, *owner)
    entity_type, entity_id = spec.comm_entity or (None, None)
    session.add(
        ActivityCommunication(
            activity_id=act.id,
            type="PHONE",
            value=spec.phone,
            entity_id=entity_id,
            entity_type_id=entity_type,
        )
    )
    await session.flush()
    return act.id


async def set_recording(
    session: AsyncSession, activity_id: int | None, call_id: str, file_id: int
) -> Activity | None:
    """Put a recording on the call's activity, replacing the previous one (behavior.md §3.3
    step 9): found by id, else by ORIGIN_ID ``VI_<CALL_ID>``."""
    act = await repo.activity(session, activity_id) if activity_id else None
    if act is None:
        act = await repo.activity_by_origin(session, f"VI_{call_id}")
    if act is None:
        return None
    act.storage_type_id = STORAGE_RECORDINGS
    act.storage_element_ids = [file_id]
    await session.flush()
    return act
