"""How fast a bridge talks to the portal (setting ``upstream_rate``): a leaky bucket shared
by every instance on PostgreSQL (``b24tel.rest.limits``), which every call passed on fills
and the forwarding of waiting writes waits for — so the queue drains at the portal's rate
instead of meeting its ``QUERY_LIMIT_EXCEEDED``."""

from __future__ import annotations

import asyncio

from b24tel.rest.limits import RateLimiter

KEY = "b24tel:upstream"


class Pace:
    def __init__(self, limiter: RateLimiter, rate: float) -> None:
        self.limiter = limiter
        self.rate = rate
        self.burst = max(1, round(rate))

    async def passed(self) -> None:
        """A call passed on: it counts, and never waits (the connector is waiting)."""
        await self.limiter.take(KEY, self.burst, self.rate)

    async def turn(self) -> None:
        """Wait for room in the bucket, then take it."""
        while not await self.limiter.take(KEY, self.burst, self.rate):
            await asyncio.sleep(1 / self.rate / 10)  # a tenth of a turn: little time lost
