"""Passwords, one-time sign-in links and sessions of the web interface.

Secrets are random tokens; only their sha256 is stored. The session cookie carries the
token and an HMAC of it under the server secret (a forged or altered cookie is refused
before the database is asked). Every session has its own CSRF token that each form and
action sends back.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import functools
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
from b24tel.wire.numbers import ascii_int
from b24tel.wire.secrets import same_secret

COOKIE = "b24tel_session"
LINK_TTL = dt.timedelta(minutes=15)
SESSION_TTL = dt.timedelta(days=7)
# wrong passwords allowed in FAILURE_WINDOW before sign-in is refused: per user (or per
# login name that is no user), and per client address
MAX_FAILURES = 5
MAX_ADDRESS_FAILURES = 20
MAX_LOGIN = 200
# password checks at once (each takes ~50 ms of a core and 16 MiB)
PARALLEL_CHECKS = 2
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


@functools.cache
def _stand_in() -> str:
    """A hash to check a password against when there is none to check it against."""
    return hash_password(secrets.token_urlsafe(16))


async def _failures(s: AsyncSession, key: str, now: dt.datetime) -> int:
    count = await s.scalar(
        select(func.count())
        .select_from(LoginFailure)
        .where(LoginFailure.login == key, LoginFailure.at > now - FAILURE_WINDOW)
    )
    return count or 0


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
        self._checks = asyncio.Semaphore(PARALLEL_CHECKS)

    # --- cookies ---------------------------------------------------------------------------

    def _mac(self, token: str) -> str:
        return hmac.new(self.secret.encode(), f"session|{token}".encode(), "sha256").hexdigest()

    def _cookie(self, token: str) -> str:
        return f"{token}.{self._mac(token)}"

    def _token(self, cookie: str | None) -> str | None:
        token, _, mac = (cookie or "").partition(".")
        if not token or not same_secret(mac, self._mac(token)):
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

    async def sign_in(self, login: str, password: str, client: str = "") -> Issued:
        """By user ID or e-mail and password; refused for a while after MAX_FAILURES for the
        user (however the login was spelled) or MAX_ADDRESS_FAILURES from one address.

        The attempt is counted before the password is checked, so attempts sent at once
        count against each other, and taken back when it succeeds. The check runs in a
        worker thread, a few at a time, and against a stand-in hash when there is no such
        user: a missing user costs the same time as a wrong password."""
        now, login = self.clock.now(), login.strip()[:MAX_LOGIN]
        async with self.db.transaction() as s:
            user = await self._user_by_login(s, login)
            keys = [f"user:{user.id}" if user is not None else f"login:{login.lower()}"]
            keys += [f"addr:{client}"] if client else []
            for key, most in zip(keys, (MAX_FAILURES, MAX_ADDRESS_FAILURES), strict=False):
                if await _failures(s, key, now) >= most:
                    raise SignInError("Too many failed attempts. Try again in 15 minutes.")
            attempts = [LoginFailure(login=key, at=now) for key in keys]
            s.add_all(attempts)
            stored = await s.get(WebPassword, user.id) if user is not None else None
            stored_hash = stored.hash if stored is not None else None
        if not await self._check(password, stored_hash) or user is None:
            raise SignInError("Wrong user or password.")
        async with self.db.transaction() as s:
            await s.execute(delete(LoginFailure).where(LoginFailure.login == keys[0]))
            await s.execute(
                delete(LoginFailure).where(LoginFailure.id.in_([a.id for a in attempts]))
            )
            return await self._open(s, user.id)

    async def _check(self, password: str, stored: str | None) -> bool:
        async with self._checks:
            if stored is None:
                await asyncio.to_thread(check_password, password, _stand_in())
                return False
            return await asyncio.to_thread(check_password, password, stored)

    async def _user_by_login(self, s: AsyncSession, login: str) -> User | None:
        number = ascii_int(login)
        if number is not None:
            return await lookup.active_user(s, number)
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
        digest = await asyncio.to_thread(hash_password, password)
        async with self.db.transaction() as s:
            if await lookup.active_user(s, user_id) is None:
                raise SignInError(f"user {user_id} does not exist or is not active")
            row = await s.get(WebPassword, user_id)
            now = self.clock.now()
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
