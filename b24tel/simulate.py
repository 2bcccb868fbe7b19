"""A call-traffic generator for any Bitrix24-compatible endpoint (``b24tel simulate``).

Each simulated call: register → (show, hide) → finish → attachRecord (answered calls), with
realistic numbers, lines, types, outcomes and durations, through one webhook URL. Requests
run on httpx (async), reusing connections; latencies are kept per method.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import random
import statistics
import struct
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

TYPES = {"outgoing": 1, "incoming": 2, "redirected": 3, "callback": 4, "info": 5}
OUTCOMES = {"answered": "200", "missed": "304", "busy": "486", "declined": "603"}
DEFAULT_MIX = "incoming=60,outgoing=35,callback=5;answered=70,missed=20,busy=7,declined=3"
MODES = ("content", "upload", "url")


class MixError(ValueError):
    pass


@dataclass(frozen=True)
class Mix:
    types: dict[str, float]
    outcomes: dict[str, float]

    @classmethod
    def parse(cls, text: str) -> Mix:
        """``incoming=60,outgoing=40;answered=80,missed=20`` — call types, then outcomes;
        weights, not necessarily summing to 100. Either half may be left out."""
        types: dict[str, float] = {}
        outcomes: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in text.replace(";", ",").split(","))):
            name, _, weight = part.partition("=")
            name = name.strip().lower()
            try:
                value = float(weight) if weight else 1.0
            except ValueError as exc:
                raise MixError(f"bad weight in {part!r}") from exc
            if value < 0:
                raise MixError(f"negative weight in {part!r}")
            if name in TYPES:
                types[name] = value
            elif name in OUTCOMES:
                outcomes[name] = value
            else:
                known = ", ".join([*TYPES, *OUTCOMES])
                raise MixError(f"unknown mix entry {name!r} (known: {known})")
        default = cls.parse(DEFAULT_MIX) if text != DEFAULT_MIX else None
        types = types or (default.types if default else {})
        outcomes = outcomes or (default.outcomes if default else {})
        if not sum(types.values()) or not sum(outcomes.values()):
            raise MixError("the mix needs a positive weight for a type and an outcome")
        return cls(types, outcomes)

    def pick(self, rng: random.Random) -> tuple[int, str]:
        kind = rng.choices(list(self.types), weights=list(self.types.values()))[0]
        outcome = rng.choices(list(self.outcomes), weights=list(self.outcomes.values()))[0]
        return TYPES[kind], OUTCOMES[outcome]


@dataclass
class Config:
    url: str
    calls: int = 100
    concurrency: int = 8
    record: bytes | None = None
    record_name: str = "call.wav"
    mode: str = "content"
    mix: Mix = field(default_factory=lambda: Mix.parse(DEFAULT_MIX))
    seed: int | None = None
    show_hide: bool = True
    timeout: float = 60.0
    verify: Any = True
    serve_host: str = "127.0.0.1"
    # the set-up request (user.get) tells a wrong URL: a server that never answers is one
    setup_timeout: float = 10.0


def wav_header(data_size: int) -> bytes:
    """The 44-byte header of an 8 kHz mono 16-bit PCM WAV with ``data_size`` bytes of audio."""
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data_size)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)
        + b"data"
        + struct.pack("<I", data_size)
    )


def wav(size: int) -> bytes:
    """A valid 8 kHz mono 16-bit WAV of ``size`` bytes (a quiet tone)."""
    size = max(size, 46)
    data = size - 44
    tone = b"".join(struct.pack("<h", int(800 * ((i % 20) - 10) / 10)) for i in range(20))
    return wav_header(data) + (tone * (data // len(tone) + 1))[:data]


class RequestFailed(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Report:
    calls: int = 0
    completed: int = 0
    requests: int = 0
    seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        def pct(values: list[float], q: float) -> float:
            ordered = sorted(values)
            return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0

        return {
            "calls": self.calls,
            "completed": self.completed,
            "failed": self.calls - self.completed,
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "calls_per_second": round(self.completed / self.seconds, 2) if self.seconds else 0,
            "requests_per_second": round(self.requests / self.seconds, 2) if self.seconds else 0,
            "methods": {
                m: {
                    "count": len(v),
                    "p50_ms": round(pct(v, 0.5), 2),
                    "p90_ms": round(pct(v, 0.9), 2),
                    "p99_ms": round(pct(v, 0.99), 2),
                    "mean_ms": round(statistics.fmean(v) * 1000, 2) if v else 0,
                }
                for m, v in sorted(self.latencies.items())
            },
            "errors": dict(self.errors.most_common()),
        }


class RecordingServer:
    """Serves the recording to the endpoint for ``--mode url``."""

    def __init__(self, data: bytes, name: str, host: str) -> None:
        body = data

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://{host}:{self.httpd.server_address[1]}/{name}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()


class Simulator:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.report = Report()
        self.users: list[int] = []
        self.lines = [f"7495{self.rng.randrange(10**6, 10**7)}" for _ in range(3)]
        self.known = [self._number() for _ in range(20)]
        self.b64 = base64.b64encode(config.record).decode() if config.record else ""
        self.record_url: str | None = None

    def _number(self) -> str:
        r = self.rng
        return (
            f"+7 9{r.randrange(10, 100)} {r.randrange(100, 1000)}-{r.randrange(10, 100)}-"
            f"{r.randrange(10, 100)}"
        )

    async def call(
        self,
        client: httpx.AsyncClient,
        method: str,
        params: dict[str, Any],
        *,
        url: str | None = None,
        files: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        started = time.perf_counter()
        wait: Any = timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT
        try:
            if files is not None:
                response = await client.post(url or method, files=files, timeout=wait)
            else:
                response = await client.post(url or method, json=params, timeout=wait)
        except httpx.HTTPError as exc:
            self.report.errors[type(exc).__name__] += 1
            raise RequestFailed(type(exc).__name__) from exc
        finally:
            self.report.requests += 1
        self.report.latencies[method].append(time.perf_counter() - started)
        try:
            body = response.json()
        except ValueError as exc:
            self.report.errors[f"HTTP {response.status_code}"] += 1
            raise RequestFailed(str(response.status_code)) from exc
        if "error" in body:
            code = body.get("error") or f"HTTP {response.status_code}"
            self.report.errors[f"{code}: {body.get('error_description', '')}"[:120]] += 1
            raise RequestFailed(code)
        return body["result"]

    async def one_call(self, client: httpx.AsyncClient, index: int) -> None:
        cfg, r = self.config, self.rng
        call_type, code = cfg.mix.pick(r)
        user = r.choice(self.users)
        number = r.choice(self.known) if r.random() < 0.3 else self._number()
        reg = await self.call(
            client,
            "telephony.externalCall.register",
            {
                "USER_ID": user,
                "PHONE_NUMBER": number,
                "TYPE": call_type,
                "LINE_NUMBER": r.choice(self.lines),
                "EXTERNAL_CALL_ID": f"sim-{index}-{r.random()}",
                "SHOW": 0,
                "CRM_CREATE": 1 if call_type in (2, 3) else 0,
            },
        )
        call_id = reg["CALL_ID"]
        if cfg.show_hide:
            await self.call(
                client, "telephony.externalCall.show", {"CALL_ID": call_id, "USER_ID": user}
            )
            await self.call(
                client, "telephony.externalCall.hide", {"CALL_ID": call_id, "USER_ID": user}
            )
        answered = code == "200"
        await self.call(
            client,
            "telephony.externalCall.finish",
            {
                "CALL_ID": call_id,
                "USER_ID": user,
                "STATUS_CODE": code,
                "DURATION": r.randrange(5, 600) if answered else 0,
            },
        )
        if answered and cfg.record:
            await self.attach(client, call_id)
        self.report.completed += 1

    async def attach(self, client: httpx.AsyncClient, call_id: str) -> None:
        cfg = self.config
        method = "telephony.externalCall.attachRecord"
        if cfg.mode == "content":
            await self.call(
                client,
                method,
                {"CALL_ID": call_id, "FILENAME": cfg.record_name, "FILE_CONTENT": self.b64},
            )
        elif cfg.mode == "url":
            await self.call(client, method, {"CALL_ID": call_id, "RECORD_URL": self.record_url})
        else:
            link = await self.call(
                client, method, {"CALL_ID": call_id, "FILENAME": cfg.record_name}
            )
            assert cfg.record is not None
            await self.call(
                client,
                "upload",
                {},
                url=link["uploadUrl"],
                files={
                    link["fieldName"]: (cfg.record_name, cfg.record, "application/octet-stream")
                },
            )

    async def run(self, on_call: Callable[[], None] | None = None) -> Report:
        cfg = self.config
        server = (
            RecordingServer(cfg.record, cfg.record_name, cfg.serve_host)
            if cfg.mode == "url" and cfg.record
            else None
        )
        self.record_url = server.url if server else None
        limits = httpx.Limits(
            max_connections=cfg.concurrency, max_keepalive_connections=cfg.concurrency
        )
        try:
            async with httpx.AsyncClient(
                base_url=cfg.url, limits=limits, timeout=cfg.timeout, verify=cfg.verify
            ) as client:
                # --timeout is for the calls, which may carry recordings
                users = await self.call(
                    client, "user.get", {"FILTER": {"ACTIVE": "Y"}},
                    timeout=min(cfg.timeout, cfg.setup_timeout),
                )  # fmt: skip
                self.users = [int(u["ID"]) for u in users] or [1]
                self.report = Report()  # the set-up request does not count
                queue: asyncio.Queue[int] = asyncio.Queue()
                for i in range(cfg.calls):
                    queue.put_nowait(i)
                self.report.calls = cfg.calls
                started = time.perf_counter()

                async def worker() -> None:
                    while not queue.empty():
                        index = queue.get_nowait()
                        with contextlib.suppress(RequestFailed):
                            await self.one_call(client, index)
                        if on_call:
                            on_call()

                await asyncio.gather(*(worker() for _ in range(cfg.concurrency)))
                self.report.seconds = time.perf_counter() - started
        finally:
            if server:
                server.close()
        return self.report
