"""The server's peak memory while it ingests one 200 MB recording, in each mode.

Starts ``b24tel serve``, samples its RSS every 10 ms while one attachRecord of a 200 MB WAV
runs (FILE_CONTENT in JSON, FILE_CONTENT in a form, the upload URL, RECORD_URL, and
FILE_CONTENT inside a form-encoded ``batch`` command, percent-encoded twice as CRest and
MikoPBX-style connectors send it), and prints the peak growth over the RSS just before.
Target: at most 64 MB in every mode.

    python bench/memory.py [--size-mb 200]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psutil
from common import (
    MODES,
    Connection,
    FileServer,
    PeakRss,
    Recording,
    attach,
    b24tel_server,
    finished_call,
    table,
)

from b24tel.simulate import wav

MB = 1024 * 1024
TARGET_MB = 64


async def run(
    port: int,
    hook: str,
    mode: str,
    rec: Recording,
    url: str,
    index: int,
    process: psutil.Process,
) -> tuple[float, float]:
    conn = Connection(port)
    call_id = await finished_call(conn, hook, index)
    await asyncio.sleep(0.5)
    with PeakRss(process, interval=0.01) as rss:
        t0 = time.perf_counter()
        await attach(conn, hook, mode, call_id, rec, url)
        elapsed = time.perf_counter() - t0
    conn.close()
    return rss.growth / MB, elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=200)
    args = parser.parse_args()
    data = wav(args.size_mb * MB)
    rec = Recording(data)
    files = FileServer()
    files.data = data
    rows, worst = [], 0.0
    env = {"B24TEL_RECORD_URL_ALLOWLIST": "127.0.0.1/32"}
    with b24tel_server(env) as server:
        process = psutil.Process(server.proc.pid)
        for index, mode in enumerate((*MODES, "batch"), start=1):
            growth, seconds = asyncio.run(
                run(server.port, server.hook, mode, rec, files.url, index, process)
            )
            worst = max(worst, growth)
            rows.append(
                [
                    mode,
                    f"{growth:.1f}",
                    f"{seconds:.1f}",
                    "met" if growth <= TARGET_MB else "NOT met",
                ]
            )
    files.close()
    print(f"server peak RSS growth while ingesting a {args.size_mb} MB recording")
    print(table(["mode", "growth MB", "seconds", f"<= {TARGET_MB} MB"], rows))
    print(f"worst: {worst:.1f} MB -> target {'met' if worst <= TARGET_MB else 'NOT met'}")


if __name__ == "__main__":
    main()
