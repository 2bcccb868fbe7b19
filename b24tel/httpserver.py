"""What ``b24tel serve`` runs on: uvicorn with the h11 parser, a bounded request head and a
JSON answer for a request that cannot be read.

h11 rather than httptools: httptools' URL parser stops at 64 KiB with a plain-text 400,
and connectors send longer GET URLs (recordings in a query string; docs/reference/
clients.md, "Large bodies"). The head (request line and headers) is bounded by
``max_request_head``: past it, and for anything h11 cannot parse, the client gets a JSON
400 in the protocol's error shape and the connection is closed.
"""

from __future__ import annotations

import json
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from b24tel.config import Settings

BAD_REQUEST = "INVALID_REQUEST"


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

    head_limit = 0

    def send_400_response(self, msg: str) -> None:
        headers = [(b"content-type", b"application/json; charset=utf-8"), (b"connection", b"close")]
        for event in (
            h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
            h11.Data(data=unreadable(self.head_limit)),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event) or b"")
        self.transport.close()


def http_options(settings: Settings) -> dict[str, Any]:
    """uvicorn.Config's options for the HTTP protocol."""
    protocol = type("Protocol", (Protocol,), {"head_limit": settings.max_request_head})
    return {"http": protocol, "h11_max_incomplete_event_size": settings.max_request_head}
