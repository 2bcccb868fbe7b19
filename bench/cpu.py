"""The server's CPU time per request under load: what each step of a performance round buys,
without the noise of a side-by-side throughput run.

One ``b24tel serve`` (SQLite, or ``--database-url``), ``wrk`` at concurrency 32 (bench/wrkload.py)
for ``--seconds``, after a short warm-up; prints requests/s, the server's CPU share and its
CPU milliseconds per request, for register alone and for the full flow (register, finish,
attachRecord with a 100 KB recording; three requests).

    python bench/cpu.py [--seconds 8] [--database-url URL]
"""

from __future__ import annotations

import argparse
import base64
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

import wrkload
from common import b24tel_server, table

from b24tel.simulate import wav

RECORD_B64 = base64.b64encode(wav(100_000)).decode()


def probe(port: int, hook: str, script: str, pid: int, seconds: int) -> list[object]:
    wrkload.run(port, hook, script, connections=32, seconds=2, record=RECORD_B64)  # warm-up
    process = psutil.Process(pid)
    before, started = process.cpu_times(), time.monotonic()
    result = wrkload.run(port, hook, script, connections=32, seconds=seconds, record=RECORD_B64)
    after, wall = process.cpu_times(), time.monotonic() - started
    cpu = (after.user - before.user) + (after.system - before.system)
    return [f"{result.rate:.0f}", f"{100 * cpu / wall:.0f}",
            f"{1000 * cpu / max(result.requests, 1):.2f}", result.failed]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    rows = []
    with b24tel_server(database_url=args.database_url) as server:
        for name, script in (("register", wrkload.REGISTER), ("full flow", wrkload.FLOW)):
            rows.append([name, *probe(server.port, server.hook, script, server.proc.pid,
                                      args.seconds)])  # fmt: skip
    print(table(["scenario", "req/s", "server CPU %", "CPU ms per request", "failed"], rows))


if __name__ == "__main__":
    main()
