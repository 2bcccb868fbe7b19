"""The container the composition root (``app.create_app``) fills and hands to handlers."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from b24tel.background import Background
from b24tel.clock import Clock
from b24tel.config import Settings
from b24tel.db.engine import Database
from b24tel.db.hot import Tx
from b24tel.identity import Authenticator, SessionResolver
from b24tel.recordings.fetcher import SafeFetcher
from b24tel.recordings.service import Recordings
from b24tel.rest.authcache import AuthCache
from b24tel.rest.context import CallContext, EndpointContext
from b24tel.rest.faults import FaultSource
from b24tel.rest.journal import JournalSink
from b24tel.rest.limits import OperatingLimiter, RateLimiter
from b24tel.rest.platform import Passthrough, RequestMetrics
from b24tel.rest.registry import Registry
from b24tel.wire.phpquery import InputLimits


class Outbox(Protocol):
    """Raises an event inside a unit of work (``b24tel.events.outbox.emit``, handed in by
    the composition root: the container knows no feature)."""

    async def __call__(
        self, where: AsyncSession | Tx, now: dt.datetime, secret: str, event: str,
        data: dict[str, Any], *, entity: str, user_id: int | None, only_app: int | None = None,
    ) -> list[int]: ...  # fmt: skip


@dataclass
class Services:
    settings: Settings
    clock: Clock
    db: Database
    registry: Registry
    rate_limiter: RateLimiter
    operating: OperatingLimiter
    tz: ZoneInfo
    recordings: Recordings
    fetcher: SafeFetcher
    background: Background
    auth_cache: AuthCache
    authenticator: Authenticator
    sessions: SessionResolver
    input_limits: InputLimits
    journal: JournalSink
    faults: FaultSource
    metrics: RequestMetrics
    outbox: Outbox
    # bridge mode: calls passed on to the portal (docs/bridge.md); None: this is the portal
    bridge: Passthrough | None = None
    # loaded from the database at start-up (or taken from the settings)
    secret: str = field(default="", repr=False)
    # the portal's address when a command runs beside a server (b24tel.ops.instances);
    # empty: this process is the server, and its settings say where it listens
    portal_url: str = ""

    @property
    def address(self) -> str:
        """The portal's address: what installs, events and printed links carry."""
        return self.portal_url or self.settings.base_url

    async def emit(
        self,
        session: AsyncSession | Tx,
        event: str,
        data: dict[str, Any],
        *,
        entity: str,
        user_id: int | None,
        only_app: int | None = None,
    ) -> list[int]:
        """Raise ``event`` inside the caller's unit of work (b24tel.events.outbox)."""
        return await self.outbox(
            session, self.clock.now(), self.secret, event, data, entity=entity,
            user_id=user_id, only_app=only_app,
        )  # fmt: skip

    @property
    def member_id(self) -> str:
        if self.settings.member_id:
            return self.settings.member_id
        return hashlib.sha256(f"member:{self.secret}".encode()).hexdigest()[:32]


# what feature handlers are typed with
Ctx = CallContext[Services]
EndpointCtx = EndpointContext[Services]
