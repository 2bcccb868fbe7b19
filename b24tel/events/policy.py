"""How the delivery worker behaves: timeouts, retries, concurrency, fairness and breakers,
read from the settings once."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from b24tel.config import Settings
from b24tel.events.fairness import BreakerPolicy


@dataclass(frozen=True)
class Policy:
    timeout: float
    retry_initial: float
    retry_max: float
    horizon: float
    concurrency: int
    poll_interval: float
    handler_concurrency: int
    breaker: BreakerPolicy

    @classmethod
    def of(cls, settings: Settings) -> Policy:
        return cls(
            timeout=settings.event_timeout,
            retry_initial=settings.event_retry_initial,
            retry_max=settings.event_retry_max,
            horizon=settings.event_retry_horizon,
            concurrency=settings.event_concurrency,
            poll_interval=settings.event_poll_interval,
            handler_concurrency=settings.event_handler_concurrency,
            breaker=BreakerPolicy(settings.event_breaker_failures, settings.event_breaker_cooldown),
        )

    @property
    def lease(self) -> dt.timedelta:
        """How long a claim lasts: a send takes at most ``timeout``; twice that and a margin
        before another worker may take over the claim of one that died."""
        return dt.timedelta(seconds=2 * self.timeout + 5)

    def next_attempt(
        self, now: dt.datetime, created: dt.datetime, attempts: int
    ) -> dt.datetime | None:
        """When to try again after ``attempts`` failures (exponential, jittered), or None
        when that would be past the horizon."""
        delay = min(self.retry_max, self.retry_initial * 2 ** (attempts - 1))
        at = now + dt.timedelta(seconds=delay * random.uniform(0.5, 1.5))
        return None if at > created + dt.timedelta(seconds=self.horizon) else at
