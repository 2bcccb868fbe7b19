"""What the benchmark scripts share: starting servers on 127.0.0.1, a light HTTP/1.1 load
client (so the load generator costs little CPU next to the server), percentiles, tables.

Also runnable as ``python bench/common.py baseline PORT``: the baseline server — a minimal
Starlette app answering a fixed Bitrix-style envelope, on the same uvicorn settings as
``b24tel serve``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG_ENV = "B24TEL_BENCH_DATABASE_URL"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def wait_workers(database_url: str, pid: int, count: int, timeout: float = 120) -> None:
    """Until ``count`` worker processes of ``pid`` have started their apps (each writes its
    row in ``server_instances`` on start-up). The port answers as soon as the first is up;
    a load started then opened most of its connections on that one, for the whole run
    (32 connections split 28/4 and 25/7: ``--workers 2`` measured 1.45x one process where
    an even split gives 1.8x)."""
    asyncio.run(_wait_workers(database_url, pid, count, timeout))


async def _wait_workers(database_url: str, pid: int, count: int, timeout: float) -> None:
    import psutil
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    query = text("SELECT pid FROM server_instances WHERE stopped_at IS NULL")
    engine = create_async_engine(database_url)
    try:
        async with asyncio.timeout(timeout), engine.connect() as conn:
            while True:
                workers = {p.pid for p in psutil.Process(pid).children(recursive=True)}
                started = {row[0] for row in await conn.execute(query)}
                if len(workers & started) >= count:
                    return
                await conn.rollback()  # the next read sees rows committed meanwhile
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise RuntimeError(f"{count} workers did not start within {timeout:g} s") from None
    finally:
        await engine.dispose()


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("B24TEL_")}
    env.update(extra)
    return env


@dataclass
class Server:
    proc: subprocess.Popen
    port: int
    hook: str = ""  # /rest/1/<code>/
    lines: list[str] = field(default_factory=list)  # what it printed
    data_dir: str = ""
    env: dict[str, str] = field(default_factory=dict)

    def cli(self, *args: str) -> str:
        """A ``b24tel`` command against this server's data directory and database."""
        done = subprocess.run(
            [sys.executable, "-m", "b24tel", "--data-dir", self.data_dir, *args],
            capture_output=True, text=True, env=self.env, cwd=ROOT, check=True,
        )  # fmt: skip
        return done.stdout

    def output(self) -> str:
        return "".join(self.lines)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@contextmanager
def b24tel_server(
    env: dict[str, str] | None = None,
    database_url: str = "",
    hook: str = "",
    args: tuple[str, ...] = (),
) -> Iterator[Server]:
    """``b24tel serve`` in a fresh data directory (SQLite) or on ``database_url``. Its
    webhook is the one printed on first start, or ``hook`` for a database that has one."""
    with tempfile.TemporaryDirectory() as data:
        port = free_port()
        extra = {"B24TEL_LOG_LEVEL": "warning", **(env or {})}
        if database_url:
            extra["B24TEL_DATABASE_URL"] = database_url
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "b24tel",
                "serve",
                "--upgrade",
                "--port",
                str(port),
                "--data-dir",
                data,
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=clean_env(**extra),
            cwd=ROOT,
        )
        server = Server(proc, port, hook, data_dir=data, env=clean_env(**extra))
        printed = threading.Event()

        log_path = os.environ.get("B24TEL_BENCH_SERVER_LOG")
        log = open(log_path, "a") if log_path else None  # noqa: SIM115

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                server.lines.append(line)
                if log:
                    log.write(line)
                    log.flush()
                if match := re.search(r"Webhook URL: http://[^/]+(/rest/\d+/\w+/)", line):
                    server.hook = server.hook or match.group(1)
                    printed.set()

        threading.Thread(target=read, daemon=True).start()
        wait_port(port, 120)
        if "--workers" in args and database_url:
            wait_workers(database_url, proc.pid, int(args[args.index("--workers") + 1]))
        if not server.hook and not printed.wait(10):
            server.stop()
            raise RuntimeError("b24tel serve printed no webhook (not a first start?)")
        try:
            yield server
        finally:
            server.stop()


@contextmanager
def baseline_server() -> Iterator[Server]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "baseline", str(port)], env=clean_env(), cwd=ROOT
    )
    wait_port(port)
    try:
        yield Server(proc, port)
    finally:
        Server(proc, port).stop()


def run_baseline(port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    from b24tel.config import Settings
    from b24tel.httpserver import http_options

    body = json.dumps(
        {
            "result": {
                "CALL_ID": "externalCall.0123456789abcdef0123456789abcdef.1",
                "CRM_CREATED_LEAD": None,
                "CRM_CREATED_ENTITIES": [],
                "CRM_ENTITY_TYPE": "",
                "CRM_ENTITY_ID": None,
            },
            "time": {
                "start": 1,
                "finish": 1.1,
                "duration": 0.1,
                "processing": 0,
                "date_start": "2026-01-01T00:00:00+00:00",
                "date_finish": "2026-01-01T00:00:00+00:00",
                "operating_reset_at": 600,
                "operating": 0,
            },
        }
    ).encode()

    async def endpoint(request):  # type: ignore[no-untyped-def]
        async for _ in request.stream():  # read the body, as any endpoint must
            pass
        return Response(body, media_type="application/json; charset=utf-8")

    app = Starlette(routes=[Route("/{path:path}", endpoint, methods=["GET", "POST"])])
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        **http_options(Settings()),
    )


# --- a light HTTP/1.1 client ----------------------------------------------------------------


class Connection:
    """One keep-alive connection; requests in sequence."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        content_type: str | None = "application/json",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        fields = {"Host": f"127.0.0.1:{self.port}", "Content-Length": str(len(body))}
        if content_type is not None:
            fields["Content-Type"] = content_type
        fields.update(headers or {})
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items())
        self.writer.write(head.encode("utf-8") + b"\r\n" + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError(f"{method} {path[:80]}: the server closed the connection")
        status = int(status_line.split()[1])
        length = -1
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        if length < 0:  # delimited by the server closing the connection
            data = await self.reader.read()
            self.close()
            self.writer = None
            return status, data
        return status, await self.reader.readexactly(length)

    async def json(self, path: str, params: dict) -> dict:
        status, body = await self.request("POST", path, json.dumps(params).encode())
        data = json.loads(body)
        if status != 200 or "error" in data:
            raise RuntimeError(f"{path}: {status} {body[:200]!r}")
        return data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


@dataclass
class Result:
    requests: int = 0
    seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def all_latencies(self) -> list[float]:
        return [x for v in self.latencies.values() for x in v]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


Step = Callable[[Connection, int, Result], "asyncio.Future[None]"]


async def load(port: int | list[int], flow: Callable, concurrency: int, flows: int) -> Result:
    """Run ``flows`` flows on ``concurrency`` connections (spread over the ports given);
    a flow records its own requests (name → latency)."""
    result = Result()
    counter = iter(range(flows))
    ports = port if isinstance(port, list) else [port]
    conns = [Connection(ports[i % len(ports)]) for i in range(concurrency)]

    async def worker(conn: Connection) -> None:
        for index in counter:
            await flow(conn, index, result)

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in conns))
    result.seconds = time.perf_counter() - started
    for c in conns:
        c.close()
    return result


async def timed(conn: Connection, result: Result, name: str, path: str, params: dict) -> dict:
    started = time.perf_counter()
    data = await conn.json(path, params)
    result.latencies.setdefault(name, []).append(time.perf_counter() - started)
    result.requests += 1
    return data


def scratch_postgres(url: str) -> tuple[str, Callable[[], None]]:
    """A new database on the server of ``url``; returns its URL and a dropper."""
    import asyncio as aio

    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from b24tel.db.engine import make_migration_engine

    async def admin(sql: str) -> None:
        engine = make_migration_engine(url)
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(sql))
        await engine.dispose()

    name = f"b24tel_bench_{secrets.token_hex(4)}"
    aio.run(admin(f'CREATE DATABASE "{name}"'))
    scratch = make_url(url).set(database=name).render_as_string(hide_password=False)
    return scratch, lambda: aio.run(admin(f'DROP DATABASE "{name}" WITH (FORCE)'))


@contextmanager
def bench_postgres() -> Iterator[str | None]:
    """A scratch database on the benchmarks' PostgreSQL (``B24TEL_BENCH_DATABASE_URL``,
    default the local server), dropped afterwards; None, and why, when it cannot be had."""
    pg = os.environ.get(PG_ENV, "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    try:
        url, drop = scratch_postgres(pg)
    except Exception as exc:
        print(f"PostgreSQL skipped ({type(exc).__name__}: {exc})")
        yield None
        return
    try:
        yield url
    finally:
        drop()


# --- recordings ------------------------------------------------------------------------------

MODES = ("json", "form", "upload", "url")


class FileServer:
    """Serves one recording over HTTP on 127.0.0.1 (the RECORD_URL mode's PBX)."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.data = b""
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(owner.data)))
                self.end_headers()
                view = memoryview(owner.data)
                for i in range(0, len(view), 1 << 20):
                    self.wfile.write(view[i : i + (1 << 20)])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/call.wav"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()


async def finished_call(conn: Connection, hook: str, index: int) -> str:
    reg = await conn.json(
        hook + "telephony.externalCall.register",
        {
            "USER_ID": 1,
            "PHONE_NUMBER": f"+7916{index:07d}",
            "TYPE": 2,
            "EXTERNAL_CALL_ID": f"bench-{index}-{secrets.token_hex(4)}",
            "SHOW": 0,
        },
    )
    call_id = reg["result"]["CALL_ID"]
    await conn.json(
        hook + "telephony.externalCall.finish", {"CALL_ID": call_id, "USER_ID": 1, "DURATION": 60}
    )
    return call_id


@dataclass
class Recording:
    """A recording and its encodings, prepared once: building a 100 MB form body takes
    longer than a server keeps an idle connection open."""

    data: bytes
    b64: bytes = b""
    quoted: bytes = b""
    twice_quoted: bytes = b""  # inside a form-encoded batch command, as CRest sends it

    def __post_init__(self) -> None:
        import base64
        from urllib.parse import quote

        self.b64 = base64.b64encode(self.data)
        self.quoted = quote(self.b64, safe="").encode()
        self.twice_quoted = quote(self.quoted, safe="").encode()


async def attach(
    conn: Connection, hook: str, mode: str, call_id: str, rec: Recording, record_url: str
) -> None:
    """One attachRecord of ``rec`` in ``mode`` (the upload mode: both requests)."""
    method = hook + "telephony.externalCall.attachRecord"
    if mode == "json":
        body = (
            b'{"CALL_ID":"'
            + call_id.encode()
            + b'","FILENAME":"call.wav","FILE_CONTENT":"'
            + rec.b64
            + b'"}'
        )
        status, answer = await conn.request("POST", method, body)
    elif mode == "form":
        body = f"CALL_ID={call_id}&FILENAME=call.wav&FILE_CONTENT=".encode() + rec.quoted
        status, answer = await conn.request(
            "POST", method, body, "application/x-www-form-urlencoded"
        )
    elif mode == "batch":
        from urllib.parse import quote

        command = (
            "telephony.externalCall.attachRecord?CALL_ID="
            + quote(call_id, safe="")
            + "&FILENAME=call.wav&FILE_CONTENT="
        )
        body = b"halt=1&cmd[att]=" + quote(command, safe="").encode() + rec.twice_quoted
        status, answer = await conn.request(
            "POST", hook + "batch", body, "application/x-www-form-urlencoded"
        )
    elif mode == "url":
        status, answer = await conn.request(
            "POST", method, json.dumps({"CALL_ID": call_id, "RECORD_URL": record_url}).encode()
        )
    else:
        link = (await conn.json(method, {"CALL_ID": call_id, "FILENAME": "call.wav"}))["result"]
        path = link["uploadUrl"].split("://", 1)[1].split("/", 1)[1]
        body = (
            b'--BENCH\r\nContent-Disposition: form-data; name="file"; '
            b'filename="call.wav"\r\nContent-Type: audio/wav\r\n\r\n'
            + rec.data
            + b"\r\n--BENCH--\r\n"
        )
        status, answer = await conn.request(
            "POST", "/" + path, body, "multipart/form-data; boundary=BENCH"
        )
    if status != 200 or b'"FILE_ID"' not in answer:
        raise RuntimeError(f"attach {mode}: {status} {answer[:300]!r}")


class PeakRss:
    """Samples a process's RSS from a thread while the block runs: ``growth`` is the peak
    above the RSS at the start, in bytes."""

    def __init__(self, process: Any, interval: float = 0.005) -> None:
        self.process = process  # a psutil.Process
        self.interval = interval
        self.baseline = self.peak = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(self.interval)

    def __enter__(self) -> PeakRss:
        self.baseline = self.peak = self.process.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def growth(self) -> int:
        return self.peak - self.baseline


def table(headers: list[str], rows: list[list[object]]) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "baseline":
    run_baseline(int(sys.argv[2]))
