"""What a handler gets besides its params: who calls, through which link, and the services
of the composition root.

The protocol layer knows the services only as a ``Platform``: the few things it needs
itself. Features see the whole container (``b24tel.services.Services``) through the same
context, typed ``CallContext[Services]``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from starlette.requests import Request

from b24tel.config import Settings
from b24tel.db.engine import Database
from b24tel.identity import Caller
from b24tel.rest.envelope import Timing, iso
from b24tel.rest.platform import Platform

S = TypeVar("S", bound=Platform)


@dataclass
class CallContext(Generic[S]):
    services: S
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


@dataclass
class EndpointContext(Generic[S]):
    """What a raw endpoint (a download, an upload, the token endpoint) gets: the request
    itself, and the caller — or the claims of the signed link it came with."""

    services: S
    request: Request
    caller: Caller | None
    link: dict[str, Any] | None
    timing: Timing
    base_url: str
    query: dict[str, Any]  # the query string's parameters (credentials taken out)
    request_id: str = ""

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def rest_url(self) -> str:
        return self.base_url.rstrip("/") + "/rest/"
