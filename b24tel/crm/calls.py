"""What a call does in the CRM (docs/reference/telephony.md, "The call activity"): the
entities its activity is bound to, the lead it may create, the call activity that finish
files and attachRecord puts the recording on. Telephony asks for these; it does not touch
CRM tables itself."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel.crm import repository as repo
from b24tel.crm.activity_fields import CALL, STORAGE_RECORDINGS
from b24tel.crm.entities import Env, add
from b24tel.crm.fields import ENTITIES, LEAD
from b24tel.crm.models import Activity, ActivityBinding, ActivityCommunication, Deal
from b24tel.db.hot import Query, Tx, as_tx, insert, scalar, update

# activity owner types by entity (CONTACT → 3 …)
TYPE_IDS = {"LEAD": 1, "DEAL": 2, "CONTACT": 3, "COMPANY": 4}


def _open_deals(column: Any) -> Query:
    return Query(
        select(Deal.id).where(column == bindparam("owner"), Deal.closed == "N").order_by(Deal.id)
    )


_OPEN_DEALS = {"CONTACT": _open_deals(Deal.contact_id), "COMPANY": _open_deals(Deal.company_id)}


async def activity_bindings(
    where: AsyncSession | Tx, entities: list[tuple[str, int]]
) -> list[list[int]]:
    """Owner pairs for a call's activity: the entities, plus the open deals of a contact or
    company, without repeats."""
    tx = await as_tx(where) if entities else None
    out: list[list[int]] = []
    for entity_type, entity_id in entities:
        type_id = TYPE_IDS.get(entity_type)
        if type_id is None or tx is None:
            continue
        out.append([type_id, entity_id])
        deals = _OPEN_DEALS.get(entity_type)
        if deals is not None:
            out += [[2, d] for (d,) in await tx.rows(deals, owner=entity_id)]
    unique: list[list[int]] = []
    for pair in out:
        if pair not in unique:
            unique.append(pair)
    return unique


@dataclass(frozen=True)
class NewLead:
    title: str
    phone: str
    source_id: str
    source_description: str | None
    responsible_id: int


async def create_lead(
    session: AsyncSession, lead: NewLead, now: dt.datetime, tz: ZoneInfo, region: str
) -> int:
    fields: dict[str, Any] = {
        "TITLE": lead.title,
        "PHONE": [{"VALUE": lead.phone, "VALUE_TYPE": "WORK"}],
        "SOURCE_ID": lead.source_id,
        "ASSIGNED_BY_ID": lead.responsible_id,
    }
    if lead.source_description is not None:
        fields["SOURCE_DESCRIPTION"] = lead.source_description
    return await add(session, LEAD, fields, {}, Env(lead.responsible_id, now, tz, region))


async def reassign(
    session: AsyncSession, created: list[dict[str, Any]], user_id: int, now: dt.datetime
) -> None:
    """Entities created for a call become the finishing user's."""
    for item in created:
        entity = ENTITIES.get(str(item.get("ENTITY_TYPE")))
        obj = await repo.get(session, entity, int(item["ENTITY_ID"])) if entity else None
        if obj is not None:
            obj.assigned_by_id, obj.modify_by_id, obj.date_modify = user_id, user_id, now


@dataclass
class CallActivity:
    """What `telephony.externalCall.finish` files (docs/reference/telephony.md,
    "The call activity")."""

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


_ACTIVITY_COLUMNS = (
    "owner_type_id", "owner_id", "type_id", "provider_id", "provider_type_id",
    "associated_entity_id", "subject", "start_time", "end_time", "deadline", "completed",
    "status", "responsible_id", "priority", "notify_type", "notify_value", "description",
    "description_type", "direction", "location", "created", "last_updated", "author_id",
    "editor_id", "settings", "provider_params", "origin_id", "result_mark", "result_status",
    "result_stream", "autocomplete_rule",
)  # fmt: skip
_NEW_ACTIVITY = insert(Activity, _ACTIVITY_COLUMNS)
_NEW_BINDING = insert(ActivityBinding, ("activity_id", "owner_type_id", "owner_id"),
                      returning=None)  # fmt: skip
_NEW_COMMUNICATION = insert(
    ActivityCommunication,
    ("activity_id", "type", "value", "entity_id", "entity_type_id"),
    returning=None,
)


async def create_call_activity(
    where: AsyncSession | Tx, spec: CallActivity, now: dt.datetime
) -> int:
    """The call activity, its bindings and its phone (three statements: the activity is
    new, so no binding of it can exist yet)."""
    tx = await as_tx(where)
    owner_type, owner_id = spec.bindings[0]
    activity_id = int(await scalar(tx, _NEW_ACTIVITY, **{
        "owner_type_id": owner_type, "owner_id": owner_id, "type_id": CALL,
        "provider_id": "VOXIMPLANT_CALL", "provider_type_id": spec.provider_type_id,
        "associated_entity_id": 0, "subject": spec.subject, "start_time": spec.start,
        "end_time": spec.end, "deadline": spec.end,
        "completed": "Y" if spec.completed else "N", "status": 2 if spec.completed else 1,
        "responsible_id": spec.responsible_id, "priority": 2, "notify_type": 0,
        "notify_value": 0, "description": spec.description, "description_type": 1,
        "direction": spec.direction, "location": "", "created": spec.start,
        "last_updated": now, "author_id": spec.responsible_id,
        "editor_id": spec.responsible_id, "settings": spec.settings, "provider_params": {},
        "origin_id": f"VI_{spec.call_id}", "result_mark": spec.result_mark,
        "result_status": 0, "result_stream": spec.result_stream, "autocomplete_rule": 0,
    }))  # fmt: skip
    await tx.run_many(_NEW_BINDING, [
        {"activity_id": activity_id, "owner_type_id": t, "owner_id": o}
        for t, o in dict.fromkeys(spec.bindings)
    ])  # fmt: skip
    entity_type, entity_id = spec.comm_entity or (None, None)
    await tx.run(_NEW_COMMUNICATION, activity_id=activity_id, type="PHONE", value=spec.phone,
                 entity_id=entity_id, entity_type_id=entity_type)  # fmt: skip
    return activity_id


_RECORDING_ON = update(Activity, "id", ("storage_type_id", "storage_element_ids"))
_BY_ORIGIN = Query(
    select(Activity.id)
    .where(Activity.origin_id == bindparam("origin"))
    .order_by(Activity.id)
    .limit(1)
)


async def set_recording(
    where: AsyncSession | Tx, activity_id: int | None, call_id: str, file_id: int
) -> int | None:
    """Put a recording on the call's activity, replacing the previous one
    (docs/reference/telephony.md, "attachRecord"): found by id, else by ORIGIN_ID
    ``VI_<CALL_ID>``. Returns the activity's id."""
    tx = await as_tx(where)
    values = {"storage_type_id": STORAGE_RECORDINGS, "storage_element_ids": [file_id]}
    if activity_id and await tx.run(_RECORDING_ON, **values, by=activity_id):
        return activity_id
    found = await scalar(tx, _BY_ORIGIN, origin=f"VI_{call_id}")
    if found is None:
        return None
    await tx.run(_RECORDING_ON, **values, by=found)
    return int(found)
