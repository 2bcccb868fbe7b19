"""Recently resolved credentials."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from b24tel.clock import Clock
from b24tel.errors import ApiError
from b24tel.identity import Caller

Key = tuple[str, ...]
Lookup = Callable[[], Awaitable[Caller]]


class AuthCache:
    """Recently resolved credentials, so a busy connector does not pay a transaction and
    two queries on every request. An entry lives ``auth_cache_ttl`` seconds and never past
    its token's expiry; a refresh in this process drops the cache at once, a revocation by
    another process takes effect within the TTL.

    When an entry expired, every request in flight used to look the credential up at once,
    each in a read transaction of its own: at concurrency 8 on SQLite that was register's
    p99 outliers of 56–121 ms (docs/benchmarks.md, "round three — seventh part"). Now the
    requests that miss together share one lookup, and a request in the entry's last
    ``AHEAD`` of its life starts a lookup in the background while it is still served."""

    MAX_ENTRIES = 10_000
    AHEAD = 0.2  # of the TTL

    def __init__(self, clock: Clock, ttl: float) -> None:
        self.clock = clock
        self.ttl = ttl
        self._entries: dict[Key, tuple[Caller, float]] = {}
        self._lookups: dict[Key, asyncio.Task[Caller]] = {}
        # a lookup begun before a clear() must not put back what was cleared
        self._generation = 0

    def get(self, key: Key) -> Caller | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] <= self.clock.time():
            self._entries.pop(key, None)
            return None
        return entry[0]

    def put(self, key: Key, caller: Caller) -> None:
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
        self._lookups.clear()
        self._generation += 1

    async def resolve(self, key: Key, lookup: Lookup) -> Caller:
        """The caller of ``key``: cached, or looked up once for every request that asks
        meanwhile. A failed lookup (a revoked credential) raises in each of them."""
        if self.ttl <= 0:
            return await lookup()
        entry = self._entries.get(key)
        now = self.clock.time()
        if entry is not None and entry[1] > now:
            if entry[1] - now < self.ttl * self.AHEAD:
                self._start(key, lookup)  # answered from the cache; the next one is fresh
            return entry[0]
        # shielded: a request cut by its deadline does not cancel the others' lookup
        return await asyncio.shield(self._start(key, lookup))

    def _start(self, key: Key, lookup: Lookup) -> asyncio.Task[Caller]:
        task = self._lookups.get(key)
        if task is None:
            looking = self._look_up(key, lookup, self._generation)
            task = asyncio.get_running_loop().create_task(looking)
            self._lookups[key] = task
            task.add_done_callback(_retrieved)
        return task

    async def _look_up(self, key: Key, lookup: Lookup, generation: int) -> Caller:
        try:
            caller = await lookup()
        except ApiError as exc:
            # revoked or expired: not served from here on (a database away for a moment
            # is not a revocation; the entry lives out its TTL as it did before)
            if exc.status == 401 and generation == self._generation:
                self._entries.pop(key, None)
            raise
        finally:
            if generation == self._generation:
                self._lookups.pop(key, None)
        if generation == self._generation:
            self.put(key, caller)
        return caller


def _retrieved(task: asyncio.Task[Caller]) -> None:
    """A background lookup's failure is the next request's to report, not the loop's."""
    if not task.cancelled():
        task.exception()
