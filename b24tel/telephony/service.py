"""The call lifecycle: register, show/hide, finish, searchCrmEntities (behavior.md §3.1,
§3.2, §3.5, §3.6, §3.11)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel.crm import activity_service, phones
from b24tel.crm import repository as crm_repo
from b24tel.crm import service as crm
from b24tel.crm.fields import ENTITIES, LEAD
from b24tel.crm.models import Deal
from b24tel.rest.context import Caller
from b24tel.rest.params import opt_float, opt_str, php_int, php_truthy
from b24tel.telephony import errors as texts
from b24tel.telephony import repository as repo
from b24tel.telephony.errors import Errors
from b24tel.telephony.models import WEBHOOK_OWNER, Call, ExternalLine, MissedCall, Statistic
from b24tel.users import repository as users_repo
from b24tel.users.models import App, User
from b24tel.users.service import inner_digits

DEDUP_WINDOW = dt.timedelta(minutes=30)
TYPE_IDS = {"LEAD": 1, "DEAL": 2, "CONTACT": 3, "COMPANY": 4}
INCOMING_TYPES = ("2", "3")


@dataclass(frozen=True)
class Env:
    caller: Caller
    now: dt.datetime
    tz: ZoneInfo
    region: str
    errors: Errors

    @property
    def owner(self) -> int:
        return self.caller.app_id if self.caller.app_id is not None else WEBHOOK_OWNER


# --- parameter rules ------------------------------------------------------------------------

_NUMERIC = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")


def call_type(raw: Any) -> str | None:
    """``TYPE`` compared loosely with 1–5, as PHP does: ``"2"``, ``" 2"``, ``"2.0"`` and
    ``true`` (== 1) pass; null, ``"0"`` and ``"2x"`` do not (behavior.md §3.1 step 4)."""
    if raw is True:
        return "1"
    if raw is None or raw is False or isinstance(raw, dict | list):
        return None
    if isinstance(raw, int | float) or (isinstance(raw, str) and _NUMERIC.match(raw)):
        number = float(raw)
    else:
        return None
    return str(int(number)) if number.is_integer() and 1 <= number <= 5 else None


def start_date(raw: Any, tz: ZoneInfo, now: dt.datetime) -> dt.datetime | None:
    """CALL_START_DATE: ISO-8601 with or without offset, ``Y-m-d H:i:s``, Python's
    ``str(datetime)``, a plain date, or ``now``; None when unreadable. Seconds precision."""
    text = opt_str(raw)
    if text is None or text == "":
        return now.replace(microsecond=0)
    text = text.strip()
    if text.lower() == "now":
        return now.replace(microsecond=0)
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=tz)  # no offset: the portal's time
        return parsed.astimezone(dt.UTC).replace(microsecond=0)
    except (ValueError, OverflowError):  # unreadable, or beyond year 1 … 9999 in UTC
        return None


async def resolve_user(session: AsyncSession, env: Env, user_id: Any, inner: Any) -> int:
    """USER_ID, else the active user with USER_PHONE_INNER; raises when neither gives one."""
    uid = php_int(user_id)
    if uid == 0:
        digits = inner_digits(opt_str(inner))
        user = await users_repo.active_user_by_inner(session, digits) if digits else None
        uid = user.id if user is not None else 0
    if uid == 0:
        raise env.errors(texts.USER_NOT_SET)
    return uid


async def active_user(session: AsyncSession, env: Env, user_id: int) -> User:
    user = await users_repo.get_user(session, user_id)
    if user is None or not user.active:
        raise env.errors(texts.USER_INACTIVE)
    return user


def new_call_id(env: Env, user_id: int, phone: str) -> str:
    seed = f"{env.owner}|{user_id}|{phone}|{uuid.uuid4().hex}|{env.now.timestamp()}"
    return f"externalCall.{hashlib.md5(seed.encode()).hexdigest()}.{int(env.now.timestamp())}"


# --- lines ----------------------------------------------------------------------------------


async def line_for_call(session: AsyncSession, env: Env, raw: Any) -> ExternalLine | None:
    """LINE_NUMBER: trimmed, cut to 50 bytes, auto-created when unknown."""
    number = (opt_str(raw) or "").strip()
    if not number:
        return None
    number = number.encode()[:50].decode("utf-8", "ignore")
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


# --- register -------------------------------------------------------------------------------


async def register(session: AsyncSession, env: Env, p: Any) -> dict[str, Any]:
    user_id = await resolve_user(session, env, p.USER_ID, p.USER_PHONE_INNER)
    incoming = call_type(p.TYPE)
    if incoming is None:
        raise env.errors(texts.UNKNOWN_TYPE)
    start = start_date(p.CALL_START_DATE, env.tz, env.now)
    if start is None:
        raise env.errors(texts.BAD_START_DATE)
    caller_id = phones.strip_to_dialable(opt_str(p.PHONE_NUMBER) or "")
    if not php_truthy(caller_id):
        raise env.errors(texts.BAD_PHONE)
    await active_user(session, env, user_id)
    await repo.serialize_registration(session, env.owner, user_id, caller_id, incoming)
    line = await line_for_call(session, env, p.LINE_NUMBER)
    internal = (
        await users_repo.active_user_by_inner(session, caller_id) if caller_id.isdigit() else None
    )
    external_call_id = opt_str(p.EXTERNAL_CALL_ID) or None
    show = True if p.SHOW is None else php_truthy(p.SHOW)
    # the dedup window counts from the call start, which the client may backdate
    existing = await repo.dedup_candidate(
        session,
        owner=env.owner,
        user_id=user_id,
        caller_id=caller_id,
        incoming=incoming,
        since=env.now - DEDUP_WINDOW,
        line_id=line.id if line else None,
        external_call_id=external_call_id,
    )
    if existing is not None:
        if show:
            await repo.set_card(session, existing.call_id, [user_id], "shown", env.now)
        return register_result(existing)
    call = Call(
        call_id=new_call_id(env, user_id, caller_id),
        external_call_id=external_call_id,
        owner=env.owner,
        rest_app_id=env.caller.app_id,
        user_id=user_id,
        portal_user_id=internal.id if internal else None,
        incoming=incoming,
        caller_id=caller_id,
        date_create=start,
        external_line_id=line.id if line else None,
        portal_number=line.number if line else f"REST_APP:{env.caller.app_id or ''}",
        crm_bindings=[],
        crm_created_entities=[],
        created_at=env.now,
    )
    await repo.add(session, call)
    await _match_crm(session, env, call, p)
    lead_error = None
    if php_truthy(p.CRM_CREATE) and internal is None:
        lead_error = await _create_lead(session, env, call, line, p.CRM_SOURCE, user_id)
    if show:
        await repo.set_card(session, call.call_id, [user_id], "shown", env.now)
    await session.flush()
    result = register_result(call)
    if lead_error is not None:
        result["LEAD_CREATION_ERROR"] = lead_error
    return result


def register_result(call: Call) -> dict[str, Any]:
    """The types of behavior.md §3.1 step 18 — also on a dedup hit."""
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


async def _match_crm(session: AsyncSession, env: Env, call: Call, p: Any) -> None:
    explicit_type = opt_str(p.CRM_ENTITY_TYPE)
    explicit_id = php_int(p.CRM_ENTITY_ID) if p.CRM_ENTITY_ID is not None else None
    if explicit_type and explicit_id is not None:
        # taken as given, without validation (behavior.md §3.1 step 13)
        call.crm_entity_type, call.crm_entity_id = explicit_type.upper(), explicit_id
        entities = [(explicit_type.upper(), explicit_id)]
    else:
        matches = await crm.find_by_phone(session, call.caller_id, env.region)
        entities = [(m.entity_type, m.entity_id) for m in matches]
        if entities:
            call.crm_entity_type, call.crm_entity_id = entities[0]
    call.crm_bindings = await bindings_for(session, entities)


async def bindings_for(session: AsyncSession, entities: list[tuple[str, int]]) -> list[list[int]]:
    """Activity bindings: the entities, plus the open deals of a contact or company."""
    out: list[list[int]] = []
    for entity_type, entity_id in entities:
        type_id = TYPE_IDS.get(entity_type)
        if type_id is None:
            continue
        out.append([type_id, entity_id])
        column = {"CONTACT": Deal.contact_id, "COMPANY": Deal.company_id}.get(entity_type)
        if column is not None:
            stmt = select(Deal.id).where(column == entity_id, Deal.closed == "N").order_by(Deal.id)
            out += [[2, d] for d in (await session.execute(stmt)).scalars()]
    unique: list[list[int]] = []
    for pair in out:
        if pair not in unique:
            unique.append(pair)
    return unique


async def _create_lead(
    session: AsyncSession,
    env: Env,
    call: Call,
    line: ExternalLine | None,
    source: Any,
    user_id: int,
) -> str | None:
    """Lead auto-creation (behavior.md §3.1 step 14); returns LEAD_CREATION_ERROR."""
    if call.crm_entity_type == "LEAD":
        return None
    if call.crm_entity_type in ("CONTACT", "COMPANY"):
        return ""  # CRM registers nothing for a known client (behavior.md §1 item 5)
    if await _belongs_to_user(session, call.caller_id, env.region):
        return "Lead creation is disabled for local users"
    kind = {"2": "Incoming call", "3": "Incoming call", "4": "Callback"}.get(
        call.incoming, "Outgoing call"
    )
    source_id = (opt_str(source) or "").upper()
    if not source_id or await crm_repo.status(session, "SOURCE", source_id) is None:
        source_id = "CALL"
    fields: dict[str, Any] = {
        "TITLE": f"{phones.formatted(call.caller_id, env.region)} - {kind}",
        "PHONE": [{"VALUE": call.caller_id, "VALUE_TYPE": "WORK"}],
        "SOURCE_ID": source_id,
        "ASSIGNED_BY_ID": user_id,
    }
    if line is not None:
        fields["SOURCE_DESCRIPTION"] = f"Call routed to: {line.normalized_number}."
    lead_id = await crm.add(
        session, LEAD, fields, None, crm.Env(user_id, env.now, env.tz, env.region)
    )
    call.crm_created_lead = lead_id
    call.crm_created_entities = [{"ENTITY_TYPE": "LEAD", "ENTITY_ID": lead_id}]
    if not call.crm_entity_type:
        call.crm_entity_type, call.crm_entity_id = "LEAD", lead_id
    call.crm_bindings = (call.crm_bindings or []) + [[1, lead_id]]
    return None


async def _belongs_to_user(session: AsyncSession, number: str, region: str) -> bool:
    key = phones.normalize(number, region)
    for user in await users_repo.list_users(session):
        if not user.active:
            continue
        for phone in (
            user.uf_phone_inner,
            user.work_phone,
            user.personal_mobile,
            user.personal_phone,
        ):
            if phone and (phone == number or phones.normalize(phone, region) == key):
                return True
    return False


# --- show / hide ----------------------------------------------------------------------------


def user_list(raw: Any) -> list[int]:
    if isinstance(raw, list | dict):
        values = raw.values() if isinstance(raw, dict) else raw
        return [php_int(v) for v in values if php_int(v) > 0]
    return [php_int(raw)] if php_int(raw) > 0 else []


async def set_card(session: AsyncSession, env: Env, call_id: Any, users: Any, state: str) -> bool:
    call = await repo.open_call(session, opt_str(call_id) or "")
    if call is None:
        return False
    await repo.set_card(session, call.call_id, user_list(users) or [call.user_id], state, env.now)
    return True


# --- finish ---------------------------------------------------------------------------------


def _money(raw: Any) -> Decimal:
    value = opt_float(raw)
    try:
        return Decimal(str(value)) if value is not None else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


async def finish(session: AsyncSession, env: Env, p: Any) -> tuple[dict[str, Any], Statistic]:
    user_id = await resolve_user(session, env, p.USER_ID, p.USER_PHONE_INNER)
    if not isinstance(p.CALL_ID, str):
        raise env.errors.call_id_type()
    duration = php_int(p.DURATION)
    status_code = opt_str(p.STATUS_CODE) or ""
    record_url = opt_str(p.RECORD_URL) or ""
    failed_code = status_code if php_truthy(status_code) else ("200" if duration > 0 else "304")
    reason, currency = opt_str(p.FAILED_REASON) or "", opt_str(p.COST_CURRENCY) or ""
    call = await repo.open_call(session, p.CALL_ID, lock=True)
    # unlike the reference, one application cannot finish another's call
    if call is None or call.owner != env.owner:
        raise env.errors(texts.CALL_NOT_FOUND)
    await active_user(session, env, user_id)
    # every check before any write: a failure here changes nothing (behavior.md §1 item 7)
    problems = [
        texts.too_long(title, limit)[len("Unexpected database error; ") :]
        for value, title, limit in (
            (failed_code, "Code", 255),
            (reason, "Code description", 255),
            (currency, "Currency", 50),
            (record_url, "Voximplant recording link", 2000),
        )
        if len(value) > limit
    ]
    if problems:
        raise env.errors("Unexpected database error; " + "; ".join(problems))
    await repo.set_card(session, call.call_id, [user_id], "hidden", env.now)
    stat = Statistic(
        call_id=call.call_id,
        external_call_id=call.external_call_id,
        owner=call.owner,
        portal_user_id=user_id,
        portal_number=call.portal_number,
        phone_number=call.caller_id,
        incoming=call.incoming,
        call_duration=duration,
        call_start_date=call.date_create,
        call_status=1 if duration > 0 else 0,
        call_vote=php_int(p.VOTE),
        cost=_money(p.COST),
        cost_currency=currency,
        call_failed_code=failed_code,
        call_failed_reason=reason,
        rest_app_id=call.rest_app_id,
        comment=call.comment,
        call_record_url=record_url or None,
        crm_entity_type=call.crm_entity_type,
        crm_entity_id=call.crm_entity_id,
        record_fetch_status="pending" if record_url else None,
    )
    app = await users_repo.get_app(session, call.rest_app_id) if call.rest_app_id else None
    stat.rest_app_name = app.name if app is not None else None
    await _reassign_created(session, env, call, user_id)
    activity_error = None
    try:
        stat.crm_activity_id = await _call_activity(session, env, call, stat, user_id)
    except NoCrmEntity as exc:
        activity_error = str(exc)
    await repo.add(session, stat)
    await _missed_calls(session, call, stat)
    call.finished_at = env.now
    await session.flush()
    return finish_result(env, stat, app, record_url, activity_error), stat


def finish_result(
    env: Env, stat: Statistic, app: App | None, record_url: str, activity_error: str | None
) -> dict[str, Any]:
    """The statistic record in insertion order (behavior.md §3.2 step 20); unlike the
    reference, CALL_START_DATE is an ISO-8601 string, not ``{}``."""
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
        "REST_APP_NAME": app.name if app is not None else False,
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


async def _reassign_created(session: AsyncSession, env: Env, call: Call, user_id: int) -> None:
    """Entities created for this call become the finishing user's (step 9)."""
    for created in call.crm_created_entities or []:
        entity = ENTITIES.get(created["ENTITY_TYPE"])
        obj = await crm_repo.get(session, entity, int(created["ENTITY_ID"])) if entity else None
        if obj is not None:
            obj.assigned_by_id, obj.modify_by_id, obj.date_modify = user_id, user_id, env.now


class NoCrmEntity(Exception):
    pass


async def _call_activity(
    session: AsyncSession, env: Env, call: Call, stat: Statistic, user_id: int
) -> int:
    bindings = [tuple(b) for b in call.crm_bindings or []]
    if not bindings:
        matches = await crm.find_by_phone(session, call.caller_id, env.region)
        bindings = [
            tuple(b)
            for b in await bindings_for(session, [(m.entity_type, m.entity_id) for m in matches])
        ]
    if not bindings and stat.crm_entity_type in TYPE_IDS and stat.crm_entity_id:
        bindings = [(TYPE_IDS[stat.crm_entity_type], stat.crm_entity_id)]
    if not bindings:
        raise NoCrmEntity("Could not find associated crm entity for the current call")
    kind, code = call.incoming, stat.call_failed_code
    number = phones.formatted(call.caller_id, env.region)
    subject = {
        "1": f"Outgoing to {number}",
        "2": f"Incoming from {number}",
        "3": f"Incoming from {number}",
        "4": f"Callback to {number}",
    }.get(kind, "Phone call")
    primary = (TYPE_IDS.get(call.crm_entity_type or ""), call.crm_entity_id)
    spec = activity_service.CallActivity(
        call_id=call.call_id,
        subject=subject,
        direction=1 if kind in INCOMING_TYPES else 2,
        start=call.date_create,
        end=_after(call.date_create, stat.call_duration),
        completed=not (kind in ("2", "4") and code == "304"),
        responsible_id=user_id,
        bindings=bindings,
        phone=call.caller_id,
        comm_entity=primary if primary[0] and primary[1] else bindings[0],
        description=await _description(session, call, stat.call_duration),
        settings={"MISSED_CALL": True} if kind in ("2", "4") and code == "304" else {},
        # the reference checks an int against a string here and never says CALLBACK
        provider_type_id="CALLBACK" if kind == "4" else "CALL",
        result_stream={"1": 2, "2": 1, "3": 1, "4": 3}.get(kind, 0) if code == "200" else 4,
        result_mark=2 if (stat.call_vote or 0) > 3 else (1 if (stat.call_vote or 0) >= 1 else 0),
    )
    return await activity_service.create_call_activity(session, spec, env.now)


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
    if stat.call_failed_code == "304" and call.incoming in INCOMING_TYPES:
        session.add(
            MissedCall(
                id=stat.id,
                call_start_date=stat.call_start_date,
                phone_number=stat.phone_number,
                portal_user_id=stat.portal_user_id,
            )
        )
    elif stat.call_failed_code == "200" and call.incoming == "1":
        await repo.link_missed_callbacks(session, stat.phone_number, stat.id, stat.call_start_date)


# --- searchCrmEntities ----------------------------------------------------------------------


async def search(session: AsyncSession, env: Env, raw: Any) -> list[dict[str, Any]]:
    number = opt_str(raw) or ""
    if not number:
        raise env.errors(texts.PHONE_EMPTY)
    out = []
    for match in await crm.search_phone(session, number, env.region):
        user = (
            await users_repo.get_user(session, match.assigned_by_id)
            if match.assigned_by_id
            else None
        )
        out.append(
            {
                "CRM_ENTITY_TYPE": match.entity_type,
                "CRM_ENTITY_ID": match.entity_id,
                "ASSIGNED_BY_ID": match.assigned_by_id,
                "NAME": match.name,
                "ASSIGNED_BY": {
                    "ID": str(match.assigned_by_id) if match.assigned_by_id else None,
                    # no time tracking module here (behavior.md §3.6)
                    "TIMEMAN_STATUS": "NOT_INSTALLED",
                    "USER_PHONE_INNER": user.uf_phone_inner if user else None,
                    "WORK_PHONE": (user.work_phone or None) if user else None,
                    "PERSONAL_PHONE": (user.personal_phone or None) if user else None,
                    "PERSONAL_MOBILE": (user.personal_mobile or None) if user else None,
                },
            }
        )
    return out
