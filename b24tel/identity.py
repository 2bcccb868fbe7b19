"""Who is calling: the caller of a request, the scopes a caller may hold, and the interface
that turns credentials into a caller.

The protocol layer (``rest/``) authenticates through an ``Authenticator`` that the
composition root hands it; the users feature provides the implementation. Neither imports
the other: both import this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, Protocol

# every scope the server knows; `basic` is implicit for every caller
# (docs/reference/protocol.md, "Scopes")
SCOPES = ("basic", "user", "user_basic", "user_brief", "crm", "telephony", "call", "disk")
IMPLICIT_SCOPES = frozenset({"basic"})
ALL_SCOPES = tuple(s for s in SCOPES if s not in IMPLICIT_SCOPES)


def parse_scopes(text: str) -> frozenset[str]:
    """A comma- or space-separated scope list; ValueError names unknown scopes."""
    scopes = frozenset(s.strip() for s in re.split(r"[,\s]+", text or "") if s.strip())
    unknown = scopes - set(ALL_SCOPES)
    if unknown:
        raise ValueError(f"unknown scope(s): {', '.join(sorted(unknown))}")
    return scopes


@dataclass(frozen=True)
class Caller:
    """The authenticated side of a call."""

    user_id: int
    kind: Literal["webhook", "oauth", "session"]
    scopes: frozenset[str]
    webhook_id: int | None = None
    app_id: int | None = None
    token_id: int | None = None
    # the raw credentials as the client sent them: the webhook path (user id, code) or the
    # access token; upload links are built from them
    auth_values: tuple[str, ...] = ()
    # when the credentials stop working (OAuth access tokens), unix seconds
    expires_at: float | None = None

    @property
    def limit_key(self) -> str:
        """Rate and operating limits are kept per webhook or per application; also the
        caller's id in logs (never a secret)."""
        if self.kind == "webhook":
            return f"webhook:{self.webhook_id}"
        if self.kind == "session":
            return f"user:{self.user_id}"
        return f"app:{self.app_id}"

    @property
    def owner_key(self) -> int | None:
        """Owner of app-scoped data (external lines, dedup): the app, or None for every
        webhook (docs/reference/telephony.md, "Lines")."""
        return self.app_id


class Authenticator(Protocol):
    """Resolves credentials; raises the reference's authentication errors
    (``INVALID_CREDENTIALS``, ``invalid_token``, ``expired_token``)."""

    async def webhook(self, user: str, code: str) -> Caller: ...

    async def token(self, access_token: str) -> Caller: ...


# NOTIFY channel of a revoked credential: every instance drops its cache of resolved
# credentials (rest/authcache), so a revocation takes effect everywhere at once
AUTH_CHANNEL = "b24tel_auth"

# the cookie of a signed-in browser
SESSION_COOKIE = "b24tel_session"
# how a page's form or script sends its session's CSRF token back
CSRF_FIELD, CSRF_HEADER = "csrf", "x-csrf-token"


@dataclass(frozen=True)
class PageSession:
    """A signed-in browser: who it is, and the token its forms must send back (CSRF)."""

    caller: Caller
    csrf: str


class SessionResolver(Protocol):
    """Turns a session cookie into a signed-in user (the web feature provides it)."""

    async def resolve(self, cookie: str | None) -> PageSession | None: ...
