"""Event delivery, on SQLite and on PostgreSQL, in one run:

- **throughput**: ``--events`` leads are made with delivery switched off, then one or two
  delivery workers (``b24tel events deliver``; two only on PostgreSQL, where instances
  share the outbox) drain the outbox to a local handler; events/s, and a check that every
  event arrived exactly once;
- **latency**: with delivery inside ``serve`` (one instance, and two on PostgreSQL), leads
  made at a steady ``--rate`` per second; the time from the commit of each change (its
  answer arriving) to its delivery, p50 and p99.

The handler is a separate process (so the load generator does not slow it down) that
prints the monotonic clock at each receipt; every process on the machine reads the same
clock.

    python bench/events.py [--events 2000] [--rate 50] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from common import PG_ENV, ROOT, b24tel_server, free_port, percentile, scratch_postgres, table

ENV = {"B24TEL_EVENT_HANDLER_ALLOWLIST": "127.0.0.1/32", "B24TEL_RATE_LIMIT": "off"}
HANDLER = r"""
import sys, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
        lead = urllib.parse.parse_qs(body).get("data[FIELDS][ID]", [""])[0]
        key = self.headers.get("Idempotency-Key", "")
        sys.stdout.write(f"{time.monotonic()} {lead} {key}\n"); sys.stdout.flush()
        self.send_response(200); self.send_header("content-length", "0"); self.end_headers()
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


class Handler:
    """The handler process and what it received: (monotonic time, lead id, key)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen([sys.executable, "-c", HANDLER, str(self.port)],
                                     stdout=subprocess.PIPE, text=True)  # fmt: skip
        self.received: list[tuple[float, str, str]] = []
        threading.Thread(target=self._read, daemon=True).start()
        time.sleep(0.5)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            at, lead, key = line.split()
            self.received.append((float(at), lead, key))

    def wait(self, count: int, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


async def make_leads(urls: list[str], total: int, rate: float | None) -> dict[str, float]:
    """Commit times (answer received) by lead id; at ``rate`` per second, or as fast as 16
    clients go."""
    committed: dict[str, float] = {}
    async with httpx.AsyncClient(timeout=60) as client:

        async def one(n: int) -> None:
            r = await client.post(urls[n % len(urls)] + "crm.lead.add",
                                  json={"fields": {"TITLE": f"L{n}"}})  # fmt: skip
            committed[str(r.json()["result"])] = time.monotonic()

        if rate is None:
            limit = asyncio.Semaphore(16)

            async def bounded(n: int) -> None:
                async with limit:
                    await one(n)

            await asyncio.gather(*(bounded(n) for n in range(total)))
        else:
            tasks = []
            for n in range(total):
                tasks.append(asyncio.create_task(one(n)))
                await asyncio.sleep(1 / rate)
            await asyncio.gather(*tasks)
    return committed


@contextmanager
def servers(instances: int, database_url: str, env: dict[str, str]) -> Iterator[list]:
    with ExitStack() as stack:
        first = stack.enter_context(b24tel_server({**ENV, **env}, database_url=database_url))
        rest = [stack.enter_context(b24tel_server({**ENV, **env}, database_url=database_url,
                                                  hook=first.hook))
                for _ in range(instances - 1)]  # fmt: skip
        yield [first, *rest]


def throughput(instances: int, database_url: str, total: int) -> list[object]:
    handler = Handler()
    try:
        with servers(1, database_url, {"B24TEL_EVENT_DELIVERY": "false"}) as (server,):
            server.cli("webhooks", "outgoing", "create", "--event", "ONCRMLEADADD",
                       "--handler", f"http://127.0.0.1:{handler.port}/")  # fmt: skip
            asyncio.run(make_leads([f"http://127.0.0.1:{server.port}{server.hook}"], total,
                                   None))  # fmt: skip
            env = {**server.env, **ENV}
            started = time.monotonic()
            workers = [
                subprocess.Popen([sys.executable, "-m", "b24tel", "--data-dir", server.data_dir,
                                  "events", "deliver"], env=env, cwd=ROOT,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                for _ in range(instances)
            ]  # fmt: skip
            handler.wait(total)
            finished = max((r[0] for r in handler.received), default=started)
            for w in workers:
                w.terminate()
                w.wait(20)
    finally:
        handler.stop()
    keys = {r[2] for r in handler.received}
    return [f"{len(handler.received)}/{total}", f"{total / (finished - started):.0f}",
            len(handler.received) - len(keys)]  # fmt: skip


def latency(instances: int, database_url: str, rate: float, seconds: float) -> list[object]:
    handler = Handler()
    total = int(rate * seconds)
    try:
        with servers(instances, database_url, {}) as running:
            running[0].cli("webhooks", "outgoing", "create", "--event", "ONCRMLEADADD",
                           "--handler", f"http://127.0.0.1:{handler.port}/")  # fmt: skip
            time.sleep(1.5)  # every worker has looked at the outbox once
            urls = [f"http://127.0.0.1:{s.port}{running[0].hook}" for s in running]
            committed = asyncio.run(make_leads(urls, total, rate))
            handler.wait(total)
    finally:
        handler.stop()
    arrived = {r[1]: r[0] for r in handler.received}
    lags = [(arrived[k] - t) * 1000 for k, t in committed.items() if k in arrived]
    return [f"{len(arrived)}/{total}", f"{statistics.median(lags):.1f}",
            f"{percentile(lags, 0.99):.1f}"]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    pg = os.environ.get(PG_ENV, "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    drain, steady = [], []
    plans = [("SQLite", 1, False), ("PostgreSQL", 1, True), ("PostgreSQL", 2, True)]
    for name, instances, postgres in plans:
        label = f"{name}, {instances} instance{'s' if instances > 1 else ''}"
        for rows, run in ((drain, throughput), (steady, latency)):
            url, drop = scratch_postgres(pg) if postgres else ("", lambda: None)
            try:
                if run is throughput:
                    rows.append([label, *throughput(instances, url, args.events)])
                else:
                    rows.append([label, *latency(instances, url, args.rate, args.seconds)])
            finally:
                drop()
    print(table(["setup", "delivered", "events/s", "duplicates"], drain))
    print()
    print(table(["setup", f"delivered at {args.rate:g}/s", "lag p50 ms", "lag p99 ms"],
                steady))  # fmt: skip
    one, two = float(str(drain[1][2])), float(str(drain[2][2]))
    print(f"\n2 instances vs 1 on PostgreSQL: {two / one:.2f}x events/s")


if __name__ == "__main__":
    main()
