"""The ``auth`` block of a delivery (docs/reference/events.md, "Payloads"): an application's
handler gets an access token of the acting user, as the reference sends it; an outgoing
webhook and ONAPPUNINSTALL get only the portal's address and the application token."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from b24tel.events.models import Delivery
from b24tel.services import Services
from b24tel.users import repository as users_repo
from b24tel.users import tokens
from b24tel.users.tokens import TokenPair

# a cached token is handed out while it has at least this long to live
MIN_LIFETIME = 600


class EventTokens:
    def __init__(self, services: Services) -> None:
        self.services = services
        # (app id, user id) → a pair this process issued for events, reused until near expiry
        self._pairs: dict[tuple[int, int], TokenPair] = {}

    def portal(self, application_token: str) -> dict[str, Any]:
        base = self.services.address
        return {
            "domain": urlsplit(base).netloc,
            "client_endpoint": f"{base}/rest/",
            "server_endpoint": f"{base}/rest/",
            "member_id": self.services.member_id,
            "application_token": application_token,
        }

    async def auth_block(self, d: Delivery) -> dict[str, Any]:
        block = self.portal(d.application_token)
        if d.app_id is None or d.auth_user_id is None:
            return block
        pair = await self._pair(d.app_id, d.auth_user_id)
        if pair is None:
            return block
        return {
            "access_token": pair.access_token,
            "expires": pair.expires,
            "expires_in": pair.expires_in,
            "scope": pair.scopes,
            "domain": block["domain"],
            "server_endpoint": block["server_endpoint"],
            "status": "L",
            "client_endpoint": block["client_endpoint"],
            "member_id": block["member_id"],
            "user_id": pair.user_id,
            "refresh_token": pair.refresh_token,
            "application_token": d.application_token,
        }

    async def _pair(self, app_id: int, user_id: int) -> TokenPair | None:
        cached = self._pairs.get((app_id, user_id))
        if cached is not None and cached.expires - time.time() > MIN_LIFETIME:
            return cached
        pair = await self.issue(app_id, user_id)
        if pair is not None:
            self._pairs[(app_id, user_id)] = pair
        return pair

    async def issue(self, app_id: int, user_id: int) -> TokenPair | None:
        """A fresh pair, or None when the application or the user can no longer have one
        (the event still goes out, without tokens)."""
        settings = self.services.settings
        async with self.services.db.transaction() as s:
            app = await users_repo.get_app(s, app_id)
            if app is None or app.revoked_at is not None:
                return None
            try:
                return await tokens.issue_tokens(
                    s, self.services.clock.now(), app, user_id,
                    access_ttl=settings.access_token_ttl, refresh_ttl=settings.refresh_token_ttl,
                )  # fmt: skip
            except ValueError:  # the user is gone or deactivated
                return None
