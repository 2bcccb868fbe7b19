"""user.get (docs/reference/users.md, "user.get"): filters, order and paging over users,
and the fields each scope may see."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel.db.filters import FieldDef, build_order, build_where, page
from b24tel.paging import ListResult
from b24tel.rest.envelope import iso
from b24tel.users.models import User

USER_FIELDS: dict[str, FieldDef] = {
    "ID": FieldDef(User.id, "int"),
    "ACTIVE": FieldDef(User.active, "bool"),
    "NAME": FieldDef(User.name),
    "LAST_NAME": FieldDef(User.last_name),
    "SECOND_NAME": FieldDef(User.second_name),
    "EMAIL": FieldDef(User.email),
    "UF_PHONE_INNER": FieldDef(User.uf_phone_inner),
    "WORK_PHONE": FieldDef(User.work_phone),
    "PERSONAL_MOBILE": FieldDef(User.personal_mobile),
    "PERSONAL_PHONE": FieldDef(User.personal_phone),
    "WORK_POSITION": FieldDef(User.work_position),
    "PERSONAL_GENDER": FieldDef(User.personal_gender),
    "DATE_REGISTER": FieldDef(User.date_register, "datetime"),
}
# contact data hidden from callers that only hold `user_brief` (docs/reference/users.md, "user.get")
CONTACT_FIELDS = frozenset({"EMAIL", "WORK_PHONE", "PERSONAL_MOBILE", "PERSONAL_PHONE"})


def user_dict(user: User, tz: ZoneInfo, scopes: frozenset[str]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "ID": str(user.id),
        "ACTIVE": user.active,
        "NAME": user.name,
        "LAST_NAME": user.last_name,
        "SECOND_NAME": user.second_name,
        "EMAIL": user.email,
        "LAST_LOGIN": None,
        "DATE_REGISTER": iso(user.date_register, tz),
        "TIME_ZONE": user.time_zone,
        "IS_ONLINE": "N",
        "TIMESTAMP_X": iso(user.date_register, tz),
        "LAST_ACTIVITY_DATE": None,
        "PERSONAL_GENDER": user.personal_gender,
        "PERSONAL_WWW": "",
        "PERSONAL_BIRTHDAY": "",
        "PERSONAL_MOBILE": user.personal_mobile,
        "PERSONAL_PHONE": user.personal_phone,
        "PERSONAL_CITY": "",
        "WORK_PHONE": user.work_phone,
        "WORK_POSITION": user.work_position,
        "UF_EMPLOYMENT_DATE": "",
        "UF_DEPARTMENT": [1],
        # present on every user, null when unset (docs/reference/clients.md, "Answers")
        "UF_PHONE_INNER": user.uf_phone_inner,
        "USER_TYPE": "employee",
    }
    if not scopes & {"user", "user_basic"}:
        for name in CONTACT_FIELDS:
            row.pop(name, None)
    return row


def select_fields(row: dict[str, Any], select_: list[Any]) -> dict[str, Any]:
    wanted = {str(s).upper() for s in select_ if s not in (None, "")}
    if not wanted or "*" in wanted:
        return row
    # ID is always returned; unknown or forbidden names are skipped silently
    return {k: v for k, v in row.items() if k in wanted or k == "ID"}


async def search_users(
    session: AsyncSession,
    *,
    filters: dict[str, Any],
    order: dict[str, Any],
    start: int,
    tz: ZoneInfo,
    scopes: frozenset[str],
    select_: list[Any],
) -> ListResult:
    stmt = select(User)
    for cond in build_where(filters, USER_FIELDS, tz):
        stmt = stmt.where(cond)
    # ID last as a tie-breaker, so pages never repeat or skip rows
    stmt = stmt.order_by(*build_order(order, USER_FIELDS), User.id.asc())
    return await page(
        session,
        stmt,
        start,
        key_column=User.id,
        convert=lambda r: select_fields(user_dict(r[0], tz, scopes), select_),
    )
