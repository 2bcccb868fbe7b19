"""Hostile requests without credentials, and what they cost everyone else.

Starts ``b24tel serve`` (SQLite) and measures, in one run:

1. the server time (``duration_ms`` of its access log) to refuse an unauthenticated body of
   20 000 and of 40 000 ``a[]=1`` pairs, and a 100 MB ``application/octet-stream`` body —
   the first two used to take 9 s and 42 s, blocking every other client meanwhile;
2. the latency of an authenticated ``server.time`` sent alone, and sent while another
   connection keeps sending the 20 000-pair body: the added delay is what one hostile
   client costs the others.

Targets: the 20 000-pair refusal under 50 ms of server time; the authenticated request
delayed by no more than that.

    python bench/hostile.py [--rounds 40]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Connection, b24tel_server, percentile, table

TARGET_MS = 50.0
FORM = "application/x-www-form-urlencoded"


def server_times(lines: list[str], marker: str) -> list[float]:
    """``duration_ms`` of the access-log lines whose message contains ``marker``."""
    out = []
    for line in lines:
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        if record.get("logger") == "b24tel.access" and marker in record["message"]:
            out.append(float(record["duration_ms"]))
    return out


async def refuse(port: int, path: str, body: bytes, ctype: str, rounds: int) -> list[float]:
    conn, times = Connection(port), []
    for _ in range(rounds):
        started = time.perf_counter()
        status, _ = await conn.request("POST", path, body, ctype)
        times.append((time.perf_counter() - started) * 1000)
        assert status in (401, 413), status
        conn.close()
        conn = Connection(port)  # the server may close after a refused large body
    conn.close()
    return times


async def authenticated(port: int, hook: str, rounds: int) -> list[float]:
    conn, times = Connection(port), []
    for _ in range(rounds):
        started = time.perf_counter()
        status, _ = await conn.request("POST", hook + "server.time", b"{}")
        times.append((time.perf_counter() - started) * 1000)
        assert status == 200
        await asyncio.sleep(0.005)
    conn.close()
    return times


async def under_attack(port: int, hook: str, body: bytes, rounds: int) -> list[float]:
    stop = asyncio.Event()

    async def attacker() -> None:
        while not stop.is_set():
            await refuse(port, "/rest/server.time", body, FORM, 1)

    task = asyncio.create_task(attacker())
    await asyncio.sleep(0.2)
    try:
        return await authenticated(port, hook, rounds)
    finally:
        stop.set()
        await task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    pairs20k = b"a[]=1&" * 20_000
    pairs40k = b"a[]=1&" * 40_000
    blob = b"\0" * (100 * 1024 * 1024)
    env = {"B24TEL_LOG_LEVEL": "info", "B24TEL_LOG_FORMAT": "json"}
    rows = []
    with b24tel_server(env) as server:
        port = server.port

        async def measure() -> dict[str, list[float]]:
            await authenticated(port, server.hook, 10)  # warm-up: connections, caches
            out = {"alone": await authenticated(port, server.hook, args.rounds)}
            for name, body, ctype in (
                ("20 000 pairs", pairs20k, FORM),
                ("40 000 pairs", pairs40k, FORM),
            ):
                out[name] = await refuse(port, "/rest/user.get", body, ctype, args.rounds)
            out["100 MB octet-stream"] = await refuse(
                port, "/rest/methods", blob, "application/octet-stream", 3
            )
            out["under attack"] = await under_attack(port, server.hook, pairs20k, args.rounds)
            return out

        client = asyncio.run(measure())
        lines = list(server.lines)
    refused = server_times(lines, "/rest/user.get")  # 20 000-pair rounds, then 40 000
    for name, logged in (
        ("20 000 pairs", refused[: args.rounds]),
        ("40 000 pairs", refused[args.rounds : 2 * args.rounds]),
        ("100 MB octet-stream", server_times(lines, "/rest/methods")),
    ):
        rows.append([f"refuse {name} (server)", f"{statistics.median(logged):.1f}",
                     f"{max(logged):.1f}", ""])  # fmt: skip
    for name in ("20 000 pairs", "40 000 pairs", "100 MB octet-stream"):
        times = client[name]
        rows.append([f"refuse {name} (client)", f"{statistics.median(times):.1f}",
                     f"{max(times):.1f}", ""])  # fmt: skip
    alone, attacked = client["alone"], client["under attack"]
    delay = percentile(attacked, 0.99) - percentile(alone, 0.99)
    rows.append(["authenticated, alone", f"{statistics.median(alone):.1f}",
                 f"{percentile(alone, 0.99):.1f}", "1.00"])  # fmt: skip
    rows.append(["authenticated, under attack", f"{statistics.median(attacked):.1f}",
                 f"{percentile(attacked, 0.99):.1f}",
                 f"{statistics.median(attacked) / statistics.median(alone):.2f}"])  # fmt: skip
    print(table(["request", "median ms", "max/p99 ms", "ratio to alone"], rows))
    refusal = max(refused[: args.rounds])
    print(
        f"20 000-pair refusal: at most {refusal:.1f} ms of server time -> target "
        f"{'met' if refusal < TARGET_MS else 'NOT met'} (< {TARGET_MS:.0f} ms); "
        f"authenticated p99 delayed by {delay:.1f} ms -> target "
        f"{'met' if delay <= TARGET_MS else 'NOT met'} (<= {TARGET_MS:.0f} ms)"
    )


if __name__ == "__main__":
    main()
