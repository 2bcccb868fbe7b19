"""Request throughput and latency of the call flow, against a baseline measured in the same
run.

Scenarios, at concurrency 1 and 8 from the Python generator (latency per method) and at 32
from ``wrk`` (C, one thread: the load takes little of the server's CPU; bench/wrkload.py):

- ``register``: telephony.externalCall.register only;
- ``flow``: register → finish → attachRecord with a 100 KB recording (base64 in JSON);
  three requests per flow, counted as three.

Servers: ``b24tel serve`` on SQLite and on PostgreSQL (``B24TEL_BENCH_DATABASE_URL``, default
the local server; skipped when unreachable) — on PostgreSQL also with ``--workers 2`` at
concurrency 32 (its register against one process's is a target) — and two references
measured in the same run:

- the bare Starlette endpoint — a minimal app on the same uvicorn settings answering a fixed
  Bitrix-style envelope (register at 32 only);
- the SQL floor — the statements one register or flow executes, replayed through the raw
  driver with no HTTP and no ORM (bench/floor.py).

Prints requests/s, p50 and p99 and both ratios; then each target, met or not; then the
request journal's overhead on a register's server time (journal on and off, alternating).

    python bench/flow.py [--quick] [--journal-only | --no-journal]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import floor
import wrkload
from common import (
    PG_ENV,
    Result,
    b24tel_server,
    baseline_server,
    load,
    percentile,
    scratch_postgres,
    table,
    timed,
)

from b24tel.simulate import wav

CONCURRENCY = (1, 8, 32)
SERIAL = itertools.count()
RECORD_B64 = base64.b64encode(wav(100_000)).decode()
# the reference cloud's single-request times in the docs' examples; p99 target = 1 % of them
REFERENCE_SECONDS = {"register": 1.12, "finish": 2.30, "attachRecord": 2.40}


def scenario(kind: str, hook: str, baseline: bool):  # type: ignore[no-untyped-def]
    method = (
        (lambda m: f"{hook}telephony.externalCall.{m}")
        if not baseline
        else (lambda m: f"/rest/1/code/telephony.externalCall.{m}")
    )

    async def flow(conn, index: int, result: Result) -> None:  # type: ignore[no-untyped-def]
        # a number never used before in this process: a register repeated from an earlier
        # run would be a dedup hit (no insert) and flatter the figures
        params = floor.register_params(next(SERIAL))
        reg = await timed(conn, result, "register", method("register"), params)
        if kind == "register":
            return
        call_id = reg["result"]["CALL_ID"] if not baseline else "externalCall.x.1"
        await timed(
            conn,
            result,
            "finish",
            method("finish"),
            {"CALL_ID": call_id, "USER_ID": 1, "DURATION": 42},
        )
        await timed(
            conn,
            result,
            "attachRecord",
            method("attachRecord"),
            {"CALL_ID": call_id, "FILENAME": "call.wav", "FILE_CONTENT": RECORD_B64},
        )

    return flow


def flows_for(kind: str, concurrency: int, quick: bool) -> int:
    base = {"register": 600, "flow": 200}[kind]
    return max(concurrency * 4, base // (3 if quick else 1))


def measure(port: int, hook: str, quick: bool) -> dict[tuple[str, int], Any]:
    """Concurrency 1 and 8 from the Python generator (latency per method); 32 from wrk (the
    generator when wrk cannot be had)."""
    out: dict[tuple[str, int], Any] = {}
    for kind in ("register", "flow"):
        for c in (1, 8):
            flow = scenario(kind, hook, False)
            asyncio.run(load(port, flow, c, c * 2))  # warm-up
            out[(kind, c)] = asyncio.run(load(port, flow, c, flows_for(kind, c, quick)))
        out[(kind, 32)] = at_32(port, hook, kind, quick)
    return out


def at_32(port: int, hook: str, kind: str, quick: bool) -> Any:
    seconds = 4 if quick else 10
    if wrkload.available():
        script = wrkload.REGISTER if kind == "register" else wrkload.FLOW
        wrkload.run(port, hook, script, connections=32, seconds=1, record=RECORD_B64)  # warm-up
        return wrkload.run(port, hook, script, connections=32, seconds=seconds, record=RECORD_B64)
    flow = scenario(kind, hook, not hook)
    return asyncio.run(load(port, flow, 32, flows_for(kind, 32, quick)))


def register_server_ms(lines: list[str]) -> list[float]:
    """Server-side durations of the registers, from the access log."""
    out = []
    for line in lines:
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("method") == "telephony.externalCall.register":
                out.append(float(record["duration_ms"]))
    return out


def journal_overhead(quick: bool) -> None:
    """A register's server time with the request journal on and off, alternating runs of
    the same server on SQLite; target: the journal adds at most 10 %."""
    rounds, count = (2, 300) if quick else (3, 1000)
    medians: dict[str, list[float]] = {"on": [], "off": []}
    for _ in range(rounds):
        for state, flag in (("on", "true"), ("off", "false")):
            env = {"B24TEL_JOURNAL_ENABLED": flag, "B24TEL_LOG_LEVEL": "info",
                   "B24TEL_LOG_FORMAT": "json"}  # fmt: skip
            with b24tel_server(env) as server:
                flow = scenario("register", server.hook, False)
                # one client: the server time of a register, not its wait for a lock
                asyncio.run(load(server.port, flow, 1, 100))  # warm-up
                asyncio.run(load(server.port, flow, 1, count))
                times = register_server_ms(server.lines)[100:]
            medians[state].append(statistics.median(times))
    on, off = statistics.median(medians["on"]), statistics.median(medians["off"])
    rows = [[state, f"{statistics.median(m):.2f}", " ".join(f"{x:.2f}" for x in m)]
            for state, m in medians.items()]  # fmt: skip
    print(table(["journal", "register server ms (median)", "per run"], rows))
    added = on / off - 1
    print(f"journal adds {added:+.1%} to a register's server time (target <= 10%: "
          f"{'met' if added <= 0.10 else 'NOT met'})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer requests, shorter runs")
    parser.add_argument("--journal-only", action="store_true",
                        help="only the request journal's overhead")  # fmt: skip
    parser.add_argument("--no-journal", action="store_true",
                        help="skip the request journal's overhead")  # fmt: skip
    args = parser.parse_args()
    if args.journal_only:
        journal_overhead(args.quick)
        return
    print(f"load at concurrency 32: {'wrk' if wrkload.available() else 'the Python generator'}")
    seconds = 2.0 if args.quick else 5.0
    floors: dict[str, dict[str, float]] = {"sqlite": {}, "postgresql": {}}
    for kind in ("register", "flow"):
        floors["sqlite"][kind] = floor.floor(kind, "", seconds)[0]
        pg_floor = floor.pg_floor(kind, seconds)
        if pg_floor:
            floors["postgresql"][kind] = pg_floor[0]
    with baseline_server() as base:
        baseline = at_32(base.port, "/rest/1/code/", "register", args.quick)
    results: dict[str, dict] = {}
    workers: dict[str, Any] = {}
    with b24tel_server() as server:
        results["sqlite"] = measure(server.port, server.hook, args.quick)
    pg = os.environ.get(PG_ENV, "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    try:
        url, drop = scratch_postgres(pg)
    except Exception as exc:  # no PostgreSQL here: say so and go on
        print(f"PostgreSQL skipped ({type(exc).__name__}: {exc})")
    else:
        try:
            with b24tel_server(database_url=url) as server:
                results["postgresql"] = measure(server.port, server.hook, args.quick)
                hook = server.hook
            # what `--workers 2` adds on two cores (a target on PostgreSQL: >= 1.6x one)
            with b24tel_server(database_url=url, hook=hook, args=("--workers", "2")) as server:
                workers = {kind: at_32(server.port, server.hook, kind, args.quick)
                           for kind in ("register", "flow")}  # fmt: skip
        finally:
            drop()
    rows = [["baseline", "register", 32, f"{baseline.rate:.0f}", lat(baseline, 0.5),
             lat(baseline, 0.99), "1.00", ""]]  # fmt: skip
    for db, res in results.items():
        for kind in ("register", "flow"):
            for c in (1, 8, 32):
                r = res[(kind, c)]
                sql = floors[db].get(kind)
                rows.append([db, kind, c, f"{r.rate:.0f}", lat(r, 0.5), lat(r, 0.99),
                             f"{r.rate / baseline.rate:.3f}" if kind == "register" else "",
                             f"{r.rate / sql:.3f}" if sql else ""])  # fmt: skip
    for kind, r in workers.items():
        sql = floors["postgresql"].get(kind)
        rows.append(["postgresql, 2 workers", kind, 32, f"{r.rate:.0f}", lat(r, 0.5),
                     lat(r, 0.99), f"{r.rate / baseline.rate:.3f}" if kind == "register" else "",
                     f"{r.rate / sql:.3f}" if sql else ""])  # fmt: skip
    for db, kinds in floors.items():
        for kind, rate in kinds.items():
            rows.append([f"{db} SQL floor", kind, "", f"{rate:.0f}", "", "", "", "1.000"])
    print(table(["server", "scenario", "conc", "req/s", "p50 ms", "p99 ms", "÷ baseline",
                 "÷ SQL floor"], rows))  # fmt: skip
    print()
    targets(baseline, floors, results, workers)
    if not args.no_journal:
        print()
        journal_overhead(args.quick)


def lat(result: Any, q: float) -> str:
    """p50 / p99 in ms, from the generator's samples or wrk's summary."""
    if isinstance(result, wrkload.WrkResult):
        return f"{(result.p50 if q == 0.5 else result.p99) * 1000:.1f}"
    return f"{percentile(result.all_latencies(), q) * 1000:.1f}"


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def targets(baseline: Any, floors: dict, results: dict, workers: dict) -> None:
    """Round three's targets (docs/benchmarks.md, "Request throughput, round three")."""
    print("targets")
    for db, res in results.items():
        reg = res[("register", 32)].rate
        if db == "sqlite":
            share = reg / baseline.rate
            print(f"  {db}: register at 32 = {share:.1%} of the bare Starlette endpoint (>= 10%: "
                  f"{verdict(share >= 0.10)})")  # fmt: skip
            share = res[("flow", 32)].rate / baseline.rate
            print(f"  {db}: full flow at 32 = {share:.1%} of the bare Starlette endpoint (>= 5%: "
                  f"{verdict(share >= 0.05)})")  # fmt: skip
        elif "register" in floors[db]:
            share = reg / floors[db]["register"]
            print(f"  {db}: register at 32 = {share:.1%} of its SQL floor (>= 50%: "
                  f"{verdict(share >= 0.50)})")  # fmt: skip
        if db == "postgresql" and "register" in workers:
            gain = workers["register"].rate / reg
            print(f"  {db}: --workers 2 register at 32 = {gain:.2f}x one process (>= 1.6x: "
                  f"{verdict(gain >= 1.6)})")  # fmt: skip
        lat8 = res[("flow", 8)].latencies
        for name, seconds in REFERENCE_SECONDS.items():
            p99 = percentile(lat8[name], 0.99)
            limit = seconds / 100
            print(f"  {db}: p99 {name} at 8 = {p99 * 1000:.1f} ms (<= {limit * 1000:.1f} ms: "
                  f"{verdict(p99 <= limit)})")  # fmt: skip


if __name__ == "__main__":
    main()
