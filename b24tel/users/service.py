"""Rules for identities: creating users, webhooks, applications and tokens, and resolving
the caller of a request."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel import errors
from b24tel.db.filters import FieldDef, build_order, build_where, page
from b24tel.rest.context import Caller
from b24tel.rest.envelope import ListResult, iso
from b24tel.rest.registry import SCOPES
from b24tel.users import repository as repo
from b24tel.users.models import App, OAuthCode, OAuthToken, User, Webhook

ALL_SCOPES = tuple(s for s in SCOPES if s != "basic")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def parse_scopes(text: str) -> frozenset[str]:
    scopes = frozenset(s.strip() for s in re.split(r"[,\s]+", text or "") if s.strip())
    unknown = scopes - set(ALL_SCOPES)
    if unknown:
        raise ValueError(f"unknown scope(s): {', '.join(sorted(unknown))}")
    return scopes


def inner_digits(value: str | None) -> str | None:
    """Extensions are stored as digits only (behavior.md §2.7)."""
    if value is None:
        return None
    digits = re.sub(r"\D", "", value)
    return digits or None


# --- users ----------------------------------------------------------------------------------


async def create_user(
    session: AsyncSession,
    now: dt.datetime,
    *,
    name: str,
    last_name: str = "",
    email: str = "",
    inner_number: str | None = None,
    admin: bool = False,
    work_phone: str = "",
    personal_mobile: str = "",
    active: bool = True,
) -> User:
    """A user; refuses an invalid e-mail and an extension another active user has (clients
    map an extension to one user: `user.get FILTER[UF_PHONE_INNER]`)."""
    if email and not EMAIL.fullmatch(email):
        raise ValueError(f"not a valid e-mail address: {email!r}")
    digits = inner_digits(inner_number)
    if inner_number is not None and inner_number.strip() and digits is None:
        raise ValueError(f"an inner number needs digits: {inner_number!r}")
    if digits and active:
        holder = await repo.active_user_by_inner(session, digits)
        if holder is not None:
            raise ValueError(
                f"inner number {digits} already belongs to active user {holder.id} "
                f"({' '.join(p for p in (holder.name, holder.last_name) if p)})"
            )
    user = User(
        name=name,
        last_name=last_name,
        email=email,
        uf_phone_inner=digits,
        admin=admin,
        active=active,
        work_phone=work_phone,
        personal_mobile=personal_mobile,
        date_register=now,
    )
    await repo.add(session, user)
    return user


# --- webhooks -------------------------------------------------------------------------------


async def create_webhook(
    session: AsyncSession,
    now: dt.datetime,
    *,
    user_id: int,
    scopes: frozenset[str],
    code: str | None = None,
    title: str = "",
) -> tuple[Webhook, str]:
    if await repo.get_user(session, user_id) is None:
        raise ValueError(f"user {user_id} does not exist")
    code = code or secrets.token_hex(8)
    if not re.fullmatch(r"[A-Za-z0-9_-]{6,64}", code):
        raise ValueError("a webhook code is 6–64 letters, digits, '-' or '_'")
    if await repo.webhook_by_hash(session, hash_secret(code)) is not None:
        raise ValueError("a webhook with this code already exists")
    hook = Webhook(
        user_id=user_id,
        code_hash=hash_secret(code),
        scopes=",".join(sorted(scopes)),
        title=title,
        created_at=now,
    )
    await repo.add(session, hook)
    return hook, code


async def authenticate_webhook(
    session: AsyncSession, now: dt.datetime, user_part: str, code: str
) -> Caller:
    hook = await repo.webhook_by_hash(session, hash_secret(code))
    if (
        hook is None
        or str(hook.user_id) != user_part
        or hook.revoked_at is not None
        or (hook.expires_at is not None and hook.expires_at <= now)
    ):
        raise errors.invalid_credentials()
    user = await repo.get_user(session, hook.user_id)
    if user is None or not user.active:
        raise errors.invalid_credentials()
    return Caller(
        user_id=user.id,
        kind="webhook",
        scopes=frozenset(s for s in hook.scopes.split(",") if s),
        webhook_id=hook.id,
        auth_values=(user_part, code),
    )


# --- applications and OAuth -----------------------------------------------------------------


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
    session: AsyncSession, now: dt.datetime, *, name: str, scopes: frozenset[str]
) -> tuple[App, str]:
    secret = secrets.token_urlsafe(36)[:50]
    app = App(
        name=name,
        client_id=_client_id(),
        client_secret_hash=hash_secret(secret),
        scopes=",".join(sorted(scopes)),
        created_at=now,
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


class OAuthError(Exception):
    """An answer of the token endpoint (settings/oauth/error-codes.md)."""

    def __init__(self, code: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.code, self.description, self.status = code, description, status


async def _client(session: AsyncSession, client_id: str, client_secret: str) -> App:
    app = await repo.app_by_client_id(session, client_id) if client_id else None
    if (
        app is None
        or app.revoked_at is not None
        or not secrets.compare_digest(app.client_secret_hash, hash_secret(client_secret))
    ):
        raise OAuthError("invalid_client", "Invalid client credentials", 401)
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
        raise OAuthError("invalid_grant", "Invalid refresh token")
    # each refresh hands out a new pair; the old one (refresh included) stops working
    token.revoked_at = now
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
        raise OAuthError("invalid_grant", "Invalid authorization code")
    row.used_at = now
    return await issue_tokens(
        session, now, app, row.user_id, access_ttl=access_ttl, refresh_ttl=refresh_ttl
    )


# --- user.get -------------------------------------------------------------------------------

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
# contact data hidden from callers that only hold `user_brief` (api-reference/user/user-scope.md)
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
        # present on every user, null when unset (compat T7)
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
