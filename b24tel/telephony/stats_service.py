"""voximplant.statistic.get (behavior.md §3.9) and telephony.call.attachTranscription
(§3.7)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel.db.filters import FieldDef, build_where, page, split_key
from b24tel.rest.envelope import ListResult, iso
from b24tel.rest.params import as_dict, opt_float, opt_str, php_int, php_truthy
from b24tel.telephony import errors as texts
from b24tel.telephony import repository as repo
from b24tel.telephony.models import Statistic, Transcript, TranscriptLine
from b24tel.telephony.service import Env

S = Statistic
FIELDS: dict[str, FieldDef] = {
    "ID": FieldDef(S.id, "int"),
    "CALL_ID": FieldDef(S.call_id),
    "EXTERNAL_CALL_ID": FieldDef(S.external_call_id),
    "CALL_CATEGORY": FieldDef(S.call_category),
    "PORTAL_USER_ID": FieldDef(S.portal_user_id, "int"),
    "PORTAL_NUMBER": FieldDef(S.portal_number),
    "PHONE_NUMBER": FieldDef(S.phone_number),
    "INCOMING": FieldDef(S.incoming),
    "CALL_DURATION": FieldDef(S.call_duration, "int"),
    "CALL_START_DATE": FieldDef(S.call_start_date, "datetime"),
    "CALL_RECORD_URL": FieldDef(S.call_record_url),
    "CALL_VOTE": FieldDef(S.call_vote, "int"),
    "COST": FieldDef(S.cost, "float"),
    "COST_CURRENCY": FieldDef(S.cost_currency),
    "CALL_FAILED_CODE": FieldDef(S.call_failed_code),
    "CALL_FAILED_REASON": FieldDef(S.call_failed_reason),
    "CRM_ENTITY_TYPE": FieldDef(S.crm_entity_type),
    "CRM_ENTITY_ID": FieldDef(S.crm_entity_id, "int"),
    "CRM_ACTIVITY_ID": FieldDef(S.crm_activity_id, "int"),
    "REST_APP_ID": FieldDef(S.rest_app_id, "int"),
    "REST_APP_NAME": FieldDef(S.rest_app_name),
    "TRANSCRIPT_ID": FieldDef(S.transcript_id, "int"),
    "TRANSCRIPT_PENDING": FieldDef(S.transcript_pending),
    "COMMENT": FieldDef(S.comment),
    "CALL_WEBDAV_ID": FieldDef(S.record_file_id, "int"),
    "RECORD_FILE_ID": FieldDef(S.record_file_id, "int"),
}
# operators the reference accepts; others are dropped (behavior.md §3.9 step 4)
ALLOWED_OPS = {"", "=", "!", "!=", "<", "<=", ">", ">=", "><", "!><", "?", "%", "!%"}


def statistic_filter(raw: Any) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for key, value in (as_dict(raw) or {}).items():
        op, name = split_key(str(key).upper())
        name = "INCOMING" if name == "CALL_TYPE" else name
        if op not in ALLOWED_OPS or name not in FIELDS:
            continue
        if isinstance(value, dict | list) and not value:
            continue  # an empty array drops the key
        cleaned[op + name] = value
    return cleaned


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def row(stat: Statistic, env: Env) -> dict[str, Any]:
    """All values strings or null, RECORD_FILE_ID an int, CALL_TYPE last (§3.9 step 7);
    RECORD_FETCH_STATUS/ERROR are b24tel's (finish's background RECORD_URL)."""
    return {
        "ID": str(stat.id),
        "PORTAL_USER_ID": _str(stat.portal_user_id),
        "PORTAL_NUMBER": stat.portal_number,
        "PHONE_NUMBER": stat.phone_number,
        "CALL_ID": stat.call_id,
        "EXTERNAL_CALL_ID": stat.external_call_id,
        "CALL_CATEGORY": stat.call_category,
        "CALL_LOG": stat.call_log,
        "CALL_DURATION": str(stat.call_duration),
        "CALL_START_DATE": iso(stat.call_start_date, env.tz),
        "CALL_RECORD_URL": stat.call_record_url,
        "CALL_VOTE": _str(stat.call_vote),
        "COST": f"{Decimal(stat.cost or 0):.4f}",
        "COST_CURRENCY": stat.cost_currency,
        "CALL_FAILED_CODE": stat.call_failed_code,
        "CALL_FAILED_REASON": stat.call_failed_reason,
        "CRM_ENTITY_TYPE": stat.crm_entity_type,
        "CRM_ENTITY_ID": _str(stat.crm_entity_id),
        "CRM_ACTIVITY_ID": _str(stat.crm_activity_id),
        "REST_APP_ID": _str(stat.rest_app_id),
        "REST_APP_NAME": stat.rest_app_name,
        "TRANSCRIPT_ID": _str(stat.transcript_id),
        "TRANSCRIPT_PENDING": stat.transcript_pending,
        "SESSION_ID": None,
        "REDIAL_ATTEMPT": None,
        "COMMENT": stat.comment,
        "RECORD_DURATION": None,
        "RECORD_FILE_ID": stat.record_file_id,
        "CALL_TYPE": stat.incoming,
        "RECORD_FETCH_STATUS": stat.record_fetch_status,
        "RECORD_FETCH_ERROR": stat.record_fetch_error,
    }


async def statistic_get(session: AsyncSession, env: Env, p: Any, start: int) -> ListResult:
    stmt = select(Statistic)
    for cond in build_where(statistic_filter(p.FILTER), FIELDS, env.tz):
        stmt = stmt.where(cond)
    sort = p.SORT.strip() if isinstance(p.SORT, str) else None
    order = p.ORDER.strip() if isinstance(p.ORDER, str) else None
    # both must be valid, exact case; CALL_TYPE cannot be sorted on (§3.9 step 3)
    if (
        sort in FIELDS
        and sort not in ("CALL_WEBDAV_ID", "RECORD_FILE_ID")
        and order in ("ASC", "DESC")
    ):
        column = FIELDS[sort].column
        stmt = stmt.order_by(column.desc() if order == "DESC" else column.asc())
    stmt = stmt.order_by(Statistic.id.asc())
    return await page(
        session, stmt, start, key_column=Statistic.id, convert=lambda r: row(r[0], env)
    )


# --- transcripts ----------------------------------------------------------------------------


def _messages(env: Env, raw: Any) -> list[dict[str, Any]]:
    items = raw.items() if isinstance(raw, dict) else enumerate(raw)
    out = []
    for key, message in items:
        prefix = f"MESSAGES[{key}]"
        if not isinstance(message, dict):
            # the reference crashes with a bare 500 here; we say what is wrong
            raise env.errors(f"{prefix} should be an array")
        if message.get("SIDE") not in ("Client", "User"):
            raise env.errors(f"{prefix}[SIDE] should be either Client or User")
        start, stop = php_int(message.get("START_TIME")), php_int(message.get("STOP_TIME"))
        if start < 0:
            raise env.errors(f"{prefix}[START_TIME] should be greater or equal to zero")
        if stop <= 0:
            raise env.errors(f"{prefix}[STOP_TIME] should be greater than zero")
        text = message.get("MESSAGE")
        if text is None or text == "" or text is False:
            raise env.errors(f"{prefix}[MESSAGE] is empty")
        out.append(
            {
                "side": message["SIDE"],
                "start_time": start,
                "stop_time": stop,
                "message": opt_str(text) or "",
            }
        )
    return out


async def attach_transcription(session: AsyncSession, env: Env, p: Any) -> dict[str, int]:
    if p.CALL_ID is None:
        raise env.errors(texts.CALL_ID_NOT_SET)
    if not isinstance(p.MESSAGES, list | dict):
        raise env.errors(texts.MESSAGES_NOT_ARRAY)
    messages = _messages(env, p.MESSAGES)
    call_id = opt_str(p.CALL_ID) or ""
    stat = await repo.statistic(session, call_id)
    if stat is None:
        raise env.errors(texts.transcript_call_not_found(call_id))
    cost = opt_float(p.COST) if php_truthy(p.COST) else None
    transcript = Transcript(
        call_id=call_id,
        created_at=env.now,
        cost=Decimal(str(cost)) if cost else None,
        cost_currency=opt_str(p.COST_CURRENCY) if cost else None,
    )
    await repo.add(session, transcript)
    for m in messages:
        session.add(TranscriptLine(transcript_id=transcript.id, **m))
    # a previous transcript stays, unlinked (behavior.md §3.7 step 5)
    stat.transcript_id, stat.transcript_pending = transcript.id, "N"
    await session.flush()
    return {"TRANSCRIPT_ID": transcript.id}
