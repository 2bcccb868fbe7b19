"""Bridge mode, measured: what passing a call on adds to the portal's own latency, and how
close forwarding a backlog comes to the portal's rate limit.

1. Pass-through: ``server.time`` sent in turns straight to a portal (a second ``b24tel
   serve``) and through a bridge in front of it, one request at a time on a kept-alive
   connection each. Prints both p50/p99 and the difference. Target: p50 added ≤ 2 ms.
2. Forwarding: a portal limited to ``--rate`` requests a second (its leaky bucket: burst
   ``--rate``, drain ``--rate``), a bridge with ``upstream_rate`` = ``--rate``, and a
   connector sending ``--calls-per-second`` calls (register, then finish) for
   ``--seconds``. Every connector request must succeed; once the queue is empty, the
   portal must hold every call exactly once with its duration. Prints the forwarding rate
   while the backlog drained against the limit. Target: ≥ 95 % of it.

    python bench/bridge.py [--calls-per-second 10] [--seconds 30] [--rate 2]
                           [--only latency|forwarding]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Connection, Server, b24tel_server, percentile, table

BRIDGE_ENV = {"B24TEL_UPSTREAM_ALLOW_HTTP": "true", "B24TEL_UPSTREAM_TIMEOUT": "5"}


def _bridge_env(portal: Server, rate: float) -> dict[str, str]:
    return {**BRIDGE_ENV, "B24TEL_UPSTREAM_URL": f"http://127.0.0.1:{portal.port}{portal.hook}",
            "B24TEL_UPSTREAM_RATE": str(rate)}  # fmt: skip


async def _latencies(portal: Server, bridge: Server, samples: int) -> dict[str, list[float]]:
    direct, through = Connection(portal.port), Connection(bridge.port)
    seen: dict[str, list[float]] = {"portal": [], "bridge": []}
    for index in range(samples + 20):
        for name, conn, server in (("portal", direct, portal), ("bridge", through, bridge)):
            started = time.perf_counter()
            await conn.json(server.hook + "server.time", {})
            if index >= 20:  # the first ones warm both up
                seen[name].append((time.perf_counter() - started) * 1000)
    direct.close()
    through.close()
    return seen


def pass_through(samples: int) -> tuple[list[list[Any]], bool]:
    with b24tel_server() as portal, b24tel_server(_bridge_env(portal, 1000.0)) as bridge:
        seen = asyncio.run(_latencies(portal, bridge, samples))
    p50 = {k: statistics.median(v) for k, v in seen.items()}
    added = p50["bridge"] - p50["portal"]
    rows = [[name, f"{p50[name]:.2f}", f"{percentile(v, 0.99):.2f}"] for name, v in seen.items()]
    rows.append(["added by the bridge", f"{added:.2f}", ""])
    return rows, added <= 2.0


async def _connector(bridge: Server, per_second: float, seconds: float) -> tuple[int, list[str]]:
    failures: list[str] = []
    calls = int(per_second * seconds)

    async def one(index: int) -> None:
        conn = Connection(bridge.port)
        try:
            reg = await conn.json(
                bridge.hook + "telephony.externalCall.register",
                {"USER_ID": 1, "PHONE_NUMBER": f"+7916{index:07d}", "TYPE": 2},
            )
            await conn.json(bridge.hook + "telephony.externalCall.finish",
                            {"CALL_ID": reg["result"]["CALL_ID"], "USER_ID": 1,
                             "DURATION": index % 1000})  # fmt: skip
        except Exception as exc:  # counted: the PBX must never see one
            failures.append(f"call {index}: {exc}"[:200])
        finally:
            conn.close()

    started = time.monotonic()
    tasks = []
    for index in range(calls):
        await asyncio.sleep(max(0.0, started + index / per_second - time.monotonic()))
        tasks.append(asyncio.create_task(one(index)))
    await asyncio.gather(*tasks)
    return calls, failures


def _queue(bridge: Server) -> dict[str, Any]:
    return json.loads(bridge.cli("bridge", "status", "--json"))


async def _portal_calls(portal: Server) -> list[dict[str, Any]]:
    conn, rows, start = Connection(portal.port), [], 0
    while True:
        params = {"ORDER": {"ID": "ASC"}, "start": start}
        status, body = await conn.request("POST", portal.hook + "voximplant.statistic.get",
                                          json.dumps(params).encode())  # fmt: skip
        if status == 503:  # the portal's own limit: this reader waits its turn too
            await asyncio.sleep(0.6)
            continue
        page = json.loads(body)
        rows += page["result"]
        if "next" not in page:
            break
        start = page["next"]
    conn.close()
    return rows


def forwarding(per_second: float, seconds: float, rate: float) -> tuple[list[list[Any]], bool]:
    limit = {"B24TEL_RATE_LIMIT": "custom", "B24TEL_RATE_LIMIT_BURST": str(max(1, round(rate))),
             "B24TEL_RATE_LIMIT_DRAIN": str(rate)}  # fmt: skip
    with b24tel_server(limit) as portal, b24tel_server(_bridge_env(portal, rate)) as bridge:
        calls, failures = asyncio.run(_connector(bridge, per_second, seconds))
        stopped, at_stop = time.time(), _queue(bridge)["done"]
        while (state := _queue(bridge))["queued"]:
            time.sleep(2)
        # the portal's own limit answers the statistics pages too: let its bucket drain
        time.sleep(2)
        rows = asyncio.run(_portal_calls(portal))
    last = dt.datetime.fromisoformat(state["last_forwarded"]).replace(tzinfo=dt.UTC)
    drained = last.timestamp() - stopped
    forwarded = state["done"] - at_stop
    speed = forwarded / drained if drained > 0 else 0.0
    phones = [r["PHONE_NUMBER"] for r in rows]
    once = len(phones) == len(set(phones)) == calls
    durations_ok = all(
        str(int(p[-7:]) % 1000) == r["CALL_DURATION"] for p, r in zip(phones, rows, strict=True)
    )
    report = [
        ["calls sent", calls], ["connector errors", len(failures)],
        ["calls at the portal", len(rows)], ["each exactly once", once],
        ["durations right", durations_ok],
        ["writes forwarded after the connector stopped", forwarded],
        ["seconds to drain", f"{drained:.1f}"], ["forwarding rate /s", f"{speed:.2f}"],
        ["portal limit /s", f"{rate:g}"], ["share of the limit", f"{speed / rate:.1%}"],
    ]  # fmt: skip
    for failure in failures[:5]:
        print("  ", failure)
    return report, not failures and once and durations_ok and speed >= 0.95 * rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls-per-second", type=float, default=10)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rate", type=float, default=2)
    parser.add_argument("--samples", type=int, default=400)
    parser.add_argument("--only", choices=("latency", "forwarding"), default=None)
    args = parser.parse_args()
    latency_met = forwarding_met = True
    if args.only != "forwarding":
        rows, latency_met = pass_through(args.samples)
        print(table(["server.time", "p50 ms", "p99 ms"], rows))
        print(f"pass-through: p50 added {'<=' if latency_met else '>'} 2 ms -> target "
              f"{'met' if latency_met else 'NOT met'}")  # fmt: skip
    if args.only != "latency":
        report, forwarding_met = forwarding(args.calls_per_second, args.seconds, args.rate)
        print(table(["forwarding", "value"], report))
        print(f"forwarding: every call once, >= 95 % of the limit -> target "
              f"{'met' if forwarding_met else 'NOT met'}")  # fmt: skip
    sys.exit(0 if latency_met and forwarding_met else 1)


if __name__ == "__main__":
    main()
