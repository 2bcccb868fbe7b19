"""Event delivery: events/s delivered to a local handler, and the latency from the commit
of a change to its delivery, with one and with two `b24tel serve` instances on one
PostgreSQL database (and one instance on SQLite), side by side in one run.

Each run makes ``--events`` leads (``crm.lead.add`` at concurrency 16, spread over the
instances) with an outgoing webhook bound to ONCRMLEADADD. The commit time of a change is
taken when its answer arrives (the commit happened just before), the delivery time when
the handler receives it; every delivery is checked to arrive exactly once.

    python bench/events.py [--events 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import threading
import time
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from common import PG_ENV, b24tel_server, free_port, percentile, scratch_postgres, table

CONCURRENCY = 16
ENV = {
    "B24TEL_EVENT_HANDLER_ALLOWLIST": "127.0.0.1/32",
    "B24TEL_RATE_LIMIT": "off",
}


class Handler:
    """Receipt times by lead id, and how many times each idempotency key came."""

    def __init__(self) -> None:
        self.port = free_port()
        self.arrived: dict[str, float] = {}
        self.keys: dict[str, int] = {}
        self.lock = threading.Lock()
        owner = self

        class Serve(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                now = time.monotonic()
                lead = parse_qs(body.decode()).get("data[FIELDS][ID]", [""])[0]
                key = self.headers.get("Idempotency-Key", "")
                with owner.lock:
                    owner.arrived.setdefault(lead, now)
                    owner.keys[key] = owner.keys.get(key, 0) + 1
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Serve)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def load(urls: list[str], total: int) -> dict[str, float]:
    """Commit times (answer received) by lead id."""
    committed: dict[str, float] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(total):
        queue.put_nowait(n)
    async with httpx.AsyncClient(timeout=60) as client:

        async def worker() -> None:
            while not queue.empty():
                n = queue.get_nowait()
                r = await client.post(urls[n % len(urls)] + "crm.lead.add",
                                      json={"fields": {"TITLE": f"L{n}"}})  # fmt: skip
                committed[str(r.json()["result"])] = time.monotonic()

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return committed


def run(name: str, instances: int, total: int, database_url: str) -> list[object]:
    handler = Handler()
    try:
        with ExitStack() as stack:
            first = stack.enter_context(b24tel_server(ENV, database_url=database_url))
            servers = [first] + [
                stack.enter_context(b24tel_server(ENV, database_url=database_url, hook=first.hook))
                for _ in range(instances - 1)
            ]
            first.cli("webhooks", "outgoing", "create", "--event", "ONCRMLEADADD",
                      "--handler", f"http://127.0.0.1:{handler.port}/")  # fmt: skip
            urls = [f"http://127.0.0.1:{s.port}{first.hook}" for s in servers]
            started = time.monotonic()
            committed = asyncio.run(load(urls, total))
            deadline = time.monotonic() + 120
            while len(handler.arrived) < total and time.monotonic() < deadline:
                time.sleep(0.05)
            finished = max(handler.arrived.values(), default=started)
    finally:
        handler.stop()
    lags = [(handler.arrived[k] - t) * 1000 for k, t in committed.items() if k in handler.arrived]
    duplicates = sum(c - 1 for c in handler.keys.values())
    return [
        name,
        f"{len(handler.arrived)}/{total}",
        f"{len(handler.arrived) / (finished - started):.0f}",
        f"{statistics.median(lags):.1f}" if lags else "-",
        f"{percentile(lags, 0.99):.1f}" if lags else "-",
        duplicates,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    args = parser.parse_args()
    pg = os.environ.get(PG_ENV, "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    rows = [run("SQLite, 1 instance", 1, args.events, "")]
    for instances in (1, 2):
        url, drop = scratch_postgres(pg)
        try:
            rows.append(run(f"PostgreSQL, {instances} instance(s)", instances, args.events, url))
        finally:
            drop()
    print(table(["setup", "delivered", "events/s", "lag p50 ms", "lag p99 ms", "duplicates"],
                rows))  # fmt: skip
    one, two = float(str(rows[1][2])), float(str(rows[2][2]))
    print(f"2 instances vs 1 on PostgreSQL: {two / one:.2f}x events/s")


if __name__ == "__main__":
    main()
