"""attachRecord throughput: 1, 10 and 100 MB recordings in each mode, against the floor.

Modes: FILE_CONTENT in a JSON body, FILE_CONTENT in a form body, the two-step upload URL
(multipart), RECORD_URL (served from 127.0.0.1). The floor, measured in the same run:
decoding the same base64, hashing it (sha256) and writing it to a file, in one process,
without HTTP. Prints MB/s (of recording) and the ratio to the floor.
Targets at 100 MB: FILE_CONTENT in JSON, the upload URL and RECORD_URL >= 50 % of the floor;
FILE_CONTENT in a form >= 40 %.

    python bench/ingest.py [--sizes 1,10,100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    MODES,
    Connection,
    FileServer,
    Recording,
    attach,
    b24tel_server,
    finished_call,
    table,
)

from b24tel.simulate import wav

MB = 1024 * 1024
TARGETS = {"json": 0.50, "form": 0.40, "upload": 0.50, "url": 0.50}


def floor_seconds(b64: bytes, directory: str) -> float:
    t0 = time.perf_counter()
    data = base64.b64decode(b64)
    hashlib.sha256(data).hexdigest()
    with open(os.path.join(directory, "floor.wav"), "wb") as fh:
        fh.write(data)
    return time.perf_counter() - t0


async def attach_seconds(
    port: int, hook: str, mode: str, rec: Recording, url: str, index: int
) -> float:
    conn = Connection(port)
    call_id = await finished_call(conn, hook, index)
    t0 = time.perf_counter()
    await attach(conn, hook, mode, call_id, rec, url)
    elapsed = time.perf_counter() - t0
    conn.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1,10,100")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    files = FileServer()
    rows, verdicts = [], []
    env = {"B24TEL_RECORD_URL_ALLOWLIST": "127.0.0.1/32"}
    with b24tel_server(env) as server, tempfile.TemporaryDirectory() as tmp:
        index = 0
        for size in sizes:
            data = wav(size * MB)
            rec = Recording(data)
            files.data = data
            floor = statistics.median(floor_seconds(rec.b64, tmp) for _ in range(args.repeat))
            floor_rate = size / floor
            rows.append([f"{size} MB", "floor", f"{floor_rate:.0f}", "1.00"])
            for mode in MODES:
                times = []
                for _ in range(args.repeat):
                    index += 1
                    times.append(
                        asyncio.run(
                            attach_seconds(server.port, server.hook, mode, rec, files.url, index)
                        )
                    )
                rate = size / statistics.median(times)
                rows.append([f"{size} MB", mode, f"{rate:.0f}", f"{rate / floor_rate:.2f}"])
                if size == max(sizes):
                    ok = rate / floor_rate >= TARGETS[mode]
                    verdicts.append(
                        f"  {mode} at {size} MB: {rate / floor_rate:.0%} of the "
                        f"floor (>= {TARGETS[mode]:.0%}: {'met' if ok else 'NOT met'})"
                    )
    files.close()
    print(table(["size", "mode", "MB/s", "ratio"], rows))
    print("\ntargets")
    print("\n".join(verdicts))


if __name__ == "__main__":
    main()
