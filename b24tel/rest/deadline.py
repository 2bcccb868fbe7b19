"""The request deadline (setting ``request_deadline``): a request that has not begun its
answer when its budget (``b24tel.deadline``) runs out is answered 503 ``REQUEST_TIMEOUT``
at once, and its work is cancelled — the unit of work it was in rolls back.

The answer goes out from a task of its own: the cancelled request may still be waiting for
a database that stopped answering to confirm the rollback (bounded by the statement
timeout), and the client must not wait for that. Whatever the cancelled request would send
afterwards is dropped. Connectors give up after 5–30 s and send the request again
(docs/reference/clients.md, "Answers"), so answering before they do keeps work from
piling up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from b24tel import deadline, errors
from b24tel.errors import ApiError
from b24tel.rest.journal import Note

log = logging.getLogger("b24tel.rest")

# how often a paused budget (a body or a RECORD_URL on its way) is looked at again
RECHECK = 0.25

Render = Callable[[Scope, ApiError], Response]


class Deadline:
    """ASGI middleware; ``render`` makes the answer (JSON for clients, HTML for pages)."""

    def __init__(self, app: ASGIApp, seconds: float, render: Render) -> None:
        self.app = app
        self.seconds = seconds
        self.render = render
        self._answers: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.seconds <= 0:
            await self.app(scope, receive, send)
            return
        cut = _Cut(self, scope, receive, send)
        token = deadline.start(cut.budget)
        try:
            await self.app(scope, cut.receive, cut.send)
        except asyncio.CancelledError:
            if not cut.expired:
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()  # ours: the answer is on its way
        except Exception:
            if not cut.expired:
                raise
            # the cut request failed on its way out (its cancellation became another error
            # in a library): the client has its answer already, and this is no news
            log.debug("a request cut by the deadline ended with an error", exc_info=True)
        finally:
            cut.close()
            deadline.stop(token)
        if cut.answer is not None:
            # the request let go sooner than its answer went out: the server must not see
            # the application return before the answer is complete
            await cut.answer

    def answer(self, scope: Scope, receive: Receive, send: Send) -> asyncio.Task[None]:
        error = errors.request_timeout(self.seconds)
        note = scope.get("state", {}).get("journal")
        if isinstance(note, Note):
            note.failed(error)
        task = asyncio.ensure_future(self.render(scope, error)(scope, receive, send))
        self._answers.add(task)
        task.add_done_callback(self._answers.discard)
        return task


class _Cut:
    """One request's watch: a timer that looks at the budget when it should run out."""

    def __init__(self, owner: Deadline, scope: Scope, receive: Receive, send: Send) -> None:
        self.owner = owner
        self.scope = scope
        self._receive = receive
        self._send = send
        self.budget = deadline.Budget(owner.seconds)
        self.started = False
        self.expired = False
        self.answer: asyncio.Task[None] | None = None
        self.task = asyncio.current_task()
        self._timer: asyncio.TimerHandle | None = asyncio.get_running_loop().call_later(
            owner.seconds, self._check
        )

    async def receive(self) -> Message:
        with self.budget.paused():  # the client's pace is not ours
            return await self._receive()

    async def send(self, message: Message) -> None:
        if self.expired:
            return  # the client has its 503
        if message["type"] == "http.response.start":
            self.started = True
            self.close()
        await self._send(message)

    def _check(self) -> None:
        self._timer = None
        if self.started or self.task is None or self.task.done():
            return
        left = self.budget.left()
        if self.budget.is_paused or left > 0:
            wait = RECHECK if self.budget.is_paused else left
            self._timer = asyncio.get_running_loop().call_later(wait, self._check)
            return
        self.expired = True
        # the access line and the journal show the 503; nothing more per request
        log.debug(
            "request cut after %g s (request_deadline)",
            self.owner.seconds,
            extra={"request_id": self.scope.get("state", {}).get("request_id", "")},
        )
        self.answer = self.owner.answer(self.scope, self._receive, self._send)
        self.task.cancel()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
