"""Request-rate and operating-time limits (docs/reference/protocol.md, "Limits").

The request rate and, while its limit is on, operating time are kept in PostgreSQL when the
server runs on it, so every instance counts against one budget per webhook or application,
as the cloud's limits are per portal; on SQLite (one instance) they are kept in memory.
Both exist so integrators can test their back-off against a server that behaves like the
cloud; both are off by default.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import text

from b24tel import errors
from b24tel.clock import Clock
from b24tel.db.engine import Database

WINDOW = 600.0  # the operating-time window: ten buckets of one minute
BUCKET = 60.0
MIN_COUNTED = 0.1  # shorter calls are not counted


class RateLimiter:
    """Leaky bucket per webhook/application: every request adds 1, the level drains by
    ``drain`` per second, a request arriving above ``burst`` gets 503."""

    def __init__(self, clock: Clock, params: tuple[int, float] | None) -> None:
        self.clock = clock
        self.params = params
        self._levels: dict[str, tuple[float, float]] = {}
        self._forced: dict[str | None, int] = defaultdict(int)

    def refuse_next(self, count: int, key: str | None = None) -> None:
        """Answer the next ``count`` requests (of ``key``, or of anyone) with 503 — lets a
        test or an integrator check a client's retry logic deterministically."""
        self._forced[key] += count

    def pending_refusals(self) -> int:
        return sum(self._forced.values())

    async def hit(self, key: str) -> None:
        for forced_key in (key, None):
            if self._forced.get(forced_key, 0) > 0:
                self._forced[forced_key] -= 1
                raise errors.query_limit_exceeded()
        if self.params is None:
            return
        if await self._over(key, *self.params):
            raise errors.query_limit_exceeded()

    async def take(self, key: str, burst: int, drain: float) -> bool:
        """One unit from the bucket ``key`` if it has room (whether the limit is on or not:
        a bridge paces its calls to the portal with it)."""
        return not await self._over(key, burst, drain)

    async def _over(self, key: str, burst: int, drain: float) -> bool:
        now = self.clock.monotonic()
        level, last = self._levels.get(key, (0.0, now))
        level = max(0.0, level - (now - last) * drain)
        if level >= burst:
            self._levels[key] = (level, now)
            return True
        self._levels[key] = (level + 1, now)
        return False


# one statement, atomic under concurrency: the row lock of ON CONFLICT orders the requests
# of one key across instances; every SET expression reads the row as it was
_SHARED_HIT = text("""
INSERT INTO rate_buckets (key, level, at, refused) VALUES (:key, 1, :now, false)
ON CONFLICT (key) DO UPDATE SET
  refused = GREATEST(0, rate_buckets.level - (:now - rate_buckets.at) * :drain) >= :burst,
  level = GREATEST(0, rate_buckets.level - (:now - rate_buckets.at) * :drain)
        + CASE WHEN GREATEST(0, rate_buckets.level - (:now - rate_buckets.at) * :drain)
                    >= :burst THEN 0 ELSE 1 END,
  at = :now
RETURNING refused
""")


class SharedRateLimiter(RateLimiter):
    """The same leaky bucket, kept in PostgreSQL for every instance (one round trip per
    request while rate limiting is on)."""

    def __init__(self, clock: Clock, params: tuple[int, float] | None, db: Database) -> None:
        super().__init__(clock, params)
        self.db = db

    async def _over(self, key: str, burst: int, drain: float) -> bool:
        values = {"key": key, "now": self.clock.time(), "drain": drain, "burst": burst}
        async with self.db.transaction() as s:
            return bool((await s.execute(_SHARED_HIT, values)).scalar_one())


@dataclass
class _Buckets:
    starts: list[float] = field(default_factory=list)
    sums: list[float] = field(default_factory=list)

    def expire(self, now: float) -> None:
        while self.starts and self.starts[0] + WINDOW <= now:
            self.starts.pop(0)
            self.sums.pop(0)

    def total(self) -> float:
        return sum(self.sums)


class OperatingLimiter:
    """Handler seconds per (webhook/app, method) in ten one-minute buckets; above the
    budget the method answers 429 until buckets expire."""

    def __init__(self, clock: Clock, limit: float) -> None:
        self.clock = clock
        self.limit = limit
        self._buckets: dict[tuple[str, str], _Buckets] = defaultdict(_Buckets)

    async def check(self, key: str, method: str) -> None:
        if self.limit <= 0:
            return
        buckets = self._buckets[(key, method.lower())]
        buckets.expire(self.clock.time())
        if buckets.total() > self.limit:
            raise errors.operation_time_limit()

    async def record(
        self, key: str, method: str, started: float, duration: float
    ) -> tuple[float, int]:
        """Count a finished call; return (``time.operating``, ``time.operating_reset_at``)."""
        buckets = self._buckets[(key, method.lower())]
        buckets.expire(started)
        if duration > MIN_COUNTED:
            if buckets.starts and started - buckets.starts[-1] < BUCKET:
                buckets.sums[-1] += duration
            else:
                buckets.starts.append(started)
                buckets.sums.append(duration)
        reset_at = int(buckets.starts[0] + WINDOW) if buckets.starts else int(started) + 600
        return buckets.total(), reset_at


_OPERATING_ADD = text("""
INSERT INTO operating_time (key, method, bucket, seconds) VALUES (:key, :method, :bucket, :d)
ON CONFLICT (key, method, bucket) DO UPDATE SET seconds = operating_time.seconds + :d
""")
_OPERATING_SUM = text("""
SELECT coalesce(sum(seconds), 0), min(bucket) FROM operating_time
WHERE key = :key AND method = :method AND bucket > :cutoff
""")
_OPERATING_EXPIRE = text("""
DELETE FROM operating_time WHERE key = :key AND method = :method AND bucket <= :cutoff
""")


class SharedOperatingLimiter(OperatingLimiter):
    """The same window, kept in PostgreSQL in one-minute buckets for every instance (two
    round trips per request while the limit is on; with the limit off each instance keeps
    the `time.operating` it reports in memory)."""

    def __init__(self, clock: Clock, limit: float, db: Database) -> None:
        super().__init__(clock, limit)
        self.db = db

    async def check(self, key: str, method: str) -> None:
        if self.limit <= 0:
            return
        total, _ = await self._sum(key, method.lower(), self.clock.time(), None)
        if total > self.limit:
            raise errors.operation_time_limit()

    async def record(
        self, key: str, method: str, started: float, duration: float
    ) -> tuple[float, int]:
        if self.limit <= 0:
            return await super().record(key, method, started, duration)
        counted = duration if duration > MIN_COUNTED else None
        total, first = await self._sum(key, method.lower(), started, counted)
        reset_at = int(first + WINDOW) if first is not None else int(started) + 600
        return total, reset_at

    async def _sum(
        self, key: str, method: str, now: float, add: float | None
    ) -> tuple[float, float | None]:
        names = {"key": key, "method": method, "cutoff": now - WINDOW}
        async with self.db.transaction() as s:
            if add is not None:
                bucket = now - now % BUCKET
                await s.execute(_OPERATING_ADD, {**names, "bucket": bucket, "d": add})
                await s.execute(_OPERATING_EXPIRE, names)
            total, first = (await s.execute(_OPERATING_SUM, names)).one()
        return float(total), first
