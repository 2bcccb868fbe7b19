"""What a handler gets besides its params: who calls, through which link, and the
services of the composition root."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from b24tel.rest.envelope import Timing, iso

if TYPE_CHECKING:
    from b24tel.config import Settings
    from b24tel.db.engine import Database
    from b24tel.services import Services


@dataclass(frozen=True)
class Caller:
    """The authenticated side of a call."""

    user_id: int
    kind: Literal["webhook", "oauth"]
    scopes: frozenset[str]
    webhook_id: int | None = None
    app_id: int | None = None
    token_id: int | None = None
    # the raw credentials as the client sent them: the webhook path (user id, code) or the
    # access token; signed upload links are bound to them
    auth_values: tuple[str, ...] = ()
    # when the credentials stop working (OAuth access tokens), unix seconds
    expires_at: float | None = None

    @property
    def limit_key(self) -> str:
        """Rate and operating limits are kept per webhook or per application."""
        if self.kind == "webhook":
            return f"webhook:{self.webhook_id}"
        return f"app:{self.app_id}"

    @property
    def owner_key(self) -> int | None:
        """Owner of app-scoped data (external lines, dedup): the app, or None for every
        webhook (behavior.md §3.8)."""
        return self.app_id


@dataclass
class CallContext:
    services: Services
    caller: Caller
    timing: Timing
    base_url: str  # scheme://host[:port] the client used, or the configured public URL
    start: int = 0  # page offset (`start`), -1 switches counting off
    in_batch: bool = False
    request_id: str = ""
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def db(self) -> Database:
        return self.services.db

    def now(self) -> dt.datetime:
        return self.services.clock.now()

    def iso(self, value: dt.datetime | None) -> str | None:
        return None if value is None else iso(value, self.services.tz)

    @property
    def rest_url(self) -> str:
        return self.base_url.rstrip("/") + "/rest/"
