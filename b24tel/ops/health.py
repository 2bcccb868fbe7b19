"""``/healthz`` and ``/readyz``: no authentication, no secrets in the answer.

``/healthz`` says the process answers. ``/readyz`` says this instance can serve: the
database answers, its schema is the newest this code knows, and the recording storage
takes a write. A load balancer sends traffic only to ready instances; an instance becomes
ready again by itself when the database comes back (the pool replaces dead connections).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable

from sqlalchemy import text
from starlette.responses import JSONResponse

from b24tel import errors
from b24tel.db import migrate
from b24tel.services import EndpointCtx, Services

log = logging.getLogger("b24tel.ops")
PROBE_PREFIX = ".ready/"
HEADERS = {"Cache-Control": "no-store"}


async def healthz(ctx: EndpointCtx) -> JSONResponse:
    return JSONResponse({"status": "ok"}, headers=HEADERS)


async def _database(services: Services) -> str:
    async with services.db.transaction(readonly=True) as s:
        current = (await s.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    head = migrate.head_revision()
    if current != head:
        return f"schema at {current}, this version needs {head}: run `b24tel db upgrade`"
    return ""


async def _storage(services: Services) -> str:
    storage = services.recordings.storage
    key = PROBE_PREFIX + secrets.token_hex(8)

    async def one() -> AsyncIterator[bytes]:
        yield b"ready"

    await storage.store(key, one())
    await storage.delete(key)
    return ""


async def _check(name: str, probe: Callable[[], Awaitable[str]], timeout: float) -> str:
    """'' when fine, else why (a short description: never a URL or a credential)."""
    try:
        return await asyncio.wait_for(probe(), timeout)
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except Exception as exc:  # any failure means not ready; the log has the details
        if errors.database_away(exc):  # said once in the log by the database itself
            return "unavailable (no answer from the database)"
        log.warning("readiness: %s failed: %s", name, type(exc).__name__)
        return f"unavailable ({type(exc).__name__})"


async def readyz(ctx: EndpointCtx) -> JSONResponse:
    services = ctx.services
    timeout = services.settings.readiness_timeout
    database, storage = await asyncio.gather(
        _check("database", lambda: _database(services), timeout),
        _check("storage", lambda: _storage(services), timeout),
    )
    checks = {
        "database": database or "ok",
        "storage": storage or "ok",
    }
    ready = not database and not storage
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
        headers=HEADERS,
    )
