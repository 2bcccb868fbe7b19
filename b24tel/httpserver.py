"""What ``b24tel serve`` runs on: uvicorn with the h11 parser, a bounded request head and a
JSON answer for a request that cannot be read.

h11 rather than httptools: httptools' URL parser stops at 64 KiB with a plain-text 400,
and connectors send longer GET URLs (recordings in a query string; docs/reference/
clients.md, "Large bodies"). The head (request line and headers) is bounded by
``max_request_head``: past it, and for anything h11 cannot parse, the client gets a JSON
400 in the protocol's error shape and the connection is closed — after a lingering close
(as nginx does): the server stops writing, then reads and drops what the client is still
sending for a moment, so that a client in the middle of sending a long URL reads the answer
instead of a connection reset.
"""

from __future__ import annotations

import json
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from b24tel.config import Settings

BAD_REQUEST = "INVALID_REQUEST"
# a lingering close lasts at most this long, and reads at most this much
LINGER_SECONDS = 2.0
LINGER_BYTES = 8 * 1024 * 1024


def unreadable(limit: int) -> bytes:
    return json.dumps(
        {
            "error": BAD_REQUEST,
            "error_description": "Invalid HTTP request: a malformed request line or headers, "
            f"or more than {limit} bytes of them (max_request_head)",
        }
    ).encode()


class Protocol(H11Protocol):
    """uvicorn's h11 protocol, answering an unreadable request in JSON."""

    lingering = False
    lingered = 0

    def send_400_response(self, msg: str) -> None:
        # the limit travels in uvicorn's config: a class made per setting could not be
        # pickled into --workers processes
        body = unreadable(self.config.h11_max_incomplete_event_size or 0)
        headers = [
            (b"content-type", b"application/json; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event) or b"")
        self.lingering = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def data_received(self, data: bytes) -> None:
        if not self.lingering:
            super().data_received(data)
            return
        self.lingered += len(data)
        if self.lingered > LINGER_BYTES:
            self.transport.close()

    def eof_received(self) -> None:
        if self.lingering:
            self.transport.close()
            return
        super().eof_received()


def http_options(settings: Settings) -> dict[str, Any]:
    """uvicorn.Config's options for the HTTP protocol."""
    return {"http": Protocol, "h11_max_incomplete_event_size": settings.max_request_head}
