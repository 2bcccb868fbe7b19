"""The server's CPU time per request under load: what each step of a performance round buys,
without the noise of a side-by-side throughput run.

One ``b24tel serve`` (SQLite, or ``--database-url``), ``wrk`` at concurrency 32 (bench/wrkload.py)
for ``--seconds``, after a short warm-up; prints requests/s, the server's CPU share and its
CPU milliseconds per request, for register alone and for the full flow (register, finish,
attachRecord with a 100 KB recording; three requests).

On PostgreSQL it also prints the CPU milliseconds per request of the database's processes and
of the load generator, and what they leave for ``--workers 2``: on a machine where the server,
the database and ``wrk`` share the cores, N cores serve at most N ÷ (server + database +
wrk CPU per request) requests a second — the bound on what a second worker can add over the
one process measured.

With ``--workers N`` (PostgreSQL) it measures ``serve --workers N`` on the same database too,
its CPU counted over all its processes: a second worker's overhead shows as CPU milliseconds
per request above one process's.

    python bench/cpu.py [--seconds 8] [--database-url URL [--workers 2]]

``--database-url`` names the server: the runs use a scratch database on it, dropped after.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import resource
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

import wrkload
from common import b24tel_server, scratch_postgres, table

from b24tel.simulate import wav

RECORD_B64 = base64.b64encode(wav(100_000)).decode()
CORES = os.cpu_count() or 1


def _cpu(processes: list[psutil.Process]) -> dict[int, float]:
    out = {}
    for process in processes:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            out[process.pid] = times.user + times.system
    return out


def _postgres() -> list[psutil.Process]:
    """The local PostgreSQL's processes (its backends come and go with connections)."""
    return [p for p in psutil.process_iter(["name"]) if (p.info["name"] or "").startswith("postg")]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once it has exited
    return usage.ru_utime + usage.ru_stime


def _server(pid: int) -> list[psutil.Process]:
    """The server and, with --workers, its worker processes."""
    process = psutil.Process(pid)
    return [process, *process.children(recursive=True)]


def probe(port: int, hook: str, script: str, pid: int, seconds: int) -> list[object]:
    wrkload.run(port, hook, script, connections=32, seconds=2, record=RECORD_B64)  # warm-up
    server = _server(pid)
    before, pg_before, load_before = _cpu(server), _cpu(_postgres()), _children_cpu()
    started = time.monotonic()
    result = wrkload.run(port, hook, script, connections=32, seconds=seconds, record=RECORD_B64)
    after, wall = _cpu(server), time.monotonic() - started
    pg = sum(t - pg_before.get(pid, 0.0) for pid, t in _cpu(_postgres()).items())
    load = _children_cpu() - load_before
    cpu = sum(t - before.get(pid, 0.0) for pid, t in after.items())
    n = max(result.requests, 1)
    bound = (CORES / ((cpu + pg + load) / n)) / max(result.rate, 1e-9)
    return [f"{result.rate:.0f}", f"{100 * cpu / wall:.0f}", f"{1000 * cpu / n:.2f}",
            f"{1000 * pg / n:.2f}", f"{1000 * load / n:.3f}", f"{bound:.2f}x",
            result.failed]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--workers", type=int, default=1,
                        help="also measure `serve --workers N` (PostgreSQL)")  # fmt: skip
    args = parser.parse_args()
    if not args.database_url:
        print_rows(measure("", 1, args.seconds))
        return
    # a scratch database on that server: the webhook is printed on a first start only
    url, drop = scratch_postgres(args.database_url)
    try:
        print_rows(measure(url, args.workers, args.seconds))
    finally:
        drop()


def measure(database_url: str, workers: int, seconds: int) -> list[list[object]]:
    rows = []
    scripts = (("register", wrkload.REGISTER), ("full flow", wrkload.FLOW))
    with b24tel_server(database_url=database_url) as server:
        for name, script in scripts:
            rows.append([name, *probe(server.port, server.hook, script, server.proc.pid,
                                      seconds)])  # fmt: skip
        hook = server.hook
    if workers > 1 and database_url:
        # the same database (its webhook is printed on first start only): where a second
        # worker's CPU goes, against one process's per request
        extra = ("--workers", str(workers))
        with b24tel_server(database_url=database_url, hook=hook, args=extra) as server:
            for name, script in scripts:
                rows.append([f"{name}, {workers} workers",
                             *probe(server.port, server.hook, script, server.proc.pid,
                                    seconds)])  # fmt: skip
    return rows


def print_rows(rows: list[list[object]]) -> None:
    print(
        table(
            [
                "scenario",
                "req/s",
                "server CPU %",
                "CPU ms per request",
                "database CPU ms",
                "wrk CPU ms",
                f"{CORES} cores allow",
                "failed",
            ],
            rows,
        )
    )
    print(
        f"\n'{CORES} cores allow': {CORES} ÷ (server + database + wrk CPU per request), over the"
        " requests/s measured — what --workers can add at most on this machine"
        " (the database column counts this machine's PostgreSQL, whoever else uses it)"
    )


if __name__ == "__main__":
    main()
