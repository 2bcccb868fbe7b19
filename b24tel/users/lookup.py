"""What other features ask about users: the user behind an extension, whether a number is
an employee's, an application's name (docs/reference/telephony.md, "register")."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession

from b24tel import errors, phones
from b24tel.db.hot import Tx, as_tx
from b24tel.users import repository as repo
from b24tel.users.models import User


def inner_digits(value: str | None) -> str | None:
    """Extensions are kept as digits only: `1-0-1` is 101."""
    if value is None:
        return None
    digits = re.sub(r"[^0-9]", "", value)  # ASCII digits only: `١٠١` is no extension
    return digits or None


async def active_user(session: AsyncSession, user_id: int) -> User | None:
    user = await repo.get_user(session, user_id)
    return user if user is not None and user.active else None


async def is_active(where: AsyncSession | Tx, user_id: int) -> bool:
    return await repo.is_active(await as_tx(where), user_id)


async def active_by_inner(where: AsyncSession | Tx, digits: str) -> int | None:
    """The id of the active user with this extension (the lowest, should there be two)."""
    return await repo.active_id_by_inner(await as_tx(where), digits)


async def user(session: AsyncSession, user_id: int) -> User | None:
    return await repo.get_user(session, user_id)


async def employees_number(session: AsyncSession, number: str, region: str) -> bool:
    """Whether an active user has this number: extension, work, mobile or home phone, as
    written or normalised."""
    key = phones.normalize(number, region)
    for person in await repo.list_users(session):
        if not person.active:
            continue
        for phone in (
            person.uf_phone_inner,
            person.work_phone,
            person.personal_mobile,
            person.personal_phone,
        ):
            if phone and (phone == number or phones.normalize(phone, region) == key):
                return True
    return False


async def app_name(session: AsyncSession, app_id: int | None) -> str | None:
    app = await repo.get_app(session, app_id) if app_id else None
    return app.name if app is not None else None


async def require_admin(session: AsyncSession, user_id: int) -> User:
    """An active administrator, or 403 ACCESS_DENIED (the admin API, installs)."""
    found = await active_user(session, user_id)
    if found is None or not found.admin:
        raise errors.access_denied("An administrator's credentials are needed")
    return found
