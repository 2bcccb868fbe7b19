"""Phone lookup cost against CRM size: 1 000 vs 100 000 contacts.

Seeds contacts with phone multifields in bulk (not through HTTP), then times the lookup
telephony uses for every call (``crm.phone_search.search_phone``: normalise, index probe, load the
matches) and prints the median per size and the ratio. An index lookup keeps the ratio near
1; a table scan would make it ~100.

    python bench/crm_lookup.py                      # SQLite in a temporary directory
    B24TEL_BENCH_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1/postgres \
        python bench/crm_lookup.py                  # also PostgreSQL (a scratch database)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

from b24tel.crm import phone_search as service
from b24tel.crm.models import Contact, Multifield
from b24tel.db import migrate
from b24tel.db.engine import Database, make_migration_engine
from b24tel.phones import normalize

SIZES = (1_000, 100_000)
LOOKUPS = 300
BATCH = 5_000


def phone(i: int) -> str:
    return f"+7 916 {i // 10000 % 1000:03d}-{i // 100 % 100:02d}-{i % 100:02d}"


async def seed(db: Database, start: int, stop: int) -> None:
    now = dt.datetime.now(dt.UTC)
    for lo in range(start, stop, BATCH):
        hi = min(stop, lo + BATCH)
        async with db.transaction() as s:
            await s.execute(
                insert(Contact),
                [
                    {
                        "id": i,
                        "name": f"C{i}",
                        "assigned_by_id": 1,
                        "created_by_id": 1,
                        "modify_by_id": 1,
                        "date_create": now,
                        "date_modify": now,
                        "opened": "Y",
                        "export": "Y",
                    }
                    for i in range(lo + 1, hi + 1)
                ],
            )
            await s.execute(
                insert(Multifield),
                [
                    {
                        "entity_type": "CONTACT",
                        "entity_id": i,
                        "type_id": "PHONE",
                        "value_type": "WORK",
                        "value": phone(i),
                        "normalized": normalize(phone(i)),
                    }
                    for i in range(lo + 1, hi + 1)
                ],
            )


async def median_lookup(db: Database, size: int) -> float:
    rng = random.Random(size)
    times = []
    for _ in range(LOOKUPS):
        i = rng.randint(1, size)
        query = f"8 916 {i // 10000 % 1000:03d} {i // 100 % 100:02d} {i % 100:02d}"
        t0 = time.perf_counter()
        async with db.transaction(readonly=True) as s:
            found = await service.search_phone(s, query, "RU")
        times.append(time.perf_counter() - t0)
        assert [m.entity_id for m in found] == [i], (query, found)
    return statistics.median(times)


async def run(url: str) -> tuple[float, float]:
    migrate.upgrade(url)
    db = Database(url)
    try:
        await seed(db, 0, SIZES[0])
        small = await median_lookup(db, SIZES[0])
        await seed(db, SIZES[0], SIZES[1])
        if not db.is_sqlite:
            # fresh statistics, as autovacuum would gather them (committed: ANALYZE inside
            # a rolled-back transaction leaves none)
            async with db.engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("ANALYZE"))
        large = await median_lookup(db, SIZES[1])
    finally:
        await db.dispose()
    return small, large


async def _admin(url: str, sql: str) -> None:
    engine = make_migration_engine(url)
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(sql))
    await engine.dispose()


def main() -> None:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(("sqlite", *asyncio.run(run(f"sqlite+aiosqlite:///{tmp}/bench.db"))))
    pg = os.environ.get("B24TEL_BENCH_DATABASE_URL")
    if pg:
        server = make_url(pg)
        name = f"b24tel_bench_{secrets.token_hex(4)}"
        asyncio.run(_admin(pg, f'CREATE DATABASE "{name}"'))
        try:
            url = server.set(database=name).render_as_string(hide_password=False)
            results.append(("postgresql", *asyncio.run(run(url))))
        finally:
            asyncio.run(_admin(pg, f'DROP DATABASE "{name}" WITH (FORCE)'))
    print(f"phone lookup (search_phone), median of {LOOKUPS} lookups")
    print(f"{'database':<12}{'1 000 rows':>14}{'100 000 rows':>16}{'ratio':>10}")
    for name, small, large in results:
        print(f"{name:<12}{small * 1e3:>11.3f} ms{large * 1e3:>13.3f} ms{large / small:>10.2f}")
    worst = max(large / small for _, small, large in results)
    print(f"target: ratio <= 2 -> {'met' if worst <= 2 else 'NOT met'} (worst {worst:.2f})")


if __name__ == "__main__":
    main()
