"""Recently resolved credentials."""

from __future__ import annotations

from b24tel.clock import Clock
from b24tel.identity import Caller


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
