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

3. Outage: the portal stopped while a connector makes ``--outage-calls`` calls (register,
   finish, attachRecord with a recording of its own) over ``--outage-seconds``, then
   started again. Every connector request must succeed; once the queue is empty, the
   portal must hold each call exactly once, in the order they were made, each with its
   recording byte for byte. Prints how long the backlog took to reach the portal (at
   ``--drain-rate`` calls a second).

    python bench/bridge.py [--calls-per-second 10] [--seconds 30] [--rate 2]
                           [--outage-calls 100] [--outage-seconds 60] [--drain-rate 20]
                           [--only latency|forwarding|outage]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import io
import json
import statistics
import subprocess
import sys
import time
import wave
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, Connection, Server, b24tel_server, percentile, table, wait_port

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


def _recording(index: int) -> bytes:
    """A short WAV of its own for call ``index``."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(index.to_bytes(2, "little") * 4000)
    return out.getvalue()


async def _calls_while_down(
    bridge: Server, calls: int, seconds: float
) -> tuple[list[str], list[str]]:
    """The connector's calls, evenly over ``seconds``; their CALL_IDs and any failure."""
    failures: list[str] = []
    conn, call_ids = Connection(bridge.port), []
    started = time.monotonic()
    for index in range(calls):
        await asyncio.sleep(max(0.0, started + index * seconds / calls - time.monotonic()))
        try:
            call = {"USER_ID": 1, "PHONE_NUMBER": f"+7916{index:07d}", "TYPE": 2}
            reg = await conn.json(bridge.hook + "telephony.externalCall.register", call)
            call_id = reg["result"]["CALL_ID"]
            await conn.json(bridge.hook + "telephony.externalCall.finish",
                            {"CALL_ID": call_id, "USER_ID": 1, "DURATION": index + 1})  # fmt: skip
            attached = await conn.json(bridge.hook + "telephony.externalCall.attachRecord", {
                "CALL_ID": call_id, "FILENAME": f"call{index}.wav",
                "FILE_CONTENT": base64.b64encode(_recording(index)).decode(),
            })  # fmt: skip
            assert "FILE_ID" in attached["result"], attached
            call_ids.append(call_id)
        except Exception as exc:  # counted: the PBX must never see one
            failures.append(f"call {index}: {exc}"[:200])
    conn.close()
    return call_ids, failures


async def _recordings(portal: Server, rows: list[dict[str, Any]]) -> list[bytes]:
    conn, found = Connection(portal.port), []
    for row in rows:
        info = await conn.json(portal.hook + "disk.file.get", {"id": row["RECORD_FILE_ID"]})
        link = info["result"]["DOWNLOAD_URL"].split(f":{portal.port}", 1)[1]
        status, body = await conn.request("GET", link, b"")
        found.append(body if status == 200 else b"")
    conn.close()
    return found


def _restart(portal: Server) -> Server:
    """The same portal again: its data directory, port and webhook."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "b24tel", "serve", "--port", str(portal.port), "--data-dir",
         portal.data_dir], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        env=portal.env, cwd=ROOT,
    )  # fmt: skip
    wait_port(portal.port, 120)
    return Server(proc, portal.port, portal.hook, data_dir=portal.data_dir, env=portal.env)


def outage(calls: int, seconds: float, rate: float) -> tuple[list[list[Any]], bool]:
    with b24tel_server() as portal, b24tel_server(_bridge_env(portal, rate)) as bridge:
        portal.stop()
        call_ids, failures = asyncio.run(_calls_while_down(bridge, calls, seconds))
        waiting = _queue(bridge)["queued"]
        back = _restart(portal)
        started = time.monotonic()
        try:
            while _queue(bridge)["queued"]:
                time.sleep(1)
            drained = time.monotonic() - started
            rows = asyncio.run(_portal_calls(back))
            recordings = asyncio.run(_recordings(back, rows))
        finally:
            back.stop()
    phones = [r["PHONE_NUMBER"] for r in rows]
    in_order = phones == [f"+7916{i:07d}" for i in range(calls)]
    once = len(set(r["CALL_ID"] for r in rows)) == len(rows) == calls
    recorded = recordings == [_recording(i) for i in range(calls)]
    report = [
        ["calls made while the portal was down", calls],
        ["seconds the portal was down (at least)", f"{seconds:g}"],
        ["connector errors", len(failures)], ["writes waiting when it came back", waiting],
        ["calls at the portal", len(rows)], ["each exactly once", once],
        ["in the order made", in_order], ["each with its recording, byte for byte", recorded],
        ["seconds to drain", f"{drained:.1f}"], ["drain rate limit /s", f"{rate:g}"],
    ]  # fmt: skip
    for failure in failures[:5]:
        print("  ", failure)
    return report, not failures and once and in_order and recorded and len(call_ids) == calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls-per-second", type=float, default=10)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rate", type=float, default=2)
    parser.add_argument("--samples", type=int, default=400)
    parser.add_argument("--outage-calls", type=int, default=100)
    parser.add_argument("--outage-seconds", type=float, default=60)
    parser.add_argument("--drain-rate", type=float, default=20)
    parser.add_argument("--only", choices=("latency", "forwarding", "outage"), default=None)
    args = parser.parse_args()
    latency_met = forwarding_met = outage_met = True
    if args.only in (None, "latency"):
        rows, latency_met = pass_through(args.samples)
        print(table(["server.time", "p50 ms", "p99 ms"], rows))
        print(f"pass-through: p50 added {'<=' if latency_met else '>'} 2 ms -> target "
              f"{'met' if latency_met else 'NOT met'}")  # fmt: skip
    if args.only in (None, "forwarding"):
        report, forwarding_met = forwarding(args.calls_per_second, args.seconds, args.rate)
        print(table(["forwarding", "value"], report))
        print(f"forwarding: every call once, >= 95 % of the limit -> target "
              f"{'met' if forwarding_met else 'NOT met'}")  # fmt: skip
    if args.only in (None, "outage"):
        report, outage_met = outage(args.outage_calls, args.outage_seconds, args.drain_rate)
        print(table(["portal down", "value"], report))
        print(f"outage: no connector error, every call once, in order, with its recording "
              f"-> target {'met' if outage_met else 'NOT met'}")  # fmt: skip
    sys.exit(0 if latency_met and forwarding_met and outage_met else 1)


if __name__ == "__main__":
    main()
