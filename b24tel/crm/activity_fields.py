"""The activity's fields: their wire order and types, `crm.activity.fields`, the wire form
of an activity, and the filter fields of `crm.activity.list` (docs/reference/crm.md,
"Activities")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from b24tel.crm import repository as repo
from b24tel.crm.entities import render
from b24tel.crm.fields import BY_OWNER_TYPE, Field, describe
from b24tel.crm.models import (
    Activity,
    ActivityBinding,
    ActivityCommunication,
    Company,
    Contact,
    Lead,
)
from b24tel.db.filters import FieldDef, Kind
from b24tel.wire.php import as_list, opt_int

CALL = 2
REST_TYPES = (1, 2, 4, 6)  # the only TYPE_IDs crm.activity.add accepts
STORAGE_RECORDINGS = 3  # the reference's "disk" storage type

# wire order of crm.activity.get (docs/reference/crm.md, "Activities")
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


def _render_value(f: Field, value: object, tz: ZoneInfo) -> object:
    if f.kind == "object":
        return value or []
    return render(f, value, tz)


async def _communications_out(
    session: AsyncSession, comms: list[ActivityCommunication]
) -> list[dict[str, Any]]:
    out = []
    for c in comms:
        settings: dict[str, Any] = {}
        entity = BY_OWNER_TYPE.get(c.entity_type_id or 0)
        obj = await repo.get(session, entity, c.entity_id) if entity and c.entity_id else None
        if isinstance(obj, Contact | Lead):
            settings = {
                "HONORIFIC": obj.honorific,
                "NAME": obj.name,
                "SECOND_NAME": obj.second_name,
                "LAST_NAME": obj.last_name,
            }
        if isinstance(obj, Company):
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
    # the list example selects STORAGE_ELEMENT_IDS and gets FILES (docs/reference/crm.md)
    if everything or wanted & {"FILES", "STORAGE_ELEMENT_IDS"}:
        out["FILES"] = [{"id": i, "url": file_url(i, act.id)} for i in ids]
    return out


def filter_fields() -> dict[str, FieldDef]:
    out = {
        f.wire: FieldDef(getattr(Activity, f.attr), _filter_kind(f))
        for f in FIELDS
        if f.kind != "object"
    }
    out["BINDINGS"] = FieldDef(None, custom=_bindings_condition)
    return out


_FILTER_KINDS: dict[str, Kind] = {"id": "int", "int": "int", "user": "int", "datetime": "datetime"}


def _filter_kind(f: Field) -> Kind:
    return _FILTER_KINDS.get(f.kind, "str")


def _bindings_condition(op: str, raw: object) -> ColumnElement[bool]:
    """`filter[BINDINGS]` = [{OWNER_TYPE_ID[, OWNER_ID]}, …]: any of them."""
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
