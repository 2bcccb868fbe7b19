"""Local applications and their OAuth tokens and codes (docs/reference/users.md, "OAuth").
Secrets, tokens and codes are stored as hashes only; each refresh hands out a new pair."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel import errors
from b24tel.db.listen import notify
from b24tel.identity import AUTH_CHANNEL, Caller
from b24tel.users import errors as oauth_errors
from b24tel.users import repository as repo
from b24tel.users.models import App, OAuthCode, OAuthToken
from b24tel.users.service import hash_secret


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires: int
    expires_in: int
    scopes: str
    user_id: int
    app: App


def _client_id() -> str:
    return f"local.{secrets.token_hex(7)[:13]}.{secrets.randbelow(10**8):08d}"


async def create_app(
    session: AsyncSession,
    now: dt.datetime,
    *,
    name: str,
    scopes: frozenset[str],
    handler_url: str = "",
) -> tuple[App, str]:
    """A local application. With a handler URL it waits for an install (which sends it
    ONAPPINSTALL); without one there is nothing to install and it is installed at once."""
    secret = secrets.token_urlsafe(36)[:50]
    app = App(
        name=name,
        client_id=_client_id(),
        client_secret_hash=hash_secret(secret),
        scopes=",".join(sorted(scopes)),
        created_at=now,
        handler_url=handler_url,
        installed_at=None if handler_url else now,
    )
    await repo.add(session, app)
    return app, secret


async def issue_tokens(
    session: AsyncSession,
    now: dt.datetime,
    app: App,
    user_id: int,
    *,
    access_ttl: int,
    refresh_ttl: int,
) -> TokenPair:
    user = await repo.get_user(session, user_id)
    if user is None or not user.active:
        raise ValueError(f"user {user_id} does not exist or is not active")
    access, refresh = secrets.token_hex(35), secrets.token_hex(35)
    token = OAuthToken(
        app_id=app.id,
        user_id=user_id,
        access_hash=hash_secret(access),
        refresh_hash=hash_secret(refresh),
        scopes=app.scopes,
        access_expires_at=now + dt.timedelta(seconds=access_ttl),
        refresh_expires_at=now + dt.timedelta(seconds=refresh_ttl),
        created_at=now,
    )
    await repo.add(session, token)
    return TokenPair(
        access,
        refresh,
        int(token.access_expires_at.timestamp()),
        access_ttl,
        app.scopes,
        user_id,
        app,
    )


async def authenticate_token(session: AsyncSession, now: dt.datetime, access: str) -> Caller:
    token = await repo.token_by_access(session, hash_secret(access))
    if token is None or token.revoked_at is not None:
        raise errors.invalid_token()
    if token.access_expires_at <= now:
        raise errors.expired_token()
    app = await repo.get_app(session, token.app_id)
    user = await repo.get_user(session, token.user_id)
    if app is None or app.revoked_at is not None or user is None or not user.active:
        raise errors.invalid_token()
    return Caller(
        user_id=user.id,
        kind="oauth",
        scopes=frozenset(s for s in token.scopes.split(",") if s),
        app_id=app.id,
        token_id=token.id,
        auth_values=(access,),
        expires_at=token.access_expires_at.timestamp(),
    )


async def _client(session: AsyncSession, client_id: str, client_secret: str) -> App:
    app = await repo.app_by_client_id(session, client_id) if client_id else None
    if (
        app is None
        or app.revoked_at is not None
        or not secrets.compare_digest(app.client_secret_hash, hash_secret(client_secret))
    ):
        raise oauth_errors.invalid_client()
    return app


async def refresh_tokens(
    session: AsyncSession,
    now: dt.datetime,
    *,
    client_id: str,
    client_secret: str,
    refresh_token: str,
    access_ttl: int,
    refresh_ttl: int,
) -> TokenPair:
    app = await _client(session, client_id, client_secret)
    token = await repo.token_by_refresh(session, hash_secret(refresh_token))
    if (
        token is None
        or token.app_id != app.id
        or token.revoked_at is not None
        or token.refresh_expires_at <= now
    ):
        raise oauth_errors.invalid_refresh_token()
    # each refresh hands out a new pair; the old one (refresh included) stops working
    token.revoked_at = now
    await notify(session, AUTH_CHANNEL)
    return await issue_tokens(
        session, now, app, token.user_id, access_ttl=access_ttl, refresh_ttl=refresh_ttl
    )


async def issue_code(
    session: AsyncSession, now: dt.datetime, app: App, user_id: int, ttl: int
) -> str:
    code = secrets.token_hex(16)
    await repo.add(
        session,
        OAuthCode(
            app_id=app.id,
            user_id=user_id,
            code_hash=hash_secret(code),
            expires_at=now + dt.timedelta(seconds=ttl),
        ),
    )
    return code


async def exchange_code(
    session: AsyncSession,
    now: dt.datetime,
    *,
    client_id: str,
    client_secret: str,
    code: str,
    access_ttl: int,
    refresh_ttl: int,
) -> TokenPair:
    app = await _client(session, client_id, client_secret)
    row = await repo.code_by_hash(session, hash_secret(code))
    if row is None or row.app_id != app.id or row.used_at is not None or row.expires_at <= now:
        raise oauth_errors.invalid_code()
    row.used_at = now
    return await issue_tokens(
        session, now, app, row.user_id, access_ttl=access_ttl, refresh_ttl=refresh_ttl
    )


async def revoke_app_tokens(session: AsyncSession, app_id: int, now: dt.datetime) -> int:
    """Every token of an application stops working (an uninstall)."""
    result = await session.execute(
        update(OAuthToken)
        .where(OAuthToken.app_id == app_id, OAuthToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await notify(session, AUTH_CHANNEL)
    return int(getattr(result, "rowcount", 0) or 0)
