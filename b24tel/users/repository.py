"""Queries on users, webhooks, applications and tokens."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel.db.cache import cached
from b24tel.db.hot import Query, Tx, as_tx, scalar
from b24tel.db.listen import notify
from b24tel.identity import AUTH_CHANNEL
from b24tel.users.models import App, OAuthCode, OAuthToken, User, Webhook


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


# the register and finish paths (b24tel.db.hot): a yes/no and an id, no ORM object
_IS_ACTIVE = Query(select(User.active).where(User.id == bindparam("id")))
_ACTIVE_BY_INNER = Query(
    select(User.id)
    .where(User.uf_phone_inner == bindparam("inner"), User.active.is_(True))
    .order_by(User.id)
    .limit(1)
)


async def is_active(tx: Tx, user_id: int) -> bool:
    """Whether ``user_id`` is an existing, active user (reads committed rows and this
    unit of work's flushed ones; a hot unit's from this process's copy, b24tel.db.cache)."""

    async def load() -> bool:
        return bool(await scalar(tx, _IS_ACTIVE, id=user_id))

    return await cached(tx, "users", ("active", user_id), load)


async def active_id_by_inner(tx: Tx, inner: str) -> int | None:
    async def load() -> int | None:
        found = await scalar(tx, _ACTIVE_BY_INNER, inner=inner)
        return int(found) if found is not None else None

    # most numbers calling in are no one's inner number: that answer is kept too
    return await cached(tx, "users", ("inner", inner), load, keep_none=True)


async def active_user_by_inner(session: AsyncSession, inner: str) -> User | None:
    found = await active_id_by_inner(await as_tx(session), inner)
    return await session.get(User, found) if found is not None else None


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    stmt = select(User).where(func.lower(User.email) == email.lower()).order_by(User.id).limit(1)
    return (await session.execute(stmt)).scalar_one_or_none()


async def count_active_admins(session: AsyncSession) -> int:
    stmt = select(func.count()).select_from(User).where(User.active.is_(True), User.admin.is_(True))
    return int(await session.scalar(stmt) or 0)


async def credentials_changed(session: AsyncSession) -> None:
    """Every instance drops the credentials it has resolved (rest/authcache)."""
    await notify(session, AUTH_CHANNEL)


async def list_users(session: AsyncSession) -> Sequence[User]:
    return (await session.execute(select(User).order_by(User.id))).scalars().all()


async def add(session: AsyncSession, obj: object) -> None:
    session.add(obj)
    await session.flush()


async def webhook_by_hash(session: AsyncSession, code_hash: str) -> Webhook | None:
    stmt = select(Webhook).where(Webhook.code_hash == code_hash)
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_webhooks(session: AsyncSession) -> Sequence[Webhook]:
    return (await session.execute(select(Webhook).order_by(Webhook.id))).scalars().all()


async def revoke_webhook(session: AsyncSession, webhook_id: int, now: dt.datetime) -> bool:
    result = await session.execute(
        update(Webhook)
        .where(Webhook.id == webhook_id, Webhook.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    revoked = bool(getattr(result, "rowcount", 0))  # a CursorResult for UPDATE
    if revoked:
        await notify(session, AUTH_CHANNEL)
    return revoked


async def get_app(session: AsyncSession, app_id: int) -> App | None:
    return await session.get(App, app_id)


async def app_by_client_id(session: AsyncSession, client_id: str) -> App | None:
    stmt = select(App).where(App.client_id == client_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_apps(session: AsyncSession) -> Sequence[App]:
    return (await session.execute(select(App).order_by(App.id))).scalars().all()


async def token_by_access(session: AsyncSession, access_hash: str) -> OAuthToken | None:
    stmt = select(OAuthToken).where(OAuthToken.access_hash == access_hash)
    return (await session.execute(stmt)).scalar_one_or_none()


async def token_by_refresh(session: AsyncSession, refresh_hash: str) -> OAuthToken | None:
    stmt = select(OAuthToken).where(OAuthToken.refresh_hash == refresh_hash)
    return (await session.execute(stmt)).scalar_one_or_none()


async def code_by_hash(session: AsyncSession, code_hash: str) -> OAuthCode | None:
    stmt = select(OAuthCode).where(OAuthCode.code_hash == code_hash)
    return (await session.execute(stmt)).scalar_one_or_none()


async def newest_token(
    session: AsyncSession, app_id: int, user_id: int, now: dt.datetime
) -> OAuthToken | None:
    """An application's newest token for a user that still works, if its app does."""
    app = await session.get(App, app_id)
    if app is None or app.revoked_at is not None:
        return None
    return await session.scalar(
        select(OAuthToken)
        .where(
            OAuthToken.app_id == app_id, OAuthToken.user_id == user_id,
            OAuthToken.revoked_at.is_(None), OAuthToken.refresh_expires_at > now,
        )
        .order_by(OAuthToken.id.desc())
        .limit(1)
    )  # fmt: skip
