"""Leaky bucket and operating-time accounting, on a fake clock."""

from __future__ import annotations

import pytest

from b24tel.clock import FakeClock
from b24tel.errors import ApiError
from b24tel.rest.limits import OperatingLimiter, RateLimiter


def test_leaky_bucket_refuses_above_burst_and_drains() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock, (3, 1.0))
    for _ in range(3):
        limiter.hit("k")
    with pytest.raises(ApiError) as err:
        limiter.hit("k")
    assert (err.value.status, err.value.code) == (503, "QUERY_LIMIT_EXCEEDED")
    limiter.hit("other")  # buckets are per webhook/app
    clock.advance(1.0)
    limiter.hit("k")
    with pytest.raises(ApiError):
        limiter.hit("k")


def test_forced_refusals() -> None:
    limiter = RateLimiter(FakeClock(), None)
    limiter.refuse_next(2)
    for _ in range(2):
        with pytest.raises(ApiError):
            limiter.hit("k")
    limiter.hit("k")


def test_operating_time_window() -> None:
    clock = FakeClock()
    op = OperatingLimiter(clock, 1.0)
    t0 = clock.time()
    operating, reset_at = op.record("k", "crm.lead.list", t0, 0.6)
    assert operating == pytest.approx(0.6) and reset_at == int(t0 + 600)
    op.record("k", "crm.lead.list", t0 + 1, 0.05)  # under 0.1 s: not counted
    operating, _ = op.record("k", "crm.lead.list", t0 + 70, 0.6)
    assert operating == pytest.approx(1.2)
    clock.advance(71)
    with pytest.raises(ApiError) as err:
        op.check("k", "CRM.LEAD.LIST")
    assert (err.value.status, err.value.code) == (429, "OPERATION_TIME_LIMIT")
    op.check("k", "crm.contact.list")  # per method
    clock.advance(600)
    op.check("k", "crm.lead.list")
