"""The portal upstream as a local application (docs/bridge.md, "Through a local
application"): calls carry the application's access token; when the portal answers
``expired_token`` the bridge refreshes it at the portal's ``/oauth/token/`` (or the cloud's
``oauth.bitrix.info``) and sends the call again, as the cloud's SDKs do.

Refresh tokens change with every refresh, so the current pair lives in the database
(``server_state``), shared by every instance and kept across restarts: an instance that
finds its token stale reads the pair another instance already refreshed to before
refreshing itself. The tokens are secrets: never logged, never in the journal.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import update

from b24tel.db.engine import Database
from b24tel.db.state import ServerState

log = logging.getLogger("b24tel.bridge")

ACCESS, REFRESH, SEED = "bridge_upstream_access", "bridge_upstream_refresh", "bridge_upstream_seed"


class TokenRefused(Exception):
    """The portal would not refresh the application's tokens (says why, without them)."""


class AppTokens:
    def __init__(
        self,
        db: Database,
        fetch: Callable[[str, dict[str, str]], Awaitable[tuple[int, Any]]],
        oauth_url: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
    ) -> None:
        self.db, self.fetch, self.oauth_url = db, fetch, oauth_url
        self.client_id, self.client_secret = client_id, client_secret
        self.initial = refresh_token
        # which configured refresh token the kept pair grew from: a new one starts afresh
        self.seed = hashlib.sha256(refresh_token.encode()).hexdigest()
        self.access = ""
        self._lock = asyncio.Lock()

    async def current(self) -> str:
        """The access token to send (refreshed first when none is known yet)."""
        if not self.access:
            access, _ = await self._kept()
            self.access = access or await self.refresh("")
        return self.access

    async def refresh(self, stale: str) -> str:
        """A fresh access token in place of ``stale``: the one another instance refreshed
        to, or a new pair from the portal."""
        async with self._lock:
            access, refresh = await self._kept()
            if access and access != stale:
                self.access = access
                return access
            pair = await self._ask(refresh or self.initial)
            if not await self._keep(refresh, pair):
                # another instance refreshed with the same token meanwhile: use its pair
                access, _ = await self._kept()
                pair["access_token"] = access or pair["access_token"]
            self.access = str(pair["access_token"])
            log.info("the portal application's access token was refreshed")
            return self.access

    async def _kept(self) -> tuple[str, str]:
        async with self.db.transaction(readonly=True) as s:
            seed = await s.get(ServerState, SEED)
            if seed is None or seed.value != self.seed:
                return "", ""
            access, refresh = await s.get(ServerState, ACCESS), await s.get(ServerState, REFRESH)
        return (access.value if access else ""), (refresh.value if refresh else "")

    async def _ask(self, refresh: str) -> dict[str, Any]:
        query = {"grant_type": "refresh_token", "client_id": self.client_id,
                 "client_secret": self.client_secret, "refresh_token": refresh}  # fmt: skip
        try:
            status, body = await self.fetch(self.oauth_url, query)
        except Exception as exc:  # said without the URL: its query holds the secrets
            raise TokenRefused(
                f"the portal's token endpoint failed ({type(exc).__name__})"
            ) from None
        if status != 200 or not isinstance(body, dict) or "access_token" not in body:
            code = body.get("error") if isinstance(body, dict) else None
            raise TokenRefused(f"the portal refused to refresh the token ({code or status})")
        return body

    async def _keep(self, used: str, pair: dict[str, Any]) -> bool:
        """The new pair kept, unless another instance replaced ``used`` first."""
        values = {ACCESS: str(pair["access_token"]), REFRESH: str(pair.get("refresh_token") or "")}
        async with self.db.transaction() as s:
            seed = await s.get(ServerState, SEED)
            if seed is None or seed.value != self.seed:  # the first pair, or a new seed
                for key, value in {**values, SEED: self.seed}.items():
                    row = await s.get(ServerState, key)
                    if row is None:
                        s.add(ServerState(key=key, value=value))
                    else:
                        row.value = value
                return True
            swapped = await s.execute(
                update(ServerState).where(ServerState.key == REFRESH, ServerState.value == used)
                .values(value=values[REFRESH])
            )  # fmt: skip
            if not swapped.rowcount:  # type: ignore[attr-defined]
                return False
            await s.execute(
                update(ServerState).where(ServerState.key == ACCESS).values(value=values[ACCESS])
            )
        return True
