"""Injected faults meet real clients (docs/integrators.md): fast_bitrix24 and b24pysdk retry
past QUERY_LIMIT_EXCEEDED and DATABASE_UNAVAILABLE and the journal shows the failed and the
retried requests; an injected expired_token makes b24pysdk refresh its OAuth token and
retry; a fault on one command of a batch fails only that command."""

from __future__ import annotations

import time
from typing import Any

import pytest
from b24pysdk import BitrixApp, BitrixToken, BitrixWebhook
from b24pysdk.api.requesters.bitrix_oauth_requester import BitrixOAuthRequester
from fast_bitrix24 import Bitrix

from b24tel.faults import service as fault_rules
from b24tel.journal import queries
from tests.compat.conftest import Live
from tests.conftest import ISSUED_SECRETS


def add_rule(live: Live, **rule: Any) -> int:
    async def work(session: Any) -> int:
        added = await fault_rules.add(session, rule, live.services().clock.now(), "test")
        return added.id

    rule_id = int(live.run_db(work))
    for server in (live.http, live.https):
        server.app.state.services.faults.invalidate()
    return rule_id


def journal(live: Live, **wanted: Any) -> list[Any]:
    """Entries, oldest first, once both servers wrote what they had (their writers flush
    every quarter of a second)."""
    time.sleep(0.8)

    async def work(session: Any) -> list[Any]:
        found = await queries.entries(session, queries.Filter(limit=1000, **wanted),
                                      live.services().clock.now())  # fmt: skip
        return list(reversed(found))

    return list(live.run_db(work))


# the cloud's rate limit, and this server's own answer while its database is away
@pytest.mark.parametrize("code", ["QUERY_LIMIT_EXCEEDED", "DATABASE_UNAVAILABLE"])
def test_clients_retry_past_an_injected_503(live: Live, code: str) -> None:
    add_rule(live, method="server.time", error=code, times=2)
    fast = Bitrix(live.hook_http, verbose=False)
    assert isinstance(fast.call("server.time", {}, raw=True)["result"], str)
    add_rule(live, method="user.current", error=code, times=2)
    token = BitrixWebhook(domain=live.https_domain, webhook_token="1/secretcode")
    assert token.call_method("user.current")["result"]["ID"] == "1"

    for method in ("server.time", "user.current"):
        seen = [(e.status, e.error, e.fault) for e in journal(live, method=method)]
        seen = seen[-3:]  # this run's: the two refused and the retry
        failed = [s for s in seen if s[0] == 503]
        assert len(failed) == 2 and all(f[1] == code for f in failed), seen
        assert all(f[2] and f[2].startswith("rule ") for f in failed)
        assert seen[-1][0] == 200 and seen[-1][2] is None  # the retry went through


def test_an_injected_expired_token_makes_the_client_refresh(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = live.services()

    async def make(session: Any) -> tuple[str, str, str, str]:
        from b24tel.users import tokens

        app, secret = await tokens.create_app(
            session, services.clock.now(), name="Refresher", scopes=frozenset({"user"})
        )
        pair = await tokens.issue_tokens(
            session, services.clock.now(), app, 1, access_ttl=3600, refresh_ttl=86400
        )
        return app.client_id, secret, pair.access_token, pair.refresh_token

    client_id, secret, access, refresh = live.run_db(make)
    ISSUED_SECRETS.update((secret, access, refresh))
    # b24pysdk's OAuth server is the cloud's; this portal is its own
    monkeypatch.setattr(BitrixOAuthRequester, "_OAUTH_TOKEN_URL", f"{live.https.url}/oauth/token/")
    add_rule(live, method="user.current", kind="method", error="expired_token", times=1)
    app = BitrixApp(client_id=client_id, client_secret=secret)
    token = BitrixToken(
        domain=live.https_domain, auth_token=access, refresh_token=refresh, bitrix_app=app
    )
    assert token.call_method("user.current")["result"]["ID"] == "1"
    assert token.auth_token != access  # refreshed
    seen = [(e.kind, e.method, e.status, e.error) for e in journal(live)]
    expired = seen.index(("method", "user.current", 401, "expired_token"))
    assert ("token", "oauth.token", 200, None) in seen[expired:]
    assert seen[-1] == ("method", "user.current", 200, None)


def test_a_fault_on_one_batch_command_fails_only_that_command(live: Live) -> None:
    add_rule(live, method="user.get", param="ID=2", error="ACCESS_DENIED")
    token = BitrixWebhook(domain=live.https_domain, webhook_token="1/secretcode")
    r = token.call_batch({"one": ("user.get", {"ID": 1}), "two": ("user.get", {"ID": 2})})
    assert r["result"]["result"]["one"][0]["ID"] == "1"
    assert r["result"]["result_error"]["two"] == {
        "error": "ACCESS_DENIED", "error_description": "Access denied!",
    }  # fmt: skip
    fast = Bitrix(live.hook_http, verbose=False)
    out = fast.call_batch({"halt": 0, "cmd": {"a": "user.get?ID=1", "b": "server.time"}})
    assert out["a"][0]["ID"] == "1"
    subcalls = [(e.method, e.status, e.fault) for e in journal(live, kind="subcall")]
    failed = [s for s in subcalls if s[1] != 200]
    assert len(subcalls) == 4 and len(failed) == 1, subcalls
    assert failed[0][:2] == ("user.get", 403) and failed[0][2].startswith("rule ")
