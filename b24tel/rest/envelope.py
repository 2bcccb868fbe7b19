"""The response envelope: ``{"result", "next", "total", "time"}`` on success,
``{"error", "error_description"}`` on failure, encoded the way the reference's PHP encoder
does it (docs/reference/protocol.md, "Envelope" and "JSON encoding")."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from starlette.responses import Response

from b24tel.errors import ApiError
from b24tel.paging import ListResult

JSON_CONTENT_TYPE = "application/json; charset=utf-8"

# CORS and sniffing headers the reference always sends (docs/reference/protocol.md, "Routing")
COMMON_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "origin, content-type, accept",
    "X-Content-Type-Options": "nosniff",
}


def iso(value: dt.datetime, tz: ZoneInfo) -> str:
    """``YYYY-MM-DDThh:mm:ss±hh:mm`` in the portal's zone."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(tz).replace(microsecond=0).isoformat()


# --- JSON -----------------------------------------------------------------------------------

# PHP's encoder (JSON_HEX_TAG|AMP|APOS|QUOT, slashes escaped) — these characters can only
# occur inside strings of json.dumps output, so a token-level pass is exact.
_ESCAPES = {
    "<": "\\u003C",
    ">": "\\u003E",
    "&": "\\u0026",
    "'": "\\u0027",
    "/": "\\/",
    '\\"': "\\u0022",
}
_ESCAPE_RE = re.compile(r"""\\.|[<>&'/]""")
_SPECIAL = "\\<>&'/"  # what the pattern can match begins with one of these


def _escape(match: re.Match[str]) -> str:
    token = match.group(0)
    return _ESCAPES.get(token, token)


# values json.dumps writes as PHP does; most of an answer, so they are passed over first
_PLAIN = frozenset({str, int, bool, type(None)})


def _prepare(value: Any) -> Any:
    kind = type(value)
    if kind in _PLAIN:
        return value
    if isinstance(value, dict):
        if not value:
            return []  # an empty PHP array is a JSON list
        return {str(k): v if type(v) in _PLAIN else _prepare(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [v if type(v) in _PLAIN else _prepare(v) for v in value]
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < 1e15 else value
    if isinstance(value, Decimal):
        return _prepare(float(value))
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def encode_json(value: Any) -> bytes:
    text = json.dumps(_prepare(value), ensure_ascii=False, separators=(",", ":"))
    # most answers have nothing to escape: six scans in C cost less than one regex pass
    if any(char in text for char in _SPECIAL):
        text = _ESCAPE_RE.sub(_escape, text)
    return text.encode("utf-8", errors="replace")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        encode_json(body),
        status_code=status,
        media_type=None,
        headers={"Content-Type": JSON_CONTENT_TYPE, **COMMON_HEADERS, **(headers or {})},
    )


# --- time block -----------------------------------------------------------------------------


@dataclass
class Timing:
    """Wall-clock marks of one call (seconds since the epoch)."""

    start: float
    handler_start: float = 0.0
    handler_end: float = 0.0
    operating: float = 0.0
    operating_reset_at: int = 0

    def block(self, finish: float, tz: ZoneInfo) -> dict[str, Any]:
        # current reference builds truncate start and the processing marks to whole
        # seconds (docs/reference/protocol.md, "Envelope")
        start = int(self.start)
        return {
            "start": start,
            "finish": finish,
            "duration": finish - start,
            "processing": int(self.handler_end) - int(self.handler_start),
            "date_start": iso(dt.datetime.fromtimestamp(self.start, dt.UTC), tz),
            "date_finish": iso(dt.datetime.fromtimestamp(finish, dt.UTC), tz),
            "operating_reset_at": self.operating_reset_at or start + 600,
            "operating": round(self.operating, 6),
        }


def success_body(result: Any, time_block: dict[str, Any] | None) -> dict[str, Any]:
    body: dict[str, Any]
    if isinstance(result, ListResult):
        body = {"result": result.items}
        if result.next is not None:
            body["next"] = result.next
        # start=-1 switches counting off; the reference still hoists total as 0
        body["total"] = result.total or 0
    else:
        body = {"result": result}
    if time_block is not None:
        body["time"] = time_block
    return body


def render_error(error: ApiError) -> Response:
    """The only place an error becomes a response."""
    return json_response(error.body(), error.status, error.headers or None)
