"""telephony.externalCall.register (docs/reference/telephony.md, "register"): the checks
in the reference's order, the line, deduplication, CRM matching and the lead."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from b24tel import phones
from b24tel.crm import calls as crm_calls
from b24tel.crm import phone_search, statuses
from b24tel.db.hot import Tx
from b24tel.events.sink import crm_changed
from b24tel.telephony import errors
from b24tel.telephony import repository as repo
from b24tel.telephony.rules import Env, new_call_id, require_active, resolve_user
from b24tel.telephony.schemas import RegisterParams
from b24tel.users import lookup as users
from b24tel.wire.numbers import is_ascii_digits

DEDUP_WINDOW = dt.timedelta(minutes=30)
KINDS = {"2": "Incoming call", "3": "Incoming call", "4": "Callback"}


async def line_for_call(tx: Tx, env: Env, number: str) -> repo.LineRow | None:
    """LINE_NUMBER (already trimmed and cut to 50 bytes): auto-created when unknown."""
    if not number:
        return None
    line = await repo.line_row(tx, env.owner, number)
    if line is None:
        # another request may create it a moment before: the unique key keeps one
        await repo.add_line_if_missing(tx, {
            "owner": env.owner, "number": number, "name": None, "crm_auto_create": "Y",
            "normalized_number": phones.normalize(number, env.region) or number,
            "created_at": env.now,
        })  # fmt: skip
        line = await repo.line_row(tx, env.owner, number)
    return line


@dataclass
class NewCall:
    """The call register writes: its row, and what the CRM match and a lead add to it."""

    row: dict[str, Any]

    @property
    def call_id(self) -> str:
        return str(self.row["call_id"])

    def registered(self) -> repo.Registered:
        r = self.row
        return repo.Registered(r["call_id"], r["crm_created_lead"], r["crm_created_entities"],
                               r["crm_entity_type"], r["crm_entity_id"])  # fmt: skip


async def register(tx: Tx, env: Env, p: RegisterParams) -> dict[str, Any]:
    user_id = await resolve_user(tx, p.user_id, p.user_phone_inner)
    if p.call_type is None:
        raise errors.unknown_type()
    if p.start is None:
        raise errors.bad_start_date()
    if not p.dialable:
        raise errors.bad_phone()
    await require_active(tx, user_id)
    caller_id = p.phone_number
    await repo.serialize_registration(tx, env.owner, user_id, caller_id, p.call_type)
    line = await line_for_call(tx, env, p.line_number)
    internal = await users.active_by_inner(tx, caller_id) if is_ascii_digits(caller_id) else None
    # the dedup window counts from the call start, which the client may backdate
    existing = await repo.dedup_candidate(
        tx,
        owner=env.owner,
        user_id=user_id,
        caller_id=caller_id,
        incoming=p.call_type,
        since=env.now - DEDUP_WINDOW,
        line_id=line.id if line else None,
        external_call_id=p.external_call_id,
    )
    if existing is not None:
        if p.show:
            await repo.set_card(tx, existing.call_id, [user_id], "shown", env.now)
        return register_result(existing)
    call = NewCall({
        "call_id": new_call_id(env, user_id, caller_id),
        "external_call_id": p.external_call_id, "owner": env.owner,
        "rest_app_id": env.caller.app_id, "user_id": user_id, "portal_user_id": internal,
        "incoming": p.call_type, "caller_id": caller_id, "date_create": p.start,
        "external_line_id": line.id if line else None,
        "portal_number": line.number if line else f"REST_APP:{env.caller.app_id or ''}",
        "crm_bindings": [], "crm_entity_type": None, "crm_entity_id": None,
        "crm_created_lead": None, "crm_created_entities": [], "created_at": env.now,
    })  # fmt: skip
    await _match_crm(tx, env, call, p)
    await tx.run(repo.NEW_CALL, **call.row)
    # a new call only: a dedup hit raised nothing (the reference's init event carries an
    # id it then discards)
    await _call_event(env, tx, call, "ONVOXIMPLANTCALLINIT", {
        "CALL_ID": call.call_id, "CALL_TYPE": p.call_type, "CALLER_ID": caller_id,
        "REST_APP_ID": env.caller.app_id,
    })  # fmt: skip
    lead_error = None
    if p.crm_create and internal is None:
        lead_error = await _create_lead(tx, env, call, line, p.crm_source, user_id)
    await _call_event(env, tx, call, "ONVOXIMPLANTCALLSTART",
                      {"CALL_ID": call.call_id, "USER_ID": user_id})  # fmt: skip
    if p.show:
        await repo.set_card(tx, call.call_id, [user_id], "shown", env.now)
    result = register_result(call.registered())
    if lead_error is not None:
        result["LEAD_CREATION_ERROR"] = lead_error
    return result


async def _call_event(env: Env, tx: Tx, call: NewCall, event: str, data: dict[str, Any]) -> None:
    await env.events.emit(tx, event, data, entity=f"CALL:{call.call_id}",
                          user_id=call.row["user_id"])  # fmt: skip


def register_result(call: repo.Registered) -> dict[str, Any]:
    """The result types of the reference — also on a dedup hit."""
    return {
        "CALL_ID": call.call_id,
        "CRM_CREATED_LEAD": call.crm_created_lead,
        "CRM_CREATED_ENTITIES": [
            {"ENTITY_TYPE": e["ENTITY_TYPE"], "ENTITY_ID": int(e["ENTITY_ID"])}
            for e in call.crm_created_entities or []
        ],
        "CRM_ENTITY_TYPE": call.crm_entity_type or "",
        "CRM_ENTITY_ID": call.crm_entity_id,
    }


async def _match_crm(tx: Tx, env: Env, call: NewCall, p: RegisterParams) -> None:
    row = call.row
    if p.crm_entity_type and p.crm_entity_id is not None:
        # taken as given, without validation (as the reference does)
        row["crm_entity_type"], row["crm_entity_id"] = p.crm_entity_type.upper(), p.crm_entity_id
        entities = [(row["crm_entity_type"], p.crm_entity_id)]
    else:
        matches = await phone_search.find_by_phone(tx, row["caller_id"], env.region)
        entities = [(m.entity_type, m.entity_id) for m in matches]
        if entities:
            row["crm_entity_type"], row["crm_entity_id"] = entities[0]
    row["crm_bindings"] = await crm_calls.activity_bindings(tx, entities)


async def _create_lead(
    tx: Tx,
    env: Env,
    call: NewCall,
    line: repo.LineRow | None,
    source: str,
    user_id: int,
) -> str | None:
    """Lead auto-creation (the ORM's: the lead is a CRM entity like any other); returns
    LEAD_CREATION_ERROR."""
    row = call.row
    if row["crm_entity_type"] == "LEAD":
        return None
    if row["crm_entity_type"] in ("CONTACT", "COMPANY"):
        return ""  # CRM registers nothing for a known client
    session = await tx.session()
    if await users.employees_number(session, row["caller_id"], env.region):
        return "Lead creation is disabled for local users"
    kind = KINDS.get(row["incoming"], "Outgoing call")
    if not source or not await statuses.source_exists(session, source):
        source = "CALL"
    lead = crm_calls.NewLead(
        title=f"{phones.formatted(row['caller_id'], env.region)} - {kind}",
        phone=row["caller_id"],
        source_id=source,
        source_description=(
            f"Call routed to: {line.normalized_number}." if line is not None else None
        ),
        responsible_id=user_id,
    )
    lead_id = await crm_calls.create_lead(session, lead, env.now, env.tz, env.region)
    await session.flush()
    await crm_changed(env.events, tx, "LEAD", "ADD", lead_id, user_id)
    row["crm_created_lead"] = lead_id
    row["crm_created_entities"] = [{"ENTITY_TYPE": "LEAD", "ENTITY_ID": lead_id}]
    if not row["crm_entity_type"]:
        row["crm_entity_type"], row["crm_entity_id"] = "LEAD", lead_id
    row["crm_bindings"] = (row["crm_bindings"] or []) + [[1, lead_id]]
    await tx.run(repo.CALL_CRM, **{k: row[k] for k in repo.CALL_CRM_COLUMNS}, by=row["call_id"])
    return None
