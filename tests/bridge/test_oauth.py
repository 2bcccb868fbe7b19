"""Bridge mode through a local application of the portal instead of a webhook: calls carry
its access token; when the portal answers ``expired_token`` the bridge refreshes the pair
at the portal's ``/oauth/token/`` and sends the call again — the connector never sees it.
The refreshed pair is kept in the database: a restarted bridge goes on with it. The portal
is a second b24tel, a real process; the tokens never reach the journal or a log line."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from b24tel.clock import Clock
from b24tel.config import Settings
from b24tel.db.state import ServerState
from b24tel.journal import queries
from tests.bridge.test_passthrough import Connector
from tests.conftest import ISSUED_SECRETS, make_harness
from tests.servers import ServeProcess
from tests.web.browser import cli

# starts real b24tel processes: left out of the quick run (`-m "not slow"`)
pytestmark = pytest.mark.slow

PORTAL_ENV = {"B24TEL_ACCESS_TOKEN_TTL": "2"}  # tokens that expire while the test runs


def app_on(portal_dir: Path) -> dict[str, str]:
    """A local application of the portal and a token pair for its administrator."""
    created = cli(portal_dir, "apps", "create", "--name", "Bridge", env=PORTAL_ENV)
    pair = cli(portal_dir, "apps", "token", "--app", "1", "--user", "1", env=PORTAL_ENV)
    found = dict(re.findall(r"(\w+): (\S+)", created + "\n" + pair))
    ISSUED_SECRETS.update({found["client_secret"], found["access_token"], found["refresh_token"]})
    return found


async def test_an_application_upstream_refreshes_its_token_unseen(
    settings: Settings, clock: Clock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with ServeProcess(tmp_path / "portal", env=PORTAL_ENV) as portal:
        app = app_on(tmp_path / "portal")
        tuned = settings.replace(
            upstream_url=portal.url + "/rest/", upstream_allow_http=True,
            upstream_client_id=app["client_id"], upstream_client_secret=app["client_secret"],
            upstream_refresh_token=app["refresh_token"],
        )  # fmt: skip
        async with make_harness(tuned, clock) as h:
            await h.add_webhook(await h.add_user(name="Admin", admin=True), code="secretcode")
            through = Connector(h.client, "/rest/1/secretcode/", h.client)
            me = await through.call("user.current")
            assert me["ID"] == "1"  # the application acts as the portal's user 1
            first = await kept_pair(h)
            await asyncio.sleep(2.5)  # the access token has expired on the portal
            call = {"USER_ID": 1, "PHONE_NUMBER": "+79160001234", "TYPE": 2}
            reg = await through.call("telephony.externalCall.register", call)
            assert reg["CALL_ID"].startswith("externalCall.")
            second = await kept_pair(h)
            assert second[0] != first[0] and second[1] != first[1]  # refreshed, and kept
            # a restarted bridge (nothing in memory) goes on with the kept pair
            tokens = h.services.bridge.upstream.tokens  # type: ignore[union-attr]
            tokens.access = ""
            assert (await through.call("user.current"))["ID"] == "1"
            assert await kept_pair(h) == second and tokens.access == second[0]
            await h.services.journal.flush()
            async with h.db.transaction(readonly=True) as s:
                rows = await queries.entries(s, queries.Filter(limit=100), clock.now())
            journal = str([vars(r) for r in rows])
            assert "user.current" in journal and "upstream" in journal
    for secret in (app["client_secret"], app["refresh_token"], *first, *second):
        assert secret not in journal
        assert secret not in caplog.text


async def kept_pair(h: object) -> tuple[str, str]:
    db = h.services.db  # type: ignore[attr-defined]
    async with db.transaction(readonly=True) as s:
        access = await s.get(ServerState, "bridge_upstream_access")
        refresh = await s.get(ServerState, "bridge_upstream_refresh")
    return access.value, refresh.value
