"""Real clients against a real uvicorn on 127.0.0.1 (docs/reference/clients.md).

Seeded as the scenarios ask: users 1 (inner 101), 2 (102), 3 (no inner number); the webhook
`1/secretcode` with scopes telephony, crm, user and disk. b24pysdk talks HTTPS with a test
CA, fast_bitrix24 plain HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from b24tel.app import create_app
from b24tel.clock import Clock
from b24tel.config import Settings
from b24tel.db.engine import Database
from b24tel.users import service as users
from tests.conftest import WEBHOOK_CODE, LiveServer, reset_database


@dataclass
class Live:
    http: LiveServer
    https: LiveServer
    settings: Settings
    ca: Path

    @property
    def hook_http(self) -> str:
        return f"{self.http.url}/rest/1/{WEBHOOK_CODE}/"

    @property
    def hook_https(self) -> str:
        return f"{self.https.url}/rest/1/{WEBHOOK_CODE}/"

    @property
    def https_domain(self) -> str:
        return f"127.0.0.1:{self.https.port}"

    def services(self) -> Any:
        return self.http.app.state.services

    def run_db(self, work: Callable[[Any], Awaitable[Any]]) -> Any:
        async def main() -> Any:
            db = Database(self.settings.effective_database_url)
            try:
                async with db.transaction() as session:
                    return await work(session)
            finally:
                await db.dispose()

        return asyncio.run(main())


async def _seed(db: Database) -> None:
    now = Clock().now()
    async with db.transaction() as s:
        await users.create_user(s, now, name="Admin", admin=True, inner_number="101")
        await users.create_user(s, now, name="Second", inner_number="102")
        await users.create_user(s, now, name="Third")
        await users.create_webhook(
            s,
            now,
            user_id=1,
            scopes=frozenset({"telephony", "crm", "user", "disk"}),
            code=WEBHOOK_CODE,
        )


@pytest.fixture
def live(
    settings: Settings, tls_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Live]:
    async def prepare() -> None:
        db = Database(settings.effective_database_url)
        await reset_database(db)
        await _seed(db)
        await db.dispose()

    asyncio.run(prepare())
    # the clients' own way to trust a CA (requests, ssl)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_files["ca"]))
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files["ca"]))
    http = LiveServer(create_app(settings))
    https = LiveServer(create_app(settings), ssl=(str(tls_files["cert"]), str(tls_files["key"])))
    with http, https:
        yield Live(http, https, settings, tls_files["ca"])
