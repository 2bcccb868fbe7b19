"""Send a journaled request again, as its caller (``b24tel requests replay``, the request
page's Replay button).

Secrets were never kept, so the request runs in this process with the caller's current
credentials (the webhook as it is now, the application's newest valid token for that user)
rather than over HTTP with ones that would have to be typed in. The replay goes through the
same pipeline as a request (scope, limits, parameters, handler) and is journaled itself.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from b24tel import errors
from b24tel.errors import ApiError
from b24tel.journal.models import JournalRow
from b24tel.rest import pipeline
from b24tel.rest.envelope import success_body
from b24tel.rest.journal import MASK, Entry, sanitize
from b24tel.services import Services
from b24tel.users.service import NoCaller, caller_of

REPLAYABLE = ("method", "batch")


class NotReplayable(Exception):
    """Why this entry cannot be sent again."""


@dataclass
class Replayed:
    status: int
    body: dict[str, Any]
    caller: str


def _unsendable(value: Any) -> bool:
    """A value kept only as size and sha256, or masked: what was sent is not known."""
    if isinstance(value, dict):
        return bool(value.get("elided") is True) or any(_unsendable(v) for v in value.values())
    if isinstance(value, list):
        return any(_unsendable(v) for v in value)
    return isinstance(value, str) and value == MASK


async def replay(services: Services, row: JournalRow) -> Replayed:
    if row.direction != "in" or row.kind not in REPLAYABLE:
        raise NotReplayable(
            f"entry {row.id} is a{'n' if row.kind[:1] in 'aeiou' else ''} {row.kind}: only "
            "method and batch requests are sent again"
        )
    params = row.params if isinstance(row.params, dict) else {}
    if _unsendable(params):
        raise NotReplayable(
            f"entry {row.id} has values kept only as size and sha256, or masked: send it "
            "again with `b24tel requests show --curl` and fill them in"
        )
    spec = services.registry.find(row.method)
    if spec is None:
        raise NotReplayable(f"method {row.method} is not served")
    async with services.db.transaction(readonly=True) as s:
        try:
            caller = await caller_of(s, services.clock.now(), row.caller, row.user_id)
        except NoCaller as exc:
            raise NotReplayable(str(exc)) from exc
    started = time.monotonic()
    try:
        if not spec.allowed_for(caller.scopes):
            raise errors.insufficient_scope()
        outcome = await pipeline.call(
            services, caller, spec, dict(params), base_url=services.address,
            request_id=secrets.token_hex(8),
        )  # fmt: skip
        status, body = 200, success_body(outcome.result, outcome.time_block(services))
        result: Any = sanitize(outcome.result)
    except ApiError as exc:
        status, body, result = exc.status, exc.body(), None
    _journal(services, row, caller.limit_key, status, body, result, started)
    return Replayed(status, body, caller.limit_key)


def _journal(
    services: Services, row: JournalRow, caller: str, status: int, body: dict[str, Any],
    result: Any, started: float,
) -> None:  # fmt: skip
    if not services.journal.enabled:
        return
    services.journal.record(
        Entry(
            at=services.clock.now(), request_id=secrets.token_hex(8), direction="in",
            kind=row.kind, method=row.method, caller=caller, user_id=row.user_id,
            http_method="POST", url=row.url, encoding="json", params=row.params,
            status=status, result=result, error=body.get("error"),
            error_description=body.get("error_description"),
            duration_ms=(time.monotonic() - started) * 1000, bytes_in=0, bytes_out=0,
            client="replay", user_agent=f"b24tel requests replay {row.id}", fault=None,
        )
    )  # fmt: skip
