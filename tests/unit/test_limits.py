"""Leaky bucket and operating-time accounting, on a fake clock."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from b24tel.clock import FakeClock
from b24tel.db.engine import Database
from b24tel.errors import ApiError
from b24tel.rest.limits import (
    OperatingLimiter,
    RateLimiter,
    SharedOperatingLimiter,
    SharedRateLimiter,
)


async def _bucket_rules(clock: FakeClock, first: RateLimiter, second: RateLimiter) -> None:
    """Three requests fit, the fourth is refused, one drains per second; ``first`` and
    ``second`` are two instances (the same one in memory)."""
    for limiter in (first, second, first):
        await limiter.hit("k")
    with pytest.raises(ApiError) as err:
        await second.hit("k")
    assert (err.value.status, err.value.code) == (503, "QUERY_LIMIT_EXCEEDED")
    await first.hit("other")  # buckets are per webhook/app
    clock.advance(1.0)
    await second.hit("k")
    with pytest.raises(ApiError):
        await first.hit("k")


async def test_leaky_bucket_refuses_above_burst_and_drains() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock, (3, 1.0))
    await _bucket_rules(clock, limiter, limiter)


async def test_instances_share_one_bucket_on_postgresql(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite is one instance: its bucket is kept in memory")
    clock, db = FakeClock(), Database(database_url)
    try:
        async with db.transaction() as s:
            await s.execute(text("DELETE FROM rate_buckets"))
        await _bucket_rules(
            clock, SharedRateLimiter(clock, (3, 1.0), db), SharedRateLimiter(clock, (3, 1.0), db)
        )
    finally:
        await db.dispose()


async def test_forced_refusals() -> None:
    limiter = RateLimiter(FakeClock(), None)
    limiter.refuse_next(2)
    for _ in range(2):
        with pytest.raises(ApiError):
            await limiter.hit("k")
    await limiter.hit("k")


async def _operating_rules(
    clock: FakeClock, op: OperatingLimiter, other: OperatingLimiter, *, minutes: bool
) -> None:
    """``op`` and ``other`` are two instances (the same one in memory); ``minutes``: the
    window's buckets start on whole minutes (shared) rather than at a first call (memory)."""
    t0 = clock.time()
    operating, reset_at = await op.record("k", "crm.lead.list", t0, 0.6)
    assert operating == pytest.approx(0.6)
    assert reset_at == int((t0 - t0 % 60 if minutes else t0) + 600)
    await other.record("k", "crm.lead.list", t0 + 1, 0.05)  # under 0.1 s: not counted
    operating, _ = await other.record("k", "crm.lead.list", t0 + 70, 0.6)
    assert operating == pytest.approx(1.2)
    clock.advance(71)
    with pytest.raises(ApiError) as err:
        await op.check("k", "CRM.LEAD.LIST")
    assert (err.value.status, err.value.code) == (429, "OPERATION_TIME_LIMIT")
    await other.check("k", "crm.contact.list")  # per method
    await op.check("other", "crm.lead.list")  # per webhook or application
    clock.advance(600)
    await other.check("k", "crm.lead.list")


async def test_operating_time_window() -> None:
    clock = FakeClock()
    op = OperatingLimiter(clock, 1.0)
    await _operating_rules(clock, op, op, minutes=False)


async def test_instances_share_operating_time_on_postgresql(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite is one instance: its operating time is kept in memory")
    clock, db = FakeClock(), Database(database_url)
    try:
        async with db.transaction() as s:
            await s.execute(text("DELETE FROM operating_time"))
        await _operating_rules(
            clock,
            SharedOperatingLimiter(clock, 1.0, db),
            SharedOperatingLimiter(clock, 1.0, db),
            minutes=True,
        )
        # expired minutes are removed as new ones are counted
        async with db.transaction(readonly=True) as s:
            rows = (await s.execute(text("SELECT count(*) FROM operating_time"))).scalar_one()
        assert rows <= 2
    finally:
        await db.dispose()
