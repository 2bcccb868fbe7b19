"""What the protocol layer needs from the composition root (``b24tel.services.Services``
provides it, and more for the features)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from starlette.responses import Response

from b24tel.clock import Clock
from b24tel.config import Settings
from b24tel.db.engine import Database
from b24tel.identity import Authenticator, Caller, SessionResolver
from b24tel.rest.authcache import AuthCache
from b24tel.rest.faults import FaultSource
from b24tel.rest.journal import JournalSink, Note
from b24tel.rest.limits import OperatingLimiter, RateLimiter
from b24tel.rest.registry import Registry
from b24tel.wire.phpquery import InputLimits


class RequestMetrics(Protocol):
    """Counts every answered request (b24tel.ops.metrics provides it)."""

    def observe(self, method: str, status: int, seconds: float) -> None: ...


@dataclass(frozen=True)
class Leg:
    """A call a bridge passes on: its request id (the journal), the caller and the REST
    address that links handed to the caller are made for."""

    request_id: str
    caller: Caller
    rest_url: str


class Passthrough(Protocol):
    """Bridge mode (b24tel.bridge): a REST call passed on to the portal, its answer back."""

    async def forward(
        self, method: str, params: dict[str, Any], note: Note, leg: Leg
    ) -> Response: ...

    async def upload(self, ctx: Any) -> Response:
        """A file sent to an upload link the bridge handed out (an ``EndpointContext``)."""
        ...


class Platform(Protocol):
    settings: Settings
    clock: Clock
    db: Database
    registry: Registry
    rate_limiter: RateLimiter
    operating: OperatingLimiter
    tz: ZoneInfo
    auth_cache: AuthCache
    authenticator: Authenticator
    sessions: SessionResolver
    input_limits: InputLimits
    journal: JournalSink
    faults: FaultSource
    metrics: RequestMetrics
    secret: str
    bridge: Passthrough | None
