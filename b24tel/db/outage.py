"""A database that cannot be reached or does not answer in time.

That is an expected condition — a restart, a fail-over, a full connection pool, a frozen
server — not a fault of the request: the unit of work has rolled back, and the same request
sent again in a few seconds will work. ``away`` tells these failures from real ones, and a
database that is gone ("down": refused, reset, shutting down) from one that did not answer
within a bounded wait ("slow": a statement, a lock, the pool). ``Outage`` says so in the
log once per transition (lost, still down every ``REMIND_SECONDS`` with a count of refused
units of work, back; for slow answers at most one line per ``REMIND_SECONDS``) instead of a
traceback per request (docs/operations.md, "When the database goes away").
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable

from sqlalchemy import exc as sa_exc

from b24tel import errors

log = logging.getLogger("b24tel.db")

REMIND_SECONDS = 10.0

# SQLSTATE classes and codes of a server that is going away or refusing work for a while:
# 08 connection exception, 53300 too many connections, 57P01–57P04 shutdown and start-up
_TRANSIENT_CLASSES = ("08",)
_TRANSIENT_CODES = frozenset({"53300", "57P01", "57P02", "57P03", "57P04"})
_TIMEOUT_CODES = frozenset({"57014", "55P03"})  # statement_timeout, lock_timeout
_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")


def _down(cause: BaseException) -> bool:
    """The connection is gone or the server refuses work: it is away."""
    if isinstance(cause, sa_exc.DBAPIError) and cause.connection_invalidated:
        return True
    code = _sqlstate(cause)
    if code[:2] in _TRANSIENT_CLASSES or code in _TRANSIENT_CODES:
        return True
    # asyncpg's own: the connection went away under a statement
    return type(cause).__name__ in ("ConnectionDoesNotExistError", "ConnectionResetError")


def _slow(cause: BaseException) -> bool:
    """A wait ran out: a statement, a lock, SQLite's write lock, a pooled connection."""
    if isinstance(cause, sa_exc.TimeoutError):
        return True
    if _sqlstate(cause) in _TIMEOUT_CODES:
        return True
    return isinstance(cause, sqlite3.OperationalError) and any(
        text in str(cause) for text in _SQLITE_BUSY
    )


def _sqlstate(cause: BaseException) -> str:
    code = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    return code if isinstance(code, str) else ""


def away(exc: BaseException, *, connecting: bool) -> str | None:
    """``"down"`` when ``exc``, raised by a unit of work, means the database is away for a
    while; ``"slow"`` when a bounded wait ran out; None for anything else. While
    ``connecting``, any network failure means down (refused, reset, timed out); inside the
    unit only the driver's own signs count, and a client-side statement timeout — a failing
    object store inside a transaction stays a real error."""
    causes = errors.causes(exc)
    if connecting and any(isinstance(c, OSError | sa_exc.DBAPIError) for c in causes):
        return "down"
    if any(_down(c) for c in causes):
        return "down"
    if isinstance(exc, TimeoutError) or any(_slow(c) for c in causes):
        return "slow"  # asyncpg's command_timeout is raised as it is
    return None


def reason(exc: BaseException) -> str:
    """One short line naming the failure, for the log (no parameters: the engine hides
    them)."""
    # the deepest cause, not the cancellation a timeout was made of
    root = [c for c in errors.causes(exc) if not isinstance(c, asyncio.CancelledError)][-1]
    first = (str(root).strip().splitlines() or [""])[0][:200]
    return f"{type(root).__name__}: {first}" if first else type(root).__name__


class Outage:
    """The database's state as this process last saw it, and the log lines of its changes:
    down (lost, still down every ``REMIND_SECONDS``, back) and slow (a bounded wait ran out:
    at most one line per ``REMIND_SECONDS``, with the count since the last one)."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self.since: float | None = None  # when it went away; None while it answers
        self.refused = 0
        self._reminded = 0.0
        self._slow_said: float | None = None
        self._slow = 0

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, kind: str, exc: BaseException) -> None:
        """A unit of work failed because the database is away (``kind`` from ``away``)."""
        if kind == "slow" and self.since is None:
            self._too_slow(exc)
            return
        now = self._monotonic()
        if self.since is None:
            self.since = self._reminded = now
            self.refused = 1
            log.warning(
                "database unavailable (%s); requests are answered 503 DATABASE_UNAVAILABLE "
                "until it is back",
                reason(exc),
            )
            return
        self.refused += 1
        if now - self._reminded >= REMIND_SECONDS:
            self._reminded = now
            log.warning(
                "database still unavailable after %.0f s; units of work refused so far: %d (%s)",
                now - self.since,
                self.refused,
                reason(exc),
            )

    def _too_slow(self, exc: BaseException) -> None:
        now = self._monotonic()
        self._slow += 1
        if self._slow_said is not None and now - self._slow_said < REMIND_SECONDS:
            return
        log.warning(
            "database did not answer in time (%s); units of work answered 503 "
            "DATABASE_UNAVAILABLE since the last such line: %d",
            reason(exc),
            self._slow,
        )
        self._slow_said, self._slow = now, 0

    def answered(self) -> None:
        """A unit of work committed: the database is there."""
        if self.since is None:
            return
        log.warning(
            "database is back after %.1f s; units of work refused meanwhile: %d",
            self._monotonic() - self.since,
            self.refused,
        )
        self.since = None
        self.refused = 0
