"""Passwords, one-time sign-in links and sessions of the web interface.

Secrets are random tokens; only their sha256 is stored. The session cookie carries the
token and an HMAC of it under the server secret (a forged or altered cookie is refused
before the database is asked). Every session has its own CSRF token that each form and
action sends back.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel.clock import Clock
from b24tel.db.engine import Database
from b24tel.identity import ALL_SCOPES, Caller, PageSession
from b24tel.users import lookup
from b24tel.users.models import User
from b24tel.web.models import LoginFailure, LoginLink, WebPassword, WebSession

COOKIE = "b24tel_session"
LINK_TTL = dt.timedelta(minutes=15)
SESSION_TTL = dt.timedelta(days=7)
# wrong passwords allowed per login name in FAILURE_WINDOW before sign-in is refused
MAX_FAILURES = 5
FAILURE_WINDOW = dt.timedelta(minutes=15)
MIN_PASSWORD = 8
# scrypt: 16 MiB of memory, ~50 ms per check
_N, _R, _P = 2**14, 8, 1


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    try:
        name, n, r, p, salt, digest = stored.split("$")
        if name != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=32,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


class SignInError(ValueError):
    """Why a sign-in failed, in words fit for the page."""


@dataclass(frozen=True)
class Issued:
    cookie: str
    user_id: int


class Sessions:
    """The ``SessionResolver`` the protocol layer asks, and the sign-in operations."""

    def __init__(self, db: Database, clock: Clock, secret: str = "") -> None:
        self.db, self.clock, self.secret = db, clock, secret

    # --- cookies ---------------------------------------------------------------------------

    def _mac(self, token: str) -> str:
        return hmac.new(self.secret.encode(), f"session|{token}".encode(), "sha256").hexdigest()

    def _cookie(self, token: str) -> str:
        return f"{token}.{self._mac(token)}"

    def _token(self, cookie: str | None) -> str | None:
        token, _, mac = (cookie or "").partition(".")
        if not token or not hmac.compare_digest(mac, self._mac(token)):
            return None
        return token

    async def resolve(self, cookie: str | None) -> PageSession | None:
        token = self._token(cookie)
        if token is None:
            return None
        now = self.clock.now()
        async with self.db.transaction(readonly=True) as s:
            row = (
                await s.execute(
                    select(WebSession, User)
                    .join(User, User.id == WebSession.user_id)
                    .where(WebSession.token_hash == _sha(token))
                )
            ).first()
        if row is None:
            return None
        session, user = row
        if session.revoked_at is not None or session.expires_at <= now or not user.active:
            return None
        caller = Caller(user.id, "session", frozenset(ALL_SCOPES))
        return PageSession(caller, session.csrf)

    # --- signing in and out ----------------------------------------------------------------

    async def _open(self, s: AsyncSession, user_id: int) -> Issued:
        token, now = secrets.token_urlsafe(32), self.clock.now()
        await _prune(s, now)
        s.add(
            WebSession(
                token_hash=_sha(token),
                user_id=user_id,
                csrf=secrets.token_urlsafe(24),
                created_at=now,
                expires_at=now + SESSION_TTL,
            )
        )
        return Issued(self._cookie(token), user_id)

    async def redeem_link(self, token: str) -> Issued:
        now = self.clock.now()
        async with self.db.transaction() as s:
            # one use: the update claims the link, a second use finds it used
            claimed = await s.execute(
                update(LoginLink)
                .where(
                    LoginLink.token_hash == _sha(token),
                    LoginLink.used_at.is_(None),
                    LoginLink.expires_at > now,
                )
                .values(used_at=now)
                .returning(LoginLink.user_id)
            )
            user_id = claimed.scalar_one_or_none()
            if user_id is None or await lookup.active_user(s, user_id) is None:
                raise SignInError("This sign-in link is invalid, used or expired.")
            return await self._open(s, user_id)

    async def sign_in(self, login: str, password: str) -> Issued:
        """By user ID or e-mail and password; refused for a while after MAX_FAILURES."""
        now, login = self.clock.now(), login.strip()[:255]
        async with self.db.transaction() as s:
            failures = await s.scalar(
                select(func.count())
                .select_from(LoginFailure)
                .where(LoginFailure.login == login.lower(), LoginFailure.at > now - FAILURE_WINDOW)
            )
            if (failures or 0) >= MAX_FAILURES:
                raise SignInError("Too many failed attempts. Try again in 15 minutes.")
            user = await self._user_by_login(s, login)
            stored = await s.get(WebPassword, user.id) if user is not None else None
            issued = None
            if user is None or stored is None or not check_password(password, stored.hash):
                s.add(LoginFailure(login=login.lower(), at=now))  # kept: no raise in here
            else:
                await s.execute(delete(LoginFailure).where(LoginFailure.login == login.lower()))
                issued = await self._open(s, user.id)
        if issued is None:
            raise SignInError("Wrong user or password.")
        return issued

    async def _user_by_login(self, s: AsyncSession, login: str) -> User | None:
        if login.isdigit() and len(login) < 18:
            return await lookup.active_user(s, int(login))
        if "@" not in login:
            return None
        stmt = select(User).where(func.lower(User.email) == login.lower(), User.active)
        return (await s.execute(stmt.limit(1))).scalar_one_or_none()

    async def sign_out(self, cookie: str | None) -> None:
        token = self._token(cookie)
        if token is None:
            return
        async with self.db.transaction() as s:
            await s.execute(
                update(WebSession)
                .where(WebSession.token_hash == _sha(token))
                .values(revoked_at=self.clock.now())
            )

    # --- what the command line issues -------------------------------------------------------

    async def login_link(self, user_id: int) -> str:
        """A token for ``/login/link?token=…``, valid once for LINK_TTL."""
        token, now = secrets.token_urlsafe(32), self.clock.now()
        async with self.db.transaction() as s:
            if await lookup.active_user(s, user_id) is None:
                raise SignInError(f"user {user_id} does not exist or is not active")
            s.add(LoginLink(token_hash=_sha(token), user_id=user_id, expires_at=now + LINK_TTL))
        return token

    async def set_password(self, user_id: int, password: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise SignInError(f"a password needs at least {MIN_PASSWORD} characters")
        async with self.db.transaction() as s:
            if await lookup.active_user(s, user_id) is None:
                raise SignInError(f"user {user_id} does not exist or is not active")
            row = await s.get(WebPassword, user_id)
            digest, now = hash_password(password), self.clock.now()
            if row is None:
                s.add(WebPassword(user_id=user_id, hash=digest, changed_at=now))
            else:
                row.hash, row.changed_at = digest, now
            # a new password signs every browser out
            await s.execute(
                update(WebSession)
                .where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
                .values(revoked_at=now)
            )


async def _prune(s: AsyncSession, now: dt.datetime) -> None:
    """Sessions, links and failed attempts that can no longer matter, on each sign-in."""
    old = now - dt.timedelta(days=1)
    await s.execute(delete(WebSession).where(WebSession.expires_at < old))
    await s.execute(delete(LoginLink).where(LoginLink.expires_at < old))
    await s.execute(delete(LoginFailure).where(LoginFailure.at < now - FAILURE_WINDOW))
