"""voximplant.statistic.get (docs/reference/telephony.md, "statistic.get"): finished
calls as the reference lists them — every value a string or null."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel.db.filters import FieldDef, build_where, page, split_key
from b24tel.paging import ListResult
from b24tel.rest.envelope import iso
from b24tel.telephony.models import Statistic
from b24tel.telephony.rules import Env
from b24tel.telephony.schemas import StatisticParams

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
# operators the reference accepts; others are dropped
ALLOWED_OPS = {"", "=", "!", "!=", "<", "<=", ">", ">=", "><", "!><", "?", "%", "!%"}


def statistic_filter(given: dict[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for key, value in given.items():
        op, name = split_key(str(key).upper())
        name = "INCOMING" if name == "CALL_TYPE" else name
        if op not in ALLOWED_OPS or name not in FIELDS:
            continue
        if isinstance(value, dict | list) and not value:
            continue  # an empty array drops the key
        cleaned[op + name] = value
    return cleaned


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def row(stat: Statistic, env: Env) -> dict[str, Any]:
    """All values strings or null, RECORD_FILE_ID an int, CALL_TYPE last;
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


async def statistic_get(
    session: AsyncSession, env: Env, p: StatisticParams, start: int
) -> ListResult:
    stmt = select(Statistic)
    for cond in build_where(statistic_filter(p.filter), FIELDS, env.tz):
        stmt = stmt.where(cond)
    sort, order = p.sort, p.order
    # both must be valid, exact case; CALL_TYPE cannot be sorted on
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
