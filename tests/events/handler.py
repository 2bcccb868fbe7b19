"""An event handler on 127.0.0.1, as a connector runs one: it records every delivery
(decoded the PHP way), answers what the test tells it to, and can act on an event after
answering (in a thread of its own, as a real connector would)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from b24tel.events import payload
from b24tel.wire import phpquery
from tests.conftest import free_port


@dataclass
class Received:
    path: str
    fields: dict[str, Any]
    body: bytes
    headers: dict[str, str]
    status: int

    @property
    def event(self) -> str:
        return str(self.fields.get("event", ""))

    @property
    def data(self) -> Any:
        return self.fields.get("data", {})

    @property
    def auth(self) -> dict[str, Any]:
        auth = self.fields.get("auth", {})
        return auth if isinstance(auth, dict) else {}

    @property
    def key(self) -> str:
        return self.headers.get(payload.IDEMPOTENCY_HEADER.lower(), "")

    def signed_by(self, token: str) -> bool:
        return payload.verify(
            token,
            self.headers.get(payload.TIMESTAMP_HEADER.lower(), ""),
            self.body,
            self.headers.get(payload.SIGNATURE_HEADER.lower(), ""),
        )


@dataclass
class HandlerServer:
    """``statuses``: what to answer, one per request, then 200 for ever; ``on_event``:
    called after answering, in its own thread."""

    port: int = field(default_factory=free_port)
    statuses: list[int] = field(default_factory=list)
    delay: float = 0.0
    on_event: Callable[[Received], None] | None = None
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HandlerServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with owner.lock:
                    status = owner.statuses.pop(0) if owner.statuses else 200
                if owner.delay:
                    threading.Event().wait(owner.delay)
                fields = phpquery.parse(body.decode())
                got = Received(
                    self.path,
                    fields,
                    body,
                    {k.lower(): v for k, v in self.headers.items()},
                    status,
                )
                with owner.lock:
                    owner.received.append(got)
                try:
                    self.send_response(status)
                    self.send_header("content-length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:  # the server gave up waiting (a timeout under test)
                    return
                if owner.on_event is not None and status == 200:
                    threading.Thread(target=owner.on_event, args=(got,), daemon=True).start()

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def events(self, name: str | None = None, *, ok: bool = True) -> list[Received]:
        with self.lock:
            return [
                r for r in self.received
                if (name is None or r.event == name) and (not ok or r.status == 200)
            ]  # fmt: skip

    def __enter__(self) -> HandlerServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
