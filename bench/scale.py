"""Query latency against data size: 10 000 vs 1 000 000 finished calls.

Seeds finished calls (statistic rows) and CRM contacts (one per ten calls, with phones) in
bulk — not through HTTP — then measures over HTTP on a running ``b24tel serve``:

- ``voximplant.statistic.get`` filtered by client number and start date;
- ``crm.contact.list`` filtered by phone;

and prints the median of each at both sizes and the ratio (target: ≤ 2).

    python bench/scale.py [--large 1000000] [--sqlite-only]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PG_ENV, Connection, b24tel_server, scratch_postgres, table
from sqlalchemy import insert, text

from b24tel.crm.models import Contact, Multifield
from b24tel.db import migrate
from b24tel.db.engine import Database
from b24tel.identity import ALL_SCOPES
from b24tel.phones import normalize
from b24tel.telephony.models import Statistic
from b24tel.users import service as users

SMALL = 10_000
BATCH = 20_000
QUERIES = 200
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def phone(i: int) -> str:
    return f"7916{i % 10_000_000:07d}"


async def seed(url: str, start: int, stop: int) -> None:
    """Calls ``start`` … ``stop``; every tenth one's client is a contact."""
    db = Database(url)
    try:
        for lo in range(start, stop, BATCH):
            hi = min(stop, lo + BATCH)
            async with db.transaction() as s:
                await s.execute(
                    insert(Statistic),
                    [
                        {
                            "id": i + 1,
                            "call_id": f"externalCall.{i:032x}.1",
                            "owner": 0,
                            "portal_user_id": 1 + i % 20,
                            "portal_number": "74950000000",
                            "phone_number": phone(i),
                            "incoming": str(1 + i % 2),
                            "call_category": "external",
                            "call_duration": i % 600,
                            "call_start_date": START + dt.timedelta(seconds=30 * i),
                            "call_status": 1,
                            "cost": 0,
                            "cost_currency": "",
                            "call_failed_code": "200",
                            "call_failed_reason": "",
                            "transcript_pending": "N",
                        }
                        for i in range(lo, hi)
                    ],
                )
                contacts = [i for i in range(lo, hi) if i % 10 == 0]
                if contacts:
                    await s.execute(
                        insert(Contact),
                        [
                            {
                                "id": i // 10 + 1,
                                "name": f"C{i}",
                                "assigned_by_id": 1,
                                "created_by_id": 1,
                                "modify_by_id": 1,
                                "date_create": START,
                                "date_modify": START,
                                "opened": "Y",
                                "export": "Y",
                            }
                            for i in contacts
                        ],
                    )
                    await s.execute(
                        insert(Multifield),
                        [
                            {
                                "entity_type": "CONTACT",
                                "entity_id": i // 10 + 1,
                                "type_id": "PHONE",
                                "value_type": "WORK",
                                "value": f"+{phone(i)}",
                                "normalized": normalize(phone(i)),
                            }
                            for i in contacts
                        ],
                    )
        if not db.is_sqlite:
            # fresh statistics, as autovacuum would gather them (committed: ANALYZE inside
            # a rolled-back transaction leaves none)
            async with db.engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("ANALYZE"))
    finally:
        await db.dispose()


async def measure(port: int, hook: str, size: int) -> dict[str, float]:
    rng = random.Random(size)
    conn = Connection(port)
    times: dict[str, list[float]] = {"statistic.get": [], "crm.contact.list": []}
    for _ in range(QUERIES):
        i = rng.randrange(size)
        since = (START + dt.timedelta(seconds=30 * i - 3600)).isoformat()
        t0 = time.perf_counter()
        rows = (
            await conn.json(
                hook + "voximplant.statistic.get",
                {"FILTER": {"PHONE_NUMBER": phone(i), ">=CALL_START_DATE": since}},
            )
        )["result"]
        times["statistic.get"].append(time.perf_counter() - t0)
        assert any(r["ID"] == str(i + 1) for r in rows), i
        c = rng.randrange(size // 10) * 10
        t0 = time.perf_counter()
        found = (
            await conn.json(
                hook + "crm.contact.list",
                {"filter": {"PHONE": f"8 916 {c % 10_000_000:07d}"}, "select": ["ID"]},
            )
        )["result"]
        times["crm.contact.list"].append(time.perf_counter() - t0)
        assert found == [{"ID": str(c // 10 + 1)}], (c, found)
    conn.close()
    return {k: statistics.median(v) for k, v in times.items()}


async def webhook(url: str) -> str:
    db = Database(url)
    now = dt.datetime.now(dt.UTC)
    try:
        async with db.transaction() as s:
            user = await users.create_user(s, now, name="Bench", admin=True)
            await users.create_webhook(
                s, now, user_id=user.id, code="benchcode", scopes=frozenset(ALL_SCOPES)
            )
    finally:
        await db.dispose()
    return f"/rest/{user.id}/benchcode/"


def run(name: str, url: str, large: int) -> list[list[object]]:
    migrate.upgrade(url)
    hook = asyncio.run(webhook(url))
    asyncio.run(seed(url, 0, SMALL))
    with b24tel_server(database_url=url, hook=hook) as server:
        small = asyncio.run(measure(server.port, server.hook, SMALL))
    t0 = time.perf_counter()
    asyncio.run(seed(url, SMALL, large))
    print(f"{name}: seeded {large:,} calls in {time.perf_counter() - t0:.0f} s", flush=True)
    with b24tel_server(database_url=url, hook=hook) as server:
        big = asyncio.run(measure(server.port, server.hook, large))
    return [
        [
            name,
            q,
            f"{small[q] * 1e3:.2f}",
            f"{big[q] * 1e3:.2f}",
            f"{big[q] / small[q]:.2f}",
            "met" if big[q] / small[q] <= 2 else "NOT met",
        ]
        for q in small
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows += run("sqlite", f"sqlite+aiosqlite:///{tmp}/scale.db", args.large)
    if not args.sqlite_only:
        pg = os.environ.get(PG_ENV, "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
        try:
            url, drop = scratch_postgres(pg)
        except Exception as exc:
            print(f"PostgreSQL skipped ({type(exc).__name__}: {exc})")
        else:
            try:
                rows += run("postgresql", url, args.large)
            finally:
                drop()
    print(
        table(
            [
                "database",
                "query",
                f"p50 ms @{SMALL:,}",
                f"p50 ms @{args.large:,}",
                "ratio",
                "target <= 2",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
