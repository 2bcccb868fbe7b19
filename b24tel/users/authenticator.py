"""The authenticator the protocol layer uses (``b24tel.identity.Authenticator``): webhook
codes and access tokens, checked against their stored hashes."""

from __future__ import annotations

from b24tel.clock import Clock
from b24tel.db.engine import Database
from b24tel.identity import Caller
from b24tel.users.service import authenticate_webhook
from b24tel.users.tokens import authenticate_token


class DatabaseAuthenticator:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def webhook(self, user: str, code: str) -> Caller:
        async with self.db.transaction(readonly=True) as session:
            return await authenticate_webhook(session, self.clock.now(), user, code)

    async def token(self, access_token: str) -> Caller:
        async with self.db.transaction(readonly=True) as session:
            return await authenticate_token(session, self.clock.now(), access_token)
