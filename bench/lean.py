"""The lean prototype: the least any design in Python does for a call flow, behind the same
HTTP stack, and the p99 latency it reaches at concurrency 8 on this machine.

The server (``python bench/lean.py serve …``, started by this script) is a Starlette app on
b24tel's uvicorn settings — the bare endpoint of bench/flow.py — that for each request reads
and parses the JSON body and runs the SQL that b24tel's own register, finish or
attachRecord ran (recorded through the real app by bench/floor.py, replayed through the raw
driver: ``sqlite3`` in place on the event loop, no thread hand-off; ``asyncpg`` from a pool
of 30, its statements prepared once and cached); attachRecord also decodes the base64
recording and writes and syncs it to a file in one thread hand-off. No ORM, no validation,
no journal, no events, no authentication: every real design does at least this.

The load is bench/flow.py's own Python generator at concurrency 8 (the full flow, whose
samples its p99 targets read too), against three servers in one run: the bare endpoint
(a fixed answer, no work at all), the prototype on SQLite and on PostgreSQL. Each p99 is
printed beside round three's target: when the prototype misses a target, no design in
Python reaches it on this machine.

    python bench/lean.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import floor
from common import (
    Server,
    baseline_server,
    bench_postgres,
    clean_env,
    free_port,
    load,
    percentile,
    table,
    wait_port,
)
from flow import REFERENCE_SECONDS, flows_for, scenario

ROOT = Path(__file__).resolve().parent.parent
HOOK = "/rest/1/code/"
POOL = 30  # b24tel.db.engine.POOL_SIZE


def serve(port: int, url: str, recorded: str, data: str) -> None:
    import asyncpg
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    from b24tel.config import Settings
    from b24tel.httpserver import http_options

    with open(recorded, "rb") as fh:
        calls, unique = pickle.load(fh)
    recorded_call_id = unique[0]
    serial = itertools.count()
    sqlite = floor.sqlite_connection(url) if not url.startswith("postgresql") else None
    pool: list[Any] = []

    def store(content: str, suffix: str) -> None:
        path = os.path.join(data, f"rec{suffix}.wav")
        with open(path, "wb") as fh:
            fh.write(base64.b64decode(content))
            fh.flush()
            os.fsync(fh.fileno())

    async def run(method: str, suffix: str) -> None:
        if sqlite is not None:
            floor.run_sqlite(sqlite, calls[method], unique, suffix)
            return
        if not pool:
            pool.append(
                await asyncpg.create_pool(floor.asyncpg_dsn(url), min_size=8, max_size=POOL)
            )
        async with pool[0].acquire() as conn:
            await floor.run_pg(conn, calls[method], unique, suffix)

    async def endpoint(request):  # type: ignore[no-untyped-def]
        params = json.loads(await request.body())
        method = request.path_params["path"].rsplit(".", 1)[-1]
        if method == "register":
            suffix = f"-l{next(serial)}"
            call_id = recorded_call_id + suffix
        else:
            call_id = params["CALL_ID"]
            suffix = call_id[len(recorded_call_id) :]
        if method == "attachRecord":
            await asyncio.to_thread(store, params["FILE_CONTENT"], suffix)
        await run(method, suffix)
        result = {"CALL_ID": call_id, "CRM_CREATED_LEAD": None, "CRM_ENTITY_ID": None}
        body = {"result": result, "time": {"start": 1, "finish": 1.1, "duration": 0.1}}
        return Response(json.dumps(body), media_type="application/json; charset=utf-8")

    app = Starlette(routes=[Route("/{path:path}", endpoint, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", **http_options(Settings()))


class lean_server:
    """The prototype on ``url`` (a SQLite file path or a PostgreSQL URL) in its own process."""

    def __init__(self, url: str, data: str) -> None:
        self.url, self.data = url, data

    def __enter__(self) -> Server:
        # recorded on the database the prototype then serves: the rows its statements refer
        # to (the user, the line, the recorded call) are there
        db = self.url if self.url.startswith("postgresql") else f"sqlite+aiosqlite:///{self.url}"
        calls, unique = asyncio.run(floor.record_calls(db, "flow"))
        recorded = os.path.join(self.data, "recorded.pickle")
        with open(recorded, "wb") as fh:
            pickle.dump((calls, unique), fh)
        port = free_port()
        args = [sys.executable, __file__, "serve", str(port), self.url, recorded, self.data]
        self.server = Server(subprocess.Popen(args, env=clean_env(), cwd=ROOT), port)
        wait_port(port)
        return self.server

    def __exit__(self, *exc: object) -> None:
        self.server.stop()


def p99s(port: int, quick: bool) -> dict[str, tuple[float, float]]:
    """method → (p50, p99) in ms at concurrency 8, from the full flow (bench/flow.py's
    scenario, count and percentiles: its targets read the same samples)."""
    flow = scenario("flow", HOOK, False)
    asyncio.run(load(port, flow, 8, 16))  # warm-up
    result = asyncio.run(load(port, flow, 8, flows_for("flow", 8, quick)))
    return {
        method: (percentile(samples, 0.5) * 1e3, percentile(samples, 0.99) * 1e3)
        for method, samples in result.latencies.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rows, verdicts = [], []
    with baseline_server() as base:
        measured = {"bare endpoint": p99s(base.port, args.quick)}
    with tempfile.TemporaryDirectory() as data, lean_server(f"{data}/lean.db", data) as server:
        measured["prototype, sqlite"] = p99s(server.port, args.quick)
    with bench_postgres() as url:
        if url is not None:
            with tempfile.TemporaryDirectory() as data, lean_server(url, data) as server:
                measured["prototype, postgresql"] = p99s(server.port, args.quick)
    for name, figures in measured.items():
        for method, (p50, p99) in figures.items():
            target = REFERENCE_SECONDS[method] * 10  # 1 % of the cloud's, in ms
            rows.append([name, method, f"{p50:.1f}", f"{p99:.1f}", f"{target:.1f}"])
            if name.startswith("prototype"):
                reach = "within reach" if p99 <= target else "OUT OF REACH on this machine"
                verdicts.append(
                    f"  {name}: p99 {method} at 8 = {p99:.1f} ms vs {target:.1f}: {reach}"
                )
    print(table(["server", "method", "p50 ms", "p99 ms", "target p99 ms"], rows))
    print("\nround three's p99 targets against the prototype\n" + "\n".join(verdicts))


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5])
    else:
        main()
