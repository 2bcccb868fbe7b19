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
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response

from b24tel.bridge.errors import upstream_unreachable
from b24tel.bridge.mirror import ATTACH, Mirror
from b24tel.bridge.pace import Pace
from b24tel.bridge.queue import CARDS, QUEUED, REGISTER, RETRY_CODES, Queue
from b24tel.bridge.uploads import Uploads
from b24tel.bridge.upstream import Answer, Upstream, UpstreamUnreachable
from b24tel.clock import Clock
from b24tel.recordings.links import signed_file_url
from b24tel.rest.context import EndpointContext
from b24tel.rest.envelope import COMMON_HEADERS, Timing, json_response, success_body
from b24tel.rest.journal import Entry, JournalSink, Note, sanitize
from b24tel.rest.platform import Leg

log = logging.getLogger("b24tel.bridge")


class Bridge:
    def __init__(
        self,
        upstream: Upstream,
        journal: JournalSink,
        clock: Clock,
        queue: Queue,
        pace: Pace,
        mirror: Mirror,
        uploads: Uploads,
        read_batch: BatchReader,
    ) -> None:
        self.upstream = upstream
        self.journal = journal
        self.clock = clock
        self.queue = queue
        self.pace = pace
        self.mirror = mirror
        self.uploads = uploads
        self.read_batch = read_batch
        self.tz = mirror.tz
        self.observe: Observer = _unobserved
        # bridge_record_mode = url: links to recordings kept here; None: content as it came
        self.links: RecordLinks | None = None

    async def forward(self, method: str, params: dict[str, Any], note: Note, leg: Leg) -> Response:
        key = method.lower()
        waits = key in QUEUED and _can_wait(key, params)
        copied = False
        if key == ATTACH and self.links is not None and "FILE_CONTENT" in params:
            params, copied = await self._as_link(params)
        # a write that waits is kept under the CALL_ID the connector sent, so that its
        # call's next writes find it and queue behind it
        sent = params
        call_id = str(params.get("CALL_ID", "")) if key in QUEUED and key != REGISTER else ""
        if call_id:
            pending, portal_id = await self.queue.waiting(call_id)
            if pending and waits:  # behind its call's earlier writes
                return await self._keep(key, sent, note, copied)
            if portal_id and portal_id != call_id:
                params = {**params, "CALL_ID": portal_id}
        if copied:  # the marker is ours, not the portal's
            params = {k: v for k, v in params.items() if k != LOCAL_FILE}
        await self.pace.passed()
        try:
            answer = await self.upstream.call(method, params)
        except UpstreamUnreachable as exc:
            error = upstream_unreachable(str(exc))
            self.record(method, params, leg.request_id, None, None, error.code, error.description)
            if waits:
                return await self._keep(key, sent, note, copied)
            raise error from None
        # read only when someone needs it: the journal, or a write to copy or that may wait
        needed = self.journal.enabled or key in QUEUED or key == "batch"
        body = _json(answer.body) if needed else None
        code, text = _error_of(body)
        if waits and retryable(answer.status, code):
            self.record(method, params, leg.request_id, answer, None, code, text)
            return await self._keep(key, sent, note, copied)
        result = body.get("result") if isinstance(body, dict) and answer.status == 200 else None
        shown = sanitize(body["result"]) if isinstance(body, dict) and "result" in body else None
        self.record(method, params, leg.request_id, answer, shown, code, text)
        content = answer.body
        if code is None and result is not None:
            changed = await self._taken(key, params, result, leg, copied)
            if changed is not None:
                content = json.dumps({**(body or {}), "result": changed}).encode()
                shown = sanitize(changed)
        note.result = shown
        if code is not None:
            note.error, note.error_description = code, text
        headers = {**COMMON_HEADERS, "Content-Type": answer.content_type}
        return Response(content, status_code=answer.status, headers=headers)

    async def _taken(
        self, key: str, params: dict[str, Any], result: Any, leg: Leg, copied: bool
    ) -> Any:
        """The portal took the call: its telephony writes copied and noted, inside a batch
        too; an upload link it answered replaced by ours. The changed result, or None."""
        if key == "batch" and isinstance(result, dict):
            return await self._batch(params, result, leg)
        if key == ATTACH and isinstance(result, dict) and "uploadUrl" in result:
            call_id = str(params.get("CALL_ID", ""))
            return await self.uploads.ours(leg.caller, leg.rest_url, call_id, result)
        if key in QUEUED:
            if not copied:
                await self.mirror.copy(key, params, result)
            await self._passed(key, params, result)
        return None

    async def _batch(self, params: dict[str, Any], result: dict[str, Any], leg: Leg) -> Any:
        """Each command of a batch the portal ran, as if it had come alone (it is not
        queued: the batch went as a whole)."""
        answers = result.get("result")
        changed = False
        cmd = params.get("cmd", params.get("CMD"))
        async with self.read_batch(cmd, result) as commands:
            for key, method, sub in commands:
                got = _answer_of(answers, key)
                if got is None:
                    continue  # it failed, or the batch halted before it
                new = await self._taken(method.lower(), sub, got, leg, False)
                if new is not None and isinstance(answers, dict):
                    answers[key], changed = new, True
                elif new is not None and isinstance(answers, list):
                    answers[int(key)], changed = new, True
        return result if changed else None

    async def _passed(self, key: str, params: dict[str, Any], result: Any) -> None:
        """Noted in the call's line; the portal has the write, so a failure here is logged,
        never the connector's error (it would send the write again)."""
        call_id = result.get("CALL_ID") if key == REGISTER and isinstance(result, dict) else None
        try:
            await self.queue.passed(key, str(call_id or params.get("CALL_ID", "")))
        except Exception as exc:
            log.warning("a forwarded %s was not noted: %s", key, type(exc).__name__)

    async def upload(self, ctx: EndpointContext[Any]) -> Response:
        """A file sent to an upload link of ours (``Uploads``), passed on to the portal's."""
        request_id = ctx.request_id

        def record(url: str, answer: Answer | None, error: str | None) -> None:
            code = "UPSTREAM_UNAVAILABLE" if answer is None else None
            self.record("upload", {}, request_id, answer, None, code, error, url=url)

        return await self.uploads.receive(ctx, record)

    async def _as_link(self, params: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """``bridge_record_mode = url``: the recording kept here first, the portal given a
        signed link to fetch it from (``LOCAL_FILE`` names it for the queue, which makes
        the link afresh when it forwards a write that waited)."""
        assert self.links is not None
        file_id = await self.mirror.content_first(params)
        if file_id is None:
            return params, False
        rest = {k: v for k, v in params.items() if k != "FILE_CONTENT"}
        return {**rest, "RECORD_URL": self.links.url(file_id), LOCAL_FILE: file_id}, True

    async def _keep(
        self, key: str, params: dict[str, Any], note: Note, copied: bool = False
    ) -> Response:
        """The write waits for the portal; the connector gets its answer now."""
        started = self.clock.time()
        call_id, number = await self.queue.add(key, params)
        result = local_result(key, call_id, number, params)
        if not copied:
            await self.mirror.copy(key, params, result)
        note.result = sanitize(result)
        block = Timing(start=started, handler_start=started).block(self.clock.time(), self.tz)
        return json_response(success_body(result, block))

    def record(
        self,
        method: str,
        params: dict[str, Any],
        request_id: str,
        answer: Answer | None,
        result: Any,
        error: str | None,
        description: str | None,
        url: str | None = None,
    ) -> None:
        """The call passed on, in the journal (``result`` as the journal shows it) and the
        metrics."""
        leg = "forwarded" if request_id.startswith("bridge-") else "passed"
        status = answer.status if answer else 0
        self.observe(leg, status, error, answer.duration_ms / 1000 if answer else None)
        if not self.journal.enabled:
            return
        self.journal.record(
            Entry(
                at=self.clock.now(), request_id=request_id, direction="out", kind="upstream",
                method=method, caller="upstream", user_id=None, http_method="POST",
                url=url or self.upstream.shown + f"{method}.json", encoding="json",
                params=sanitize(params), status=answer.status if answer else 0,
                result=result,
                error=error, error_description=description,
                duration_ms=answer.duration_ms if answer else 0.0,
                bytes_in=len(answer.body) if answer else 0, bytes_out=answer.sent if answer else 0,
                client="", user_agent="", fault=None,
            )
        )  # fmt: skip

    async def close(self) -> None:
        await self.upstream.close()


# a batch the portal ran, read as it ran it (b24tel.rest.batch.ran_elsewhere): its
# command and the portal's answer in; each command's key, method and params out
BatchReader = Callable[
    [Any, dict[str, Any]], AbstractAsyncContextManager[list[tuple[str, str, dict[str, Any]]]]
]
# the recording kept here that a waiting attachRecord's RECORD_URL points at
LOCAL_FILE = "_B24TEL_FILE_ID"


@dataclass
class RecordLinks:
    """Signed links to recordings kept here, for the portal to fetch (``public_url``)."""

    rest_url: str
    ttl: int
    clock: Clock
    secret: str = field(default="", repr=False)  # the server's, loaded at start

    def url(self, file_id: int) -> str:
        expires = int(self.clock.time()) + self.ttl
        return signed_file_url(self.secret, self.rest_url, file_id, expires, "bridge")


# a call to the portal for the metrics: passed or forwarded, HTTP status (0: no answer), the
# portal's error code, seconds it took (None: no answer)
Observer = Callable[[str, int, str | None, float | None], None]


def _unobserved(leg: str, status: int, error: str | None, seconds: float | None) -> None:
    pass


def _answer_of(answers: Any, key: str) -> Any:
    if isinstance(answers, dict):
        return answers.get(key)
    if isinstance(answers, list) and key.isdigit() and int(key) < len(answers):
        return answers[int(key)]
    return None


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _error_of(body: Any) -> tuple[str | None, str | None]:
    if isinstance(body, dict) and "error" in body:
        return str(body["error"]), str(body.get("error_description", ""))
    return None, None


def retryable(status: int, code: str | None) -> bool:
    """The portal's "not now": a 5xx or a limit."""
    return status >= 500 or code in RETRY_CODES


def _can_wait(key: str, params: dict[str, Any]) -> bool:
    """attachRecord asking for an upload link needs the portal now: it cannot wait."""
    if key == "telephony.externalcall.attachrecord":
        return "FILE_CONTENT" in params or bool(params.get("RECORD_URL"))
    return True


def local_result(key: str, call_id: str, number: int, params: dict[str, Any]) -> Any:
    """What the connector gets for a write that waits: the reference's fields and types
    (docs/bridge.md: ``FILE_ID`` and ``TRANSCRIPT_ID`` are the queue's number then)."""
    if key == REGISTER:
        return {"CALL_ID": call_id, "CRM_CREATED_LEAD": None, "CRM_CREATED_ENTITIES": [],
                "CRM_ENTITY_TYPE": "", "CRM_ENTITY_ID": None}  # fmt: skip
    if key == "telephony.externalcall.finish":
        return {"CALL_ID": call_id, "CALL_DURATION": _int(params.get("DURATION")),
                "CALL_FAILED_CODE": str(params.get("STATUS_CODE") or "200"),
                "CRM_ACTIVITY_ID": False}  # fmt: skip
    if key == "telephony.externalcall.attachrecord":
        return {"FILE_ID": number}
    if key in CARDS:
        return True
    return {"TRANSCRIPT_ID": number}


def _int(value: Any) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0
