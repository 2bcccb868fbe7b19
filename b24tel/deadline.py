"""The time budget of the request being served (setting ``request_deadline``).

The budget counts the server's own work. Waiting for bytes from outside — the request body
from the client, a ``RECORD_URL`` download, a recording on its way into storage — is not
the server being slow, and has its own limits; such waits run ``paused()``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

_CURRENT: ContextVar[Budget | None] = ContextVar("b24tel_deadline", default=None)


class Budget:
    def __init__(self, seconds: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._monotonic = monotonic
        self._spent = 0.0
        self._since = monotonic()
        self._pauses = 0

    @property
    def is_paused(self) -> bool:
        return self._pauses > 0

    def left(self) -> float:
        """Seconds of the budget left (the pause that is running does not count)."""
        running = 0.0 if self._pauses else self._monotonic() - self._since
        return self.seconds - self._spent - running

    @contextmanager
    def paused(self) -> Iterator[None]:
        if not self._pauses:
            self._spent += self._monotonic() - self._since
        self._pauses += 1
        try:
            yield
        finally:
            self._pauses -= 1
            if not self._pauses:
                self._since = self._monotonic()


def start(budget: Budget) -> Token[Budget | None]:
    """Make ``budget`` the current request's; returns the token for ``stop``."""
    return _CURRENT.set(budget)


def stop(token: Token[Budget | None]) -> None:
    _CURRENT.reset(token)


@contextmanager
def paused() -> Iterator[None]:
    """A wait for the outside world: not counted against the current request's deadline
    (nothing happens outside a request)."""
    budget = _CURRENT.get()
    if budget is None:
        yield
        return
    with budget.paused():
        yield
