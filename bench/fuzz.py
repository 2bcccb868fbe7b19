"""The long fuzz run: every registered method, every encoding, against a real `b24tel serve`
process on SQLite and on PostgreSQL.

Uses the strategies of the fuzz suite (tests/fuzz/strategies.py): valid requests broken in
one to three places, and random ones, sent as JSON, form, query string, multipart and batch
sub-commands; then every hostile shape (URLs up to past the request-head limit, numbers in
every spelling and size, multipart that lies, bodies of every type without credentials),
over raw connections, a few rounds each. Counts answers ≥ 500, requests left unanswered
(no answer within 30 s, or the connection closed without one), bodies on REST paths that are
not the JSON envelope, and tracebacks in the server's log. Exits with status 1 when any
count is not zero.

    python bench/fuzz.py --requests 50000 [--database sqlite|postgres|both]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from common import PG_ENV, ROOT, Connection, b24tel_server, scratch_postgres, table
from hypothesis import HealthCheck, Phase, given, settings

sys.path.insert(0, str(ROOT))
from tests.fuzz import strategies
from tests.fuzz.strategies import METHODS, Case, World

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


class Tally:
    def __init__(self) -> None:
        self.requests = 0
        self.errors_5xx = 0
        self.unanswered = 0
        self.not_json = 0
        self.statuses: collections.Counter[int] = collections.Counter()
        self.examples: list[str] = []

    def add(self, status: int, found: list[str], case: Case | str) -> None:
        self.requests += 1
        if status == 0:
            self.unanswered += 1
        self.statuses[status] += 1
        if status >= 500:
            self.errors_5xx += 1
        if any(p.startswith(("content type", "not JSON", "not result")) for p in found):
            self.not_json += 1
        if found and len(self.examples) < 10:
            where = case if isinstance(case, str) else f"{case.method} {case.encoding}"
            self.examples.append(f"{where}: {found[0][:200]}")


async def _call(client: httpx.AsyncClient, method: str, params: dict[str, Any]) -> Any:
    response = await client.post(method, json=params)
    return response.json()["result"]


async def _seed(client: httpx.AsyncClient) -> World:
    contact = await _call(
        client, "crm.contact.add", {"fields": {"NAME": "A", "PHONE": [{"VALUE": "+79160001234"}]}}
    )
    registered = await _call(
        client,
        "telephony.externalCall.register",
        {"USER_ID": 1, "PHONE_NUMBER": "+79160001234", "TYPE": 2},
    )
    call_id = registered["CALL_ID"]
    finished = await _call(
        client, "telephony.externalCall.finish", {"CALL_ID": call_id, "USER_ID": 1}
    )
    attached = await _call(
        client,
        "telephony.externalCall.attachRecord",
        {"CALL_ID": call_id, "FILENAME": "a.wav", "FILE_CONTENT": strategies.WAV_BASE64},
    )
    return World(
        call_ids=(call_id,),
        ids=(1, contact, finished["CRM_ACTIVITY_ID"]),
        contact=contact,
        activity=finished["CRM_ACTIVITY_ID"],
        file=attached["FILE_ID"],
    )


def _app_token(server: Any) -> str:
    """An administrator's access token of a new application (the event methods refuse
    webhooks)."""
    created = server.cli("apps", "create", "--name", "fuzz")
    app_id = created.split("app_id: ", 1)[1].split()[0]
    issued = server.cli("apps", "token", "--app", app_id, "--user", "1")
    return issued.split("access_token: ", 1)[1].split()[0]


async def _send(client: httpx.AsyncClient, case: Case, world: World) -> tuple[int, list[str]]:
    params = await strategies.resolve(case.params, lambda m, p: _call(client, m, p), world)
    request = strategies.encode(case.method, params, case.encoding, case.file_part)
    target = request.path + (f"?{request.query}" if request.query else "")
    if world.token and strategies.needs_app(case.method):
        query = f"auth={world.token}" + (f"&{request.query}" if request.query else "")
        target = str(client.base_url.join(f"/rest/{request.path}?{query}"))
    try:
        response = await client.request(
            request.method, target, content=request.body or None, headers=request.headers
        )
    except httpx.HTTPError as exc:
        return 0, [f"unanswered: {type(exc).__name__} {exc}"]
    found = strategies.problems(
        response.status_code, response.headers.get("content-type", ""), response.content
    )
    return response.status_code, found


# past the request-head limit: the server's own JSON 400, never a hang
OVERSIZED = [strategies.Raw("url 1 MiB", "GET", "/rest/server.time?x=" + "Z" * (1 << 20), {}, b"")]


async def _send_raw(port: int, hook: str, shape: strategies.Raw) -> tuple[int, list[str]]:
    conn = Connection(port)
    target = shape.target.replace("{hook}", hook)
    ctype = shape.headers.get("content-type")
    others = {k: v for k, v in shape.headers.items() if k != "content-type"}
    try:
        status, body = await asyncio.wait_for(
            conn.request(shape.method, target, shape.body, ctype, others), 30
        )
    except (TimeoutError, ConnectionError, OSError, asyncio.IncompleteReadError) as exc:
        return 0, [f"unanswered: {type(exc).__name__} {exc}"]
    finally:
        conn.close()
    kind = "application/json; charset=utf-8" if body.startswith(b"{") else "?"
    return status, strategies.problems(status, kind, body)


def hostile_rounds(runner: asyncio.Runner, port: int, hook: str, tally: Tally, rounds: int) -> None:
    for _ in range(rounds):
        for shape in [*strategies.hostile(), *OVERSIZED]:
            status, found = runner.run(_send_raw(port, hook, shape))
            tally.add(status, found, shape.name)


def run_backend(name: str, database_url: str, total: int) -> tuple[Tally, str, float]:
    env = {"B24TEL_LOG_LEVEL": "info", "B24TEL_MAX_UNAUTHENTICATED_BODY": str(1 << 20)}
    tally = Tally()
    with b24tel_server(env, database_url=database_url) as server:
        runner = asyncio.Runner()
        client = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{server.port}{server.hook}", timeout=60
        )
        world = dataclasses.replace(runner.run(_seed(client)), token=_app_token(server))
        per_method = max(1, total // len(METHODS))
        started = time.perf_counter()
        for method in METHODS:

            @settings(
                max_examples=per_method,
                deadline=None,
                database=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategies.cases(method, world))
            def send(case: Case) -> None:
                status, found = runner.run(_send(client, case, world))
                tally.add(status, found, case)

            send()
            print(f"  {name}: {method} done ({tally.requests} requests)", file=sys.stderr)
        hostile_rounds(runner, server.port, server.hook, tally, 3)
        print(f"  {name}: hostile shapes done ({tally.requests} requests)", file=sys.stderr)
        seconds = time.perf_counter() - started
        runner.run(client.aclose())
        runner.close()
        log = server.output()
    return tally, log, seconds


TRACEBACK = re.compile(r"^Traceback \(most recent call last\):$", re.MULTILINE)
UNEXPECTED = re.compile(r"^\S+ \S+ ERROR b24tel\.\S+ unexpected error in ", re.MULTILINE)


def log_excerpts(log: str, marks: tuple[re.Pattern[str], ...], most: int = 3) -> list[str]:
    """The server log around its first tracebacks and unexpected errors."""
    lines = log.splitlines()
    hits = [i for i, line in enumerate(lines) if any(mark.match(line) for mark in marks)]
    return ["\n".join(lines[max(0, i - 3) : i + 40]) for i in hits[:most]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    rows, failed = [], False
    for backend in backends:
        drop = None
        url = ""
        if backend == "postgres":
            server_url = os.environ.get(PG_ENV, DEFAULT_PG)
            url, drop = scratch_postgres(server_url)
        try:
            tally, log, seconds = run_backend(backend, url, args.requests)
        finally:
            if drop:
                drop()
        # whole lines only: the fuzzer's own values ("Traceback" among them) reach the
        # access log inside request lines
        tracebacks = len(TRACEBACK.findall(log))
        unexpected = len(UNEXPECTED.findall(log))
        failed |= bool(
            tally.errors_5xx or tally.unanswered or tally.not_json or tracebacks or unexpected
        )
        rows.append(
            [backend, tally.requests, f"{tally.requests / seconds:.0f}", tally.errors_5xx,
             tally.unanswered, tally.not_json, tracebacks + unexpected,
             " ".join(f"{k}:{v}" for k, v in sorted(tally.statuses.items()))]
        )  # fmt: skip
        for example in tally.examples:
            print(f"  {backend}: {example}")
        for excerpt in log_excerpts(log, (TRACEBACK, UNEXPECTED)):
            print(f"  {backend} server log:\n{excerpt}")
    headers = ["database", "requests", "req/s", ">=500", "unanswered", "not JSON", "tracebacks",
               "statuses"]  # fmt: skip
    print(table(headers, rows))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
