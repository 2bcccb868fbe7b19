"""telephony.externalCall.finish (docs/reference/telephony.md, "finish"): every check
before any write, then the statistic row, the call activity and missed calls."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from b24tel import phones
from b24tel.crm import calls as crm_calls
from b24tel.crm import phone_search
from b24tel.db import hot
from b24tel.db.hot import as_tx
from b24tel.events.sink import crm_changed
from b24tel.telephony import errors
from b24tel.telephony import repository as repo
from b24tel.telephony.models import Call, MissedCall, Statistic
from b24tel.telephony.outcomes import ANSWERED, MISSED, default_code
from b24tel.telephony.rules import INCOMING_TYPES, Env, require_active, resolve_user
from b24tel.telephony.schemas import FinishParams
from b24tel.users import lookup as users

TYPE_IDS = crm_calls.TYPE_IDS
# what finish validates, as its ORM fields (title, limit)
LENGTHS = (
    ("Code", 255),
    ("Code description", 255),
    ("Currency", 50),
    ("Voximplant recording link", 2000),
)
SUBJECTS = {"1": "Outgoing to {}", "2": "Incoming from {}", "3": "Incoming from {}",
            "4": "Callback to {}"}  # fmt: skip


class NoCrmEntity(Exception):
    pass


def failed_code(status_code: str, duration: int) -> str:
    """CALL_FAILED_CODE: the given STATUS_CODE when PHP-truthy, else 200 for a call with a
    duration and 304 (missed) without one."""
    if status_code and status_code != "0":
        return status_code
    return default_code(duration)


async def finish(
    session: AsyncSession, env: Env, p: FinishParams
) -> tuple[dict[str, Any], Statistic]:
    user_id = await resolve_user(session, p.user_id, p.user_phone_inner)
    if p.call_id is None:
        raise errors.call_id_not_string()
    code = failed_code(p.status_code, p.duration)
    call = await repo.open_call_row(await as_tx(session), p.call_id, lock=True)
    # unlike the reference, one application cannot finish another's call
    if call is None or call.owner != env.owner:
        raise errors.call_not_found()
    await require_active(session, user_id)
    # every check before any write: a failure here changes nothing
    values = (code, p.failed_reason, p.cost_currency, p.record_url)
    too_long = [
        field for field, value in zip(LENGTHS, values, strict=True) if len(value) > field[1]
    ]
    if too_long:
        raise errors.values_too_long(too_long)
    await repo.set_card(session, call.call_id, [user_id], "hidden", env.now)
    stat = Statistic(
        call_id=call.call_id,
        external_call_id=call.external_call_id,
        owner=call.owner,
        portal_user_id=user_id,
        portal_number=call.portal_number,
        phone_number=call.caller_id,
        phone_normalized=(phones.normalize(call.caller_id, env.region) or "")[:50] or None,
        incoming=call.incoming,
        call_duration=p.duration,
        call_start_date=call.date_create,
        call_status=1 if p.duration > 0 else 0,
        call_vote=p.vote,
        cost=p.cost,
        cost_currency=p.cost_currency,
        call_failed_code=code,
        call_failed_reason=p.failed_reason,
        rest_app_id=call.rest_app_id,
        comment=call.comment,
        call_record_url=p.record_url or None,
        crm_entity_type=call.crm_entity_type,
        crm_entity_id=call.crm_entity_id,
        record_fetch_status="pending" if p.record_url else None,
        record_fetch_started_at=env.now if p.record_url else None,
    )
    stat.rest_app_name = await users.app_name(session, call.rest_app_id)
    await crm_calls.reassign(session, call.crm_created_entities or [], user_id, env.now)
    activity_error = None
    try:
        stat.crm_activity_id = await _call_activity(session, env, call, stat, user_id)
    except NoCrmEntity as exc:
        activity_error = str(exc)
    tx = await as_tx(session)
    await hot.add(tx, stat)
    await _missed_calls(session, call, stat)
    await tx.run(repo.CALL_FINISHED, finished_at=env.now, by=call.id)
    await _raise_events(session, env, stat)
    return finish_result(env, stat, p.record_url, activity_error), stat


async def _raise_events(session: AsyncSession, env: Env, stat: Statistic) -> None:
    """The call activity's ONCRMACTIVITYADD, then ONVOXIMPLANTCALLEND with the documented
    fields (docs/reference/events.md, "Events")."""
    user = stat.portal_user_id
    if stat.crm_activity_id:
        await crm_changed(env.events, session, "ACTIVITY", "ADD", stat.crm_activity_id, user)
    data = {
        "CALL_ID": stat.call_id, "CALL_TYPE": stat.incoming, "PHONE_NUMBER": stat.phone_number,
        "PORTAL_NUMBER": stat.portal_number, "PORTAL_USER_ID": user,
        "CALL_DURATION": stat.call_duration,
        "CALL_START_DATE": stat.call_start_date.astimezone(env.tz).isoformat(),
        "COST": float(stat.cost),
        "COST_CURRENCY": stat.cost_currency, "CALL_FAILED_CODE": stat.call_failed_code,
        "CALL_FAILED_REASON": stat.call_failed_reason,
        "CRM_ACTIVITY_ID": stat.crm_activity_id or 0,
    }  # fmt: skip
    await env.events.emit(
        session, "ONVOXIMPLANTCALLEND", data, entity=f"CALL:{stat.call_id}", user_id=user
    )


def finish_result(
    env: Env, stat: Statistic, record_url: str, activity_error: str | None
) -> dict[str, Any]:
    """The statistic record in the reference's order; unlike the reference,
    CALL_START_DATE is an ISO-8601 string, not ``{}``."""
    out: dict[str, Any] = {
        "CALL_ID": stat.call_id,
        "EXTERNAL_CALL_ID": stat.external_call_id,
        "PORTAL_USER_ID": stat.portal_user_id,
        "PHONE_NUMBER": stat.phone_number,
        "PORTAL_NUMBER": stat.portal_number,
        "INCOMING": stat.incoming,
        "CALL_DURATION": stat.call_duration,
        "CALL_START_DATE": stat.call_start_date.astimezone(env.tz).isoformat(),
        "CALL_STATUS": stat.call_status,
        "CALL_VOTE": stat.call_vote,
        "COST": float(stat.cost),
        "COST_CURRENCY": stat.cost_currency,
        "CALL_FAILED_CODE": stat.call_failed_code,
        "CALL_FAILED_REASON": stat.call_failed_reason,
        "REST_APP_ID": None if stat.rest_app_id is None else str(stat.rest_app_id),
        # webhook calls have no application: the reference sends false
        "REST_APP_NAME": stat.rest_app_name if stat.rest_app_name is not None else False,
        "CRM_ACTIVITY_ID": stat.crm_activity_id if stat.crm_activity_id else False,
        "COMMENT": stat.comment,
    }
    if record_url:
        out["CALL_RECORD_URL"] = record_url
    if stat.crm_entity_type:
        out["CRM_ENTITY_TYPE"] = stat.crm_entity_type
        out["CRM_ENTITY_ID"] = stat.crm_entity_id
    out["ID"] = stat.id
    if activity_error:
        out["ERRORS"] = {"ACTIVITY_CREATION": activity_error}
    return out


async def _bindings(
    session: AsyncSession, env: Env, call: Call, stat: Statistic
) -> list[tuple[int, int]]:
    bindings = [(b[0], b[1]) for b in call.crm_bindings or []]
    if not bindings:
        matches = await phone_search.find_by_phone(session, call.caller_id, env.region)
        pairs = await crm_calls.activity_bindings(
            session, [(m.entity_type, m.entity_id) for m in matches]
        )
        bindings = [(b[0], b[1]) for b in pairs]
    if not bindings and stat.crm_entity_type in TYPE_IDS and stat.crm_entity_id:
        bindings = [(TYPE_IDS[stat.crm_entity_type], stat.crm_entity_id)]
    if not bindings:
        raise NoCrmEntity("Could not find associated crm entity for the current call")
    return bindings


async def _call_activity(
    session: AsyncSession, env: Env, call: Call, stat: Statistic, user_id: int
) -> int:
    bindings = await _bindings(session, env, call, stat)
    kind, code = call.incoming, stat.call_failed_code
    missed = kind in ("2", "4") and code == MISSED
    primary = (TYPE_IDS.get(call.crm_entity_type or ""), call.crm_entity_id)
    vote = stat.call_vote or 0
    spec = crm_calls.CallActivity(
        call_id=call.call_id,
        subject=SUBJECTS.get(kind, "Phone call").format(
            phones.formatted(call.caller_id, env.region)
        ),
        direction=1 if kind in INCOMING_TYPES else 2,
        start=call.date_create,
        end=_after(call.date_create, stat.call_duration),
        completed=not missed,
        responsible_id=user_id,
        bindings=bindings,
        phone=call.caller_id,
        comm_entity=(primary[0], primary[1]) if primary[0] and primary[1] else bindings[0],
        description=await _description(session, call, stat.call_duration),
        settings={"MISSED_CALL": True} if missed else {},
        # the reference checks an int against a string here and never says CALLBACK
        provider_type_id="CALLBACK" if kind == "4" else "CALL",
        result_stream={"1": 2, "2": 1, "3": 1, "4": 3}.get(kind, 0) if code == ANSWERED else 4,
        result_mark=2 if vote > 3 else (1 if vote >= 1 else 0),
    )
    return await crm_calls.create_call_activity(session, spec, env.now)


def _after(start: dt.datetime, seconds: int) -> dt.datetime:
    """``start`` plus a duration, at most the end of the calendar."""
    try:
        return start + dt.timedelta(seconds=max(seconds, 0))
    except OverflowError:
        return dt.datetime.max.replace(tzinfo=dt.UTC)


async def _description(session: AsyncSession, call: Call, duration: int) -> str:
    if duration <= 0:
        return ""
    text = f"Call length: {duration // 60} min {duration % 60} sec"
    line = await repo.line_by_id(session, call.external_line_id)
    if call.incoming == "2" and line is not None:
        text += f"\nCall routed to: {line.name or line.number}."
    return text


async def _missed_calls(session: AsyncSession, call: Call, stat: Statistic) -> None:
    if stat.call_failed_code == MISSED and call.incoming in INCOMING_TYPES:
        session.add(
            MissedCall(
                id=stat.id,
                call_start_date=stat.call_start_date,
                phone_number=stat.phone_number,
                portal_user_id=stat.portal_user_id,
            )
        )
    elif stat.call_failed_code == ANSWERED and call.incoming == "1":
        await repo.link_missed_callbacks(session, stat.phone_number, stat.id, stat.call_start_date)
