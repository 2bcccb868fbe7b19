"""The container the composition root (``app.create_app``) fills and hands to handlers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from b24tel.background import Background
from b24tel.clock import Clock
from b24tel.config import Settings
from b24tel.db.engine import Database
from b24tel.identity import Authenticator
from b24tel.recordings.fetcher import SafeFetcher
from b24tel.recordings.service import Recordings
from b24tel.rest.authcache import AuthCache
from b24tel.rest.context import CallContext, EndpointContext
from b24tel.rest.limits import OperatingLimiter, RateLimiter
from b24tel.rest.phpquery import InputLimits
from b24tel.rest.registry import Registry


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
    input_limits: InputLimits
    # loaded from the database at start-up (or taken from the settings)
    secret: str = field(default="", repr=False)

    @property
    def member_id(self) -> str:
        if self.settings.member_id:
            return self.settings.member_id
        return hashlib.sha256(f"member:{self.secret}".encode()).hexdigest()[:32]


# what feature handlers are typed with
Ctx = CallContext[Services]
EndpointCtx = EndpointContext[Services]
