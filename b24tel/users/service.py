"""Rules for identities: users with their extensions, and incoming webhooks
(docs/reference/users.md)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from b24tel import errors
from b24tel.identity import Caller
from b24tel.users import repository as repo
from b24tel.users.lookup import inner_digits
from b24tel.users.models import User, Webhook

EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


# --- users ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class UserFields:
    """What may be set on a user; None leaves a field as it is (docs/reference/users.md,
    "user.add and user.update")."""

    name: str | None = None
    last_name: str | None = None
    second_name: str | None = None
    email: str | None = None
    inner_number: str | None = None
    work_phone: str | None = None
    personal_mobile: str | None = None
    personal_phone: str | None = None
    work_position: str | None = None
    personal_gender: str | None = None
    active: bool | None = None
    admin: bool | None = None

    def texts(self) -> dict[str, str]:
        """The text columns this sets (the extension is checked on its own)."""
        names = ("name", "last_name", "second_name", "email", "work_phone", "personal_mobile",
                 "personal_phone", "work_position", "personal_gender")  # fmt: skip
        return {n: v.strip() for n in names if (v := getattr(self, n)) is not None}


def _full_name(user: User) -> str:
    return " ".join(p for p in (user.name, user.last_name) if p)


async def _apply(session: AsyncSession, user: User, fields: UserFields) -> None:
    """Checks every rule against the user as it would be, then sets the fields: a refused
    change leaves the user as it was."""
    texts = fields.texts()
    if texts.get("personal_gender", "") not in ("", "M", "F"):
        raise ValueError("PERSONAL_GENDER is M, F or empty")
    for column, value in texts.items():
        limit = getattr(User.__table__.c[column].type, "length", None)
        if limit and len(value) > limit:
            raise ValueError(f"{column.upper()} is longer than {limit} characters")
    email = texts.get("email")
    if email:
        if not EMAIL.fullmatch(email):
            raise ValueError(f"not a valid e-mail address: {email!r}")
        other = await repo.user_by_email(session, email)
        if other is not None and other.id != user.id:
            raise ValueError(f"user {other.id} already has the e-mail address {email}")
    digits = user.uf_phone_inner
    if fields.inner_number is not None:
        digits = inner_digits(fields.inner_number)
        if fields.inner_number.strip() and digits is None:
            raise ValueError(f"an inner number needs digits: {fields.inner_number!r}")
        if digits and len(digits) > 20:
            raise ValueError("an inner number has at most 20 digits")
    active = user.active if fields.active is None else fields.active
    if digits and active:
        # clients map an extension to one user (`user.get FILTER[UF_PHONE_INNER]`)
        holder = await repo.active_user_by_inner(session, digits)
        if holder is not None and holder.id != user.id:
            raise ValueError(
                f"inner number {digits} already belongs to active user {holder.id} "
                f"({_full_name(holder)})"
            )
    admin = user.admin if fields.admin is None else fields.admin
    demoted = user.id is not None and user.admin and user.active and not (admin and active)
    if demoted and await repo.count_active_admins(session) <= 1:
        raise ValueError(f"user {user.id} is the only active administrator")
    for column, value in texts.items():
        setattr(user, column, value)
    user.uf_phone_inner = digits
    user.active = active
    user.admin = admin


async def create_user(
    session: AsyncSession,
    now: dt.datetime,
    *,
    name: str = "",
    last_name: str = "",
    email: str = "",
    inner_number: str | None = None,
    admin: bool = False,
    work_phone: str = "",
    personal_mobile: str = "",
    active: bool = True,
) -> User:
    """A user; refuses an invalid or taken e-mail and an extension another active user has."""
    fields = UserFields(name=name, last_name=last_name, email=email,
                        inner_number=inner_number, admin=admin, work_phone=work_phone,
                        personal_mobile=personal_mobile, active=active)  # fmt: skip
    return await add_user(session, now, fields)


async def add_user(session: AsyncSession, now: dt.datetime, fields: UserFields) -> User:
    """A user with these fields (the rest empty), checked as ``update_user`` checks."""
    user = User(name="", last_name="", second_name="", email="", work_phone="",
                personal_mobile="", personal_phone="", work_position="", personal_gender="",
                active=True, admin=False, uf_phone_inner=None, date_register=now)  # fmt: skip
    await _apply(session, user, fields)
    await repo.add(session, user)
    return user


async def update_user(session: AsyncSession, user_id: int, fields: UserFields) -> User:
    """Changes a user. A deactivated user keeps their calls and recordings but can no longer
    sign in, call methods through their webhooks and tokens, or take new calls; their
    extension is free for someone else."""
    user = await repo.get_user(session, user_id)
    if user is None:
        raise LookupError(f"user {user_id} does not exist")
    was_active = user.active
    await _apply(session, user, fields)
    await session.flush()
    if was_active and not user.active:
        # every instance forgets the credentials it resolved for them
        await repo.credentials_changed(session)
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


# --- the same caller again ------------------------------------------------------------------


class NoCaller(Exception):
    """The caller of a journaled request cannot act now; the message says why."""


async def caller_of(
    session: AsyncSession, now: dt.datetime, caller: str, user_id: int | None
) -> Caller:
    """The current credentials of a journal entry's caller (``webhook:ID`` or ``app:ID``
    with its user): the webhook as it is now, or the application's newest valid token for
    that user. Secrets are never needed: they were never kept."""
    kind, _, number = caller.partition(":")
    ident = int(number) if number.isascii() and number.isdigit() else 0
    if kind == "webhook":
        hook = await session.get(Webhook, ident)
        if (
            hook is None
            or hook.revoked_at is not None
            or (hook.expires_at is not None and hook.expires_at <= now)
        ):
            raise NoCaller(f"webhook {ident} is revoked or expired")
        await _active(session, hook.user_id)
        return Caller(user_id=hook.user_id, kind="webhook", webhook_id=hook.id,
                      scopes=frozenset(s for s in hook.scopes.split(",") if s))  # fmt: skip
    if kind == "app":
        token = await repo.newest_token(session, ident, user_id or 0, now)
        if token is None:
            raise NoCaller(
                f"application {ident} has no valid token for user {user_id}: install it again"
            )
        await _active(session, token.user_id)
        return Caller(user_id=token.user_id, kind="oauth", app_id=ident, token_id=token.id,
                      scopes=frozenset(s for s in token.scopes.split(",") if s),
                      expires_at=token.access_expires_at.timestamp())  # fmt: skip
    raise NoCaller(f"requests of {caller or 'an unknown caller'} are not replayed")


async def _active(session: AsyncSession, user_id: int) -> None:
    user = await repo.get_user(session, user_id)
    if user is None or not user.active:
        raise NoCaller(f"user {user_id} is not active")
