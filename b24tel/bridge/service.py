"""Passing a connector's REST call on to the portal and its answer back as it came: status,
``result``, ``error``, ``time``, ``total``, ``next`` (docs/bridge.md). The connector
authenticated against this server as usual (its own webhook or application); the portal
sees the upstream webhook's user.

Both legs are in the request journal: the connector's request (kind ``method`` or
``batch``, with the portal's answer) and the call passed on (direction ``out``, kind
``upstream``, the webhook code masked).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from b24tel.bridge.errors import upstream_unreachable
from b24tel.bridge.upstream import Answer, Upstream, UpstreamUnreachable
from b24tel.clock import Clock
from b24tel.rest.envelope import COMMON_HEADERS
from b24tel.rest.journal import Entry, JournalSink, Note, sanitize


class Bridge:
    def __init__(self, upstream: Upstream, journal: JournalSink, clock: Clock) -> None:
        self.upstream = upstream
        self.journal = journal
        self.clock = clock

    async def forward(
        self, method: str, params: dict[str, Any], note: Note, request_id: str
    ) -> Response:
        try:
            answer = await self.upstream.call(method, params)
        except UpstreamUnreachable as exc:
            error = upstream_unreachable(str(exc))
            self._journal(method, params, request_id, None, error.code, error.description)
            raise error from None
        body = _json(answer.body)
        code, text = _error_of(body)
        self._journal(method, params, request_id, answer, code, text)
        if isinstance(body, dict) and "result" in body:
            note.result = sanitize(body["result"])
        if code is not None:
            note.error, note.error_description = code, text
        headers = {**COMMON_HEADERS, "Content-Type": answer.content_type}
        return Response(answer.body, status_code=answer.status, headers=headers)

    def _journal(
        self,
        method: str,
        params: dict[str, Any],
        request_id: str,
        answer: Answer | None,
        error: str | None,
        description: str | None,
    ) -> None:
        if not self.journal.enabled:
            return
        result = _json(answer.body) if answer is not None else None
        self.journal.record(
            Entry(
                at=self.clock.now(), request_id=request_id, direction="out", kind="upstream",
                method=method, caller="upstream", user_id=None, http_method="POST",
                url=self.upstream.shown + f"{method}.json", encoding="json",
                params=sanitize(params), status=answer.status if answer else 0,
                result=sanitize(result.get("result")) if isinstance(result, dict) else None,
                error=error, error_description=description,
                duration_ms=answer.duration_ms if answer else 0.0,
                bytes_in=len(answer.body) if answer else 0, bytes_out=answer.sent if answer else 0,
                client="", user_agent="", fault=None,
            )
        )  # fmt: skip

    async def close(self) -> None:
        await self.upstream.close()


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _error_of(body: Any) -> tuple[str | None, str | None]:
    if isinstance(body, dict) and "error" in body:
        return str(body["error"]), str(body.get("error_description", ""))
    return None, None
