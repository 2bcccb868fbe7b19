"""Deciding, for one request, whether a rule fires (docs/integrators.md, "Fault rules").

Every instance keeps the rules in memory and reloads them at most a second after a change
(a quick query, once a second, only while requests come). A rule that counts — the next N
matches, after the first N — keeps its counters in the database with atomic updates, so
instances sharing one database count together."""

from __future__ import annotations

import asyncio
import datetime as dt
import fnmatch
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from b24tel.clock import Clock
from b24tel.db.engine import Database
from b24tel.faults.models import FaultRule
from b24tel.rest.faults import Decision

RELOAD = 1.0


@dataclass(frozen=True)
class Rule:
    id: int
    method: str
    callers: frozenset[str]
    kind: str
    param: str
    value: str
    effect: str
    code: str
    status: int
    description: str
    latency: tuple[float, float]
    probability: float | None
    seed: int | None
    starts_at: dt.datetime | None
    ends_at: dt.datetime | None

    @classmethod
    def of(cls, row: FaultRule) -> Rule:
        callers = frozenset(c for c in row.caller.replace(",", " ").split() if c)
        return cls(
            row.id, row.method.lower(), callers, row.kind, row.param.lower(), row.value,
            row.effect, row.code, row.status, row.description,
            (row.latency_min_ms, row.latency_max_ms), row.probability, row.seed,
            row.starts_at, row.ends_at,
        )  # fmt: skip


class Faults:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db, self.clock = db, clock
        self._rules: list[Rule] = []
        self._loaded = -RELOAD
        self._lock = asyncio.Lock()
        self._random: dict[int, random.Random] = {}

    def invalidate(self) -> None:
        """A rule changed in this process: reload before the next decision."""
        self._loaded = -RELOAD

    async def _fresh(self) -> list[Rule]:
        if time.monotonic() - self._loaded < RELOAD:
            return self._rules
        async with self._lock:
            if time.monotonic() - self._loaded >= RELOAD:
                async with self.db.transaction(readonly=True) as s:
                    rows = (await s.execute(select(FaultRule).order_by(FaultRule.id))).scalars()
                    self._rules = [Rule.of(r) for r in rows]
                self._loaded = time.monotonic()
        return self._rules

    async def decide(
        self, kind: str, method: str, caller: str, params: Mapping[str, Any]
    ) -> Decision | None:
        rules = await self._fresh()
        if not rules:
            return None
        now = self.clock.now()
        callers = set(caller.split())
        for rule in rules:
            if self._matches(rule, kind, method, callers, params, now) and await self._fires(rule):
                return self._decision(rule)
        return None

    @staticmethod
    def _matches(
        rule: Rule,
        kind: str,
        method: str,
        callers: set[str],
        params: Mapping[str, Any],
        now: dt.datetime,
    ) -> bool:
        if rule.kind and rule.kind != kind:
            return False
        if not rule.kind and kind == "event":
            return False  # a rule for requests does not touch deliveries
        if not fnmatch.fnmatchcase(method.lower(), rule.method):
            return False
        if rule.callers and not rule.callers & callers:
            return False
        if (rule.starts_at and now < rule.starts_at) or (rule.ends_at and now >= rule.ends_at):
            return False
        if rule.param:
            found = next((v for k, v in params.items() if str(k).lower() == rule.param), None)
            if found is None or not fnmatch.fnmatchcase(str(found), rule.value):
                return False
        return True

    async def _fires(self, rule: Rule) -> bool:
        if rule.probability is not None:
            rng = self._random.setdefault(rule.id, random.Random(rule.seed))
            if rng.random() >= rule.probability:
                return False
        async with self.db.transaction() as s:
            # counted together by every instance: the update is the decision
            matched = (
                await s.execute(
                    update(FaultRule)
                    .where(FaultRule.id == rule.id)
                    .values(matched=FaultRule.matched + 1)
                    .returning(FaultRule.matched, FaultRule.after, FaultRule.times)
                )
            ).first()
            if matched is None:
                return False  # removed meanwhile
            count, after, times = matched
            fires = count > after and (times is None or count - after <= times)
            if fires:
                await s.execute(
                    update(FaultRule)
                    .where(FaultRule.id == rule.id)
                    .values(fired=FaultRule.fired + 1)
                )
        return fires

    def _decision(self, rule: Rule) -> Decision:
        low, high = rule.latency
        rng = self._random.setdefault(rule.id, random.Random(rule.seed))
        latency = low if high <= low else rng.uniform(low, high)
        return Decision(
            rule.id, rule.effect, rule.code, rule.status, rule.description, latency_ms=latency
        )
