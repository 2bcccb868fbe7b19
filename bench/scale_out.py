"""Full-flow calls per second on PostgreSQL with one instance, two instances, and one
instance with ``--workers 2``, in one run, each on a fresh database:

    python bench/scale_out.py [--concurrency 16] [--flows 400]

A flow is register, finish and attachRecord of a 100 KB recording (three requests). The
load generator's connections are spread over the instances' ports (a load balancer's
round robin). Each instance keeps recordings in its own local folder: the figure is the
server's, not the storage's. The database is ``B24TEL_BENCH_DATABASE_URL`` (default: the
local PostgreSQL). Everything runs on this machine: the load generator takes CPU too.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PG_ENV, Result, b24tel_server, load, percentile, scratch_postgres, table
from flow import scenario

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


@contextmanager
def servers(database: str, count: int, workers: int) -> Iterator[tuple[list[int], str]]:
    """``count`` instances (``workers`` processes each) on one fresh database; their ports
    and the webhook path."""
    url, drop = scratch_postgres(database)
    try:
        with ExitStack() as stack:
            args = ("--workers", str(workers)) if workers > 1 else ()
            first = stack.enter_context(b24tel_server(database_url=url, args=args))
            ports = [first.port]
            for _ in range(count - 1):
                other = stack.enter_context(b24tel_server(database_url=url, hook=first.hook))
                ports.append(other.port)
            yield ports, first.hook
    finally:
        drop()


def run(ports: list[int], hook: str, concurrency: int, flows: int) -> Result:
    flow = scenario("flow", hook, baseline=False)
    asyncio.run(load(ports, flow, concurrency, concurrency * 2))  # warm-up
    return asyncio.run(load(ports, flow, concurrency, flows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--flows", type=int, default=400)
    opts = parser.parse_args()
    database = os.environ.get(PG_ENV, DEFAULT_PG)
    setups = (("1 instance", 1, 1), ("2 instances", 2, 1), ("1 instance, --workers 2", 1, 2))
    results: dict[str, Result] = {}
    for name, count, workers in setups:
        with servers(database, count, workers) as (ports, hook):
            results[name] = run(ports, hook, opts.concurrency, opts.flows)
        print(f"{name}: {opts.flows / results[name].seconds:.1f} calls/s", flush=True)
    base = opts.flows / results["1 instance"].seconds
    rows = []
    for name, result in results.items():
        calls = opts.flows / result.seconds
        latencies = result.all_latencies()
        rows.append(
            [
                name,
                f"{calls:.1f}",
                f"{result.rate:.0f}",
                f"{percentile(latencies, 0.5) * 1000:.1f}",
                f"{percentile(latencies, 0.99) * 1000:.1f}",
                f"{calls / base:.2f}",
            ]
        )
    print(
        f"\nfull flow on PostgreSQL, concurrency {opts.concurrency}, {opts.flows} calls, "
        f"{os.cpu_count()} CPUs"
    )
    print(table(["setup", "calls/s", "requests/s", "p50 ms", "p99 ms", "ratio"], rows))


if __name__ == "__main__":
    main()
