"""The outermost layer of every HTTP request: a request id, the access log line, and the one
place where an unexpected exception becomes an answer.

An exception nobody expected is logged once with its traceback and the request id, and the
client gets the reference's answer for a failure inside the portal — HTTP 500, `ERROR_CORE`
— as JSON, with the same request id, never a bare 500 or a traceback. The fuzz suite
(tests/fuzz) asserts that no input ever gets here.
"""

from __future__ import annotations

import errno
import logging
import re
import secrets
import time
from typing import Any

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from b24tel import errors, logs, masking
from b24tel.errors import ApiError
from b24tel.rest.envelope import render_error
from b24tel.rest.journal import Entry, Note

log = logging.getLogger("b24tel.rest")
access = logging.getLogger("b24tel.access")

_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def new_request_id() -> str:
    return secrets.token_hex(8)


_FULL = ("database or disk is full", "no space left on device", "could not extend file")


def known_failure(exc: BaseException) -> ApiError | None:
    """Failures of the machine rather than of the code: a full disk (on the recordings'
    file system, in SQLite, or in PostgreSQL). The transaction was rolled back, nothing
    is half-written, and the server recovers by itself once there is room again."""
    for cause in errors.causes(exc):
        if isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT):
            return errors.insufficient_storage()
        if type(cause).__name__ == "DiskFullError" or any(
            text in str(cause).lower() for text in _FULL
        ):
            return errors.insufficient_storage()
    return None


def failure(exc: BaseException, request_id: str, where: str) -> ApiError:
    """What an exception that is not an ApiError becomes."""
    known = known_failure(exc)
    if known is not None:
        log.warning("%s: %s", where, known.description, extra={"request_id": request_id})
        return known
    return unexpected(exc, request_id, where)


def unexpected(exc: BaseException, request_id: str, where: str) -> ApiError:
    """Log an unexpected exception (with its traceback) and say what the client gets."""
    log.error(
        "unexpected error in %s",
        where,
        exc_info=exc,
        extra={"request_id": request_id},
    )
    return errors.internal_error(request_id)


class Guard:
    """ASGI middleware around the whole application."""

    def __init__(self, app: ASGIApp, max_head: int = 0) -> None:
        self.app = app
        self.max_head = max_head

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_id(scope) or new_request_id()
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        # the server's own receive: a fault that drops the connection reaches the
        # transport through it (b24tel.rest.faults)
        state["raw_receive"] = receive
        started = time.perf_counter()
        status = 0
        sent_bytes = 0
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
            return message

        async def tagged(message: Message) -> None:
            nonlocal status, sent_bytes
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body":
                sent_bytes += len(message.get("body", b""))
            await send(message)

        try:
            if self.max_head and _head_size(scope) > self.max_head:
                # the HTTP parser bounds a head that arrives in pieces; one that came in
                # whole is measured here
                await render_error(errors.head_too_large(self.max_head))(scope, receive, tagged)
                return
            await self.app(scope, counted, tagged)
        except ClientDisconnect:
            # nobody to answer; what the request had begun is undone by its own handlers
            log.info("the client went away mid-request", extra={"request_id": request_id})
        except Exception as exc:
            # an ApiError from below the endpoints (the database away, the deadline) is an
            # answer already; anything else is looked at
            error = (
                exc
                if isinstance(exc, ApiError)
                else failure(exc, request_id, f"{scope['method']} {_target(scope)}")
            )
            note = state.get("journal")
            if isinstance(note, Note):
                note.failed(error)
            if status == 0:
                await render_error(error)(scope, receive, tagged)
        finally:
            _count(scope, state, status, started)
            _access_line(scope, state, status, sent_bytes, started)
            _journal(scope, state, status, (received, sent_bytes), started)


def _count(scope: Scope, state: dict[str, Any], status: int, started: float) -> None:
    """The request in the metrics: by the method or endpoint it reached ("-" for paths
    that reached none, so arbitrary URLs cannot grow the label set)."""
    services = getattr(getattr(scope.get("app"), "state", None), "services", None)
    if services is not None:
        method = str(state.get("method") or "-")
        services.metrics.observe(method, status or 499, time.perf_counter() - started)


def _journal(
    scope: Scope, state: dict[str, Any], status: int, sizes: tuple[int, int], started: float
) -> None:
    """The request's journal entry, and one per batch command (b24tel.rest.journal)."""
    note = state.get("journal")
    services = getattr(getattr(scope.get("app"), "state", None), "services", None)
    if not isinstance(note, Note) or services is None or not services.journal.enabled:
        return
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    client = scope.get("client") or ("", 0)
    shared = {
        "at": services.clock.now(),
        "request_id": state.get("request_id", ""),
        "direction": "in",
        "http_method": scope["method"],
        "url": _target(scope),
        "encoding": note.encoding,
        "client": client[0],
        "user_agent": logs.redact(headers.get("user-agent", ""))[:500],
    }
    services.journal.record(
        Entry(
            **shared, kind=note.kind, method=note.method, caller=note.caller,
            user_id=note.user_id, params=note.params, status=status or 499,
            result=note.result, error=note.error, error_description=note.error_description,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
            bytes_in=sizes[0], bytes_out=sizes[1], fault=note.fault,
        )
    )  # fmt: skip
    for sub in note.subcalls:
        services.journal.record(
            Entry(
                **shared, kind="subcall", method=sub.method, caller=sub.caller,
                user_id=sub.user_id, params=sub.params, status=sub.status, result=sub.result,
                error=sub.error, error_description=sub.error_description,
                duration_ms=sub.duration_ms, bytes_in=0, bytes_out=0, fault=sub.fault,
            )
        )  # fmt: skip


def _head_size(scope: Scope) -> int:
    size = len(scope.get("raw_path") or b"") + len(scope.get("query_string", b""))
    return size + sum(len(k) + len(v) + 4 for k, v in scope.get("headers", []))


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _CLIENT_ID.match(text) else None
    return None


def _target(scope: Scope) -> str:
    """The request's path and query as shown in a log line: secrets masked, cut to a few
    KiB (``b24tel.masking``)."""
    query = scope.get("query_string", b"").decode("latin-1")
    return masking.shown_target(scope.get("path", ""), query)


def _access_line(
    scope: Scope, state: dict[str, Any], status: int, sent: int, started: float
) -> None:
    if not access.isEnabledFor(logging.INFO):
        return
    client = scope.get("client") or ("", 0)
    access.info(
        "%s %s %s",
        scope["method"],
        _target(scope),
        status or 499,  # nothing was sent: the client went away first
        extra={
            "request_id": state.get("request_id", ""),
            "caller": state.get("caller", "-"),
            "method": state.get("method", "-"),
            "status": status or 499,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            "bytes_out": sent,
            "client": client[0],
        },
    )
