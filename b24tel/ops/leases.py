"""Leases on periodic jobs: of several instances sharing one database, the one holding a
job's lease runs it; the lease lapses on its own if that instance dies."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, update

from b24tel.db.engine import Database
from b24tel.db.upsert import insert_new
from b24tel.ops.models import JobLease


async def claim(db: Database, name: str, holder: str, now: dt.datetime, ttl: float) -> bool:
    """Take (or keep) the lease on `name` until `now + ttl`; False while another holder's
    lease runs. A conditional update, then an insert that loses quietly to a racing one."""
    until = now + dt.timedelta(seconds=ttl)
    async with db.transaction() as s:
        taken = await s.execute(
            update(JobLease)
            .where(JobLease.name == name, or_(JobLease.until < now, JobLease.holder == holder))
            .values(holder=holder, until=until)
        )
        if taken.rowcount:  # type: ignore[attr-defined]
            return True
        return await insert_new(s, JobLease, {"name": name, "holder": holder, "until": until},
                                ["name"])  # fmt: skip


async def release(db: Database, name: str, holder: str) -> None:
    async with db.transaction() as s:
        await s.execute(
            update(JobLease)
            .where(JobLease.name == name, JobLease.holder == holder)
            .values(until=dt.datetime(1970, 1, 1, tzinfo=dt.UTC))
        )
