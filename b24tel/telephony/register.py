"""telephony.externalCall.register (docs/reference/telephony.md, "register"): the checks
in the reference's order, the line, deduplication, CRM matching and the lead."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel import phones
from b24tel.crm import calls as crm_calls
from b24tel.crm import phone_search, statuses
from b24tel.events.sink import crm_changed
from b24tel.telephony import errors
from b24tel.telephony import repository as repo
from b24tel.telephony.models import Call, ExternalLine
from b24tel.telephony.rules import Env, new_call_id, require_active, resolve_user
from b24tel.telephony.schemas import RegisterParams
from b24tel.users import lookup as users
from b24tel.wire.numbers import is_ascii_digits

DEDUP_WINDOW = dt.timedelta(minutes=30)
KINDS = {"2": "Incoming call", "3": "Incoming call", "4": "Callback"}


async def line_for_call(session: AsyncSession, env: Env, number: str) -> ExternalLine | None:
    """LINE_NUMBER (already trimmed and cut to 50 bytes): auto-created when unknown."""
    if not number:
        return None
    line = await repo.line(session, env.owner, number)
    if line is None:
        line = ExternalLine(
            owner=env.owner,
            number=number,
            name=None,
            crm_auto_create="Y",
            normalized_number=phones.normalize(number, env.region) or number,
            created_at=env.now,
        )
        try:
            async with session.begin_nested():
                await repo.add(session, line)
        except IntegrityError:  # another request created it a moment ago
            line = await repo.line(session, env.owner, number)
    return line


async def register(session: AsyncSession, env: Env, p: RegisterParams) -> dict[str, Any]:
    user_id = await resolve_user(session, p.user_id, p.user_phone_inner)
    if p.call_type is None:
        raise errors.unknown_type()
    if p.start is None:
        raise errors.bad_start_date()
    if not p.dialable:
        raise errors.bad_phone()
    await require_active(session, user_id)
    caller_id = p.phone_number
    await repo.serialize_registration(session, env.owner, user_id, caller_id, p.call_type)
    line = await line_for_call(session, env, p.line_number)
    internal = (
        await users.active_by_inner(session, caller_id) if is_ascii_digits(caller_id) else None
    )
    # the dedup window counts from the call start, which the client may backdate
    existing = await repo.dedup_candidate(
        session,
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
            await repo.set_card(session, existing.call_id, [user_id], "shown", env.now)
        return register_result(existing)
    call = Call(
        call_id=new_call_id(env, user_id, caller_id),
        external_call_id=p.external_call_id,
        owner=env.owner,
        rest_app_id=env.caller.app_id,
        user_id=user_id,
        portal_user_id=internal.id if internal else None,
        incoming=p.call_type,
        caller_id=caller_id,
        date_create=p.start,
        external_line_id=line.id if line else None,
        portal_number=line.number if line else f"REST_APP:{env.caller.app_id or ''}",
        crm_bindings=[],
        crm_created_entities=[],
        created_at=env.now,
    )
    await repo.add(session, call)
    # a new call only: a dedup hit raised nothing (the reference's init event carries an
    # id it then discards)
    await _call_event(env, session, call, "ONVOXIMPLANTCALLINIT", {
        "CALL_ID": call.call_id, "CALL_TYPE": call.incoming, "CALLER_ID": call.caller_id,
        "REST_APP_ID": call.rest_app_id,
    })  # fmt: skip
    await _match_crm(session, env, call, p)
    lead_error = None
    if p.crm_create and internal is None:
        lead_error = await _create_lead(session, env, call, line, p.crm_source, user_id)
    await _call_event(env, session, call, "ONVOXIMPLANTCALLSTART",
                      {"CALL_ID": call.call_id, "USER_ID": user_id})  # fmt: skip
    if p.show:
        await repo.set_card(session, call.call_id, [user_id], "shown", env.now)
    await session.flush()
    result = register_result(call)
    if lead_error is not None:
        result["LEAD_CREATION_ERROR"] = lead_error
    return result


async def _call_event(
    env: Env, session: AsyncSession, call: Call, event: str, data: dict[str, Any]
) -> None:
    await env.events.emit(session, event, data, entity=f"CALL:{call.call_id}", user_id=call.user_id)


def register_result(call: Call) -> dict[str, Any]:
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


async def _match_crm(session: AsyncSession, env: Env, call: Call, p: RegisterParams) -> None:
    if p.crm_entity_type and p.crm_entity_id is not None:
        # taken as given, without validation (as the reference does)
        call.crm_entity_type, call.crm_entity_id = p.crm_entity_type.upper(), p.crm_entity_id
        entities = [(call.crm_entity_type, p.crm_entity_id)]
    else:
        matches = await phone_search.find_by_phone(session, call.caller_id, env.region)
        entities = [(m.entity_type, m.entity_id) for m in matches]
        if entities:
            call.crm_entity_type, call.crm_entity_id = entities[0]
    call.crm_bindings = await crm_calls.activity_bindings(session, entities)


async def _create_lead(
    session: AsyncSession,
    env: Env,
    call: Call,
    line: ExternalLine | None,
    source: str,
    user_id: int,
) -> str | None:
    """Lead auto-creation; returns LEAD_CREATION_ERROR."""
    if call.crm_entity_type == "LEAD":
        return None
    if call.crm_entity_type in ("CONTACT", "COMPANY"):
        return ""  # CRM registers nothing for a known client
    if await users.employees_number(session, call.caller_id, env.region):
        return "Lead creation is disabled for local users"
    kind = KINDS.get(call.incoming, "Outgoing call")
    if not source or not await statuses.source_exists(session, source):
        source = "CALL"
    lead = crm_calls.NewLead(
        title=f"{phones.formatted(call.caller_id, env.region)} - {kind}",
        phone=call.caller_id,
        source_id=source,
        source_description=(
            f"Call routed to: {line.normalized_number}." if line is not None else None
        ),
        responsible_id=user_id,
    )
    lead_id = await crm_calls.create_lead(session, lead, env.now, env.tz, env.region)
    await crm_changed(env.events, session, "LEAD", "ADD", lead_id, user_id)
    call.crm_created_lead = lead_id
    call.crm_created_entities = [{"ENTITY_TYPE": "LEAD", "ENTITY_ID": lead_id}]
    if not call.crm_entity_type:
        call.crm_entity_type, call.crm_entity_id = "LEAD", lead_id
    call.crm_bindings = (call.crm_bindings or []) + [[1, lead_id]]
    return None
