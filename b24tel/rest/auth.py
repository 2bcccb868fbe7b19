"""Resolving the caller: a webhook path, or an OAuth token in ``auth``/``access_token``
(query, form or JSON) or ``Authorization: Bearer`` (behavior.md §4.4)."""

from __future__ import annotations

from typing import Any

from b24tel import errors
from b24tel.clock import Clock
from b24tel.rest.context import Caller
from b24tel.services import Services
from b24tel.users import service as users

AUTH_PARAMS = ("auth", "access_token")


def find_token(params: dict[str, Any], authorization: str | None) -> str | None:
    """The token a request names: ``auth``, else ``access_token``, else a Bearer header."""
    for name in AUTH_PARAMS:
        value = params.get(name)
        if isinstance(value, str) and value:
            return value
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return None


def pop_token(params: dict[str, Any], authorization: str | None) -> str | None:
    """Remove the auth parameters from ``params`` (handlers never see them) and return the
    token."""
    token = find_token(params, authorization)
    for name in AUTH_PARAMS:
        params.pop(name, None)
    return token


class AuthCache:
    """Recently resolved credentials, so a busy connector does not pay a transaction and
    two queries on every request. An entry lives ``auth_cache_ttl`` seconds and never past
    its token's expiry; a refresh in this process drops the cache at once, a revocation by
    another process takes effect within the TTL."""

    MAX_ENTRIES = 10_000

    def __init__(self, clock: Clock, ttl: float) -> None:
        self.clock = clock
        self.ttl = ttl
        self._entries: dict[tuple[str, ...], tuple[Caller, float]] = {}

    def get(self, key: tuple[str, ...]) -> Caller | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] <= self.clock.time():
            self._entries.pop(key, None)
            return None
        return entry[0]

    def put(self, key: tuple[str, ...], caller: Caller) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries.clear()
        until = self.clock.time() + self.ttl
        if caller.expires_at is not None:
            until = min(until, caller.expires_at)
        self._entries[key] = (caller, until)

    def clear(self) -> None:
        self._entries.clear()


async def authenticate(
    services: Services,
    webhook: tuple[str, str] | None,
    token: str | None,
) -> Caller:
    if webhook is None and not token:
        raise errors.no_auth_found()
    key = ("w", *webhook) if webhook is not None else ("t", token or "")
    cached = services.auth_cache.get(key)
    if cached is not None:
        return cached
    now = services.clock.now()
    async with services.db.transaction(readonly=True) as session:
        if webhook is not None:
            caller = await users.authenticate_webhook(session, now, *webhook)
        else:
            caller = await users.authenticate_token(session, now, token or "")
    services.auth_cache.put(key, caller)
    return caller
