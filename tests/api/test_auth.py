"""OAuth tokens, the token endpoint, scopes and limits (docs/reference/users.md, "OAuth";
docs/reference/protocol.md, "Limits")."""

from __future__ import annotations

import pytest

from b24tel.clock import FakeClock
from tests.conftest import Harness
from tests.helpers import err, ok


@pytest.fixture
def clock(fake_clock: FakeClock) -> FakeClock:
    return fake_clock


@pytest.fixture
async def oauth(harness: Harness) -> tuple:
    uid = await harness.add_user(name="Owner", admin=True)
    app, secret = await harness.add_app()
    return app, secret, await harness.token(app, uid)


async def test_c5_token_in_query_body_bearer(harness: Harness, oauth: tuple) -> None:
    _, _, pair = oauth
    tok = pair.access_token
    ok(await harness.client.get(f"/rest/profile.json?auth={tok}"))
    ok(await harness.client.post("/rest/profile", json={"auth": tok}))
    ok(await harness.client.post("/rest/profile.json", data={"auth": tok}))
    ok(await harness.client.post(f"/rest/user.get.json?auth={tok}", json={"ID": 1}))
    ok(await harness.client.post("/rest/profile", headers={"Authorization": f"Bearer {tok}"}))
    ok(await harness.client.get(f"/rest/profile?access_token={tok}"))


async def test_expired_and_invalid_tokens(
    harness: Harness, oauth: tuple, fake_clock: FakeClock
) -> None:
    _, _, pair = oauth
    err(await harness.client.get("/rest/profile?auth=nonsense"), 401, "invalid_token")
    fake_clock.advance(3601)
    err(
        await harness.client.get(f"/rest/profile?auth={pair.access_token}"),
        401,
        "expired_token",
        "The access token provided has expired.",
    )


async def test_refresh_grant(harness: Harness, oauth: tuple, fake_clock: FakeClock) -> None:
    app, secret, pair = oauth
    fake_clock.advance(4000)
    query = {
        "grant_type": "refresh_token",
        "client_id": app.client_id,
        "client_secret": secret,
        "refresh_token": pair.refresh_token,
    }
    response = await harness.client.get("/oauth/token/", params=query)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) >= {
        "access_token",
        "refresh_token",
        "expires",
        "expires_in",
        "scope",
        "domain",
        "server_endpoint",
        "client_endpoint",
        "member_id",
        "user_id",
        "status",
    }
    assert body["expires_in"] == 3600 and body["expires"] == int(fake_clock.time()) + 3600
    assert body["client_endpoint"] == "http://testserver/rest/" and body["user_id"] == 1
    ok(await harness.client.get(f"/rest/profile?auth={body['access_token']}"))
    # the old pair is gone: both the refresh token and the access token
    again = await harness.client.post("/oauth/token/", data=query)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    err(await harness.client.get(f"/rest/profile?auth={pair.access_token}"), 401, "invalid_token")
    # POST form works too (b24pysdk)
    query["refresh_token"] = body["refresh_token"]
    assert (await harness.client.post("/oauth/token/", data=query)).status_code == 200


async def test_refresh_with_wrong_secret(harness: Harness, oauth: tuple) -> None:
    app, _, pair = oauth
    response = await harness.client.get(
        "/oauth/token/",
        params={
            "grant_type": "refresh_token",
            "client_id": app.client_id,
            "client_secret": "x",
            "refresh_token": pair.refresh_token,
        },
    )
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    response = await harness.client.get("/oauth/token/", params={"grant_type": "password"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


async def test_authorization_code_grant(harness: Harness, oauth: tuple) -> None:
    from b24tel.users import tokens as service

    app, secret, _ = oauth
    async with harness.db.transaction() as s:
        code = await service.issue_code(s, harness.services.clock.now(), app, 1, 30)
    query = {
        "grant_type": "authorization_code",
        "client_id": app.client_id,
        "client_secret": secret,
        "code": code,
    }
    body = (await harness.client.get("/oauth/token/", params=query)).json()
    ok(await harness.client.get(f"/rest/profile?auth={body['access_token']}"))
    assert (await harness.client.get("/oauth/token/", params=query)).status_code == 400


async def test_insufficient_scope(harness: Harness) -> None:
    uid = await harness.add_user(name="A")
    hook = await harness.add_webhook(uid, scopes="crm")
    err(
        await harness.call(hook, "user.get"),
        403,
        "insufficient_scope",
        "The request requires higher privileges than provided by the webhook token",
    )
    ok(await harness.call(hook, "server.time"))  # basic is implicit
    app, _ = await harness.add_app(scopes="crm")
    pair = await harness.token(app, uid)
    err(
        await harness.client.get(f"/rest/user.get?auth={pair.access_token}"),
        403,
        "insufficient_scope",
    )


async def test_revoked_webhook(harness: Harness, oauth: tuple, fake_clock: FakeClock) -> None:
    from b24tel.users import repository

    hook = await harness.add_webhook(1, code="revokeme")
    ok(await harness.call(hook, "server.time"))
    async with harness.db.transaction() as s:
        hooks = await repository.list_webhooks(s)
        assert await repository.revoke_webhook(s, hooks[-1].id, harness.services.clock.now())
    # another process revoked it: this instance notices within auth_cache_ttl
    fake_clock.advance(harness.services.settings.auth_cache_ttl + 0.1)
    err(await harness.call(hook, "server.time"), 401, "INVALID_CREDENTIALS")


async def test_e5_rate_limit_then_success(
    harness: Harness, oauth: tuple, fake_clock: FakeClock
) -> None:
    from b24tel.rest.limits import RateLimiter

    hook = await harness.add_webhook(1)
    harness.services.rate_limiter = RateLimiter(fake_clock, (2, 1.0))
    ok(await harness.call(hook, "server.time"))
    ok(await harness.call(hook, "server.time"))
    err(await harness.call(hook, "server.time"), 503, "QUERY_LIMIT_EXCEEDED", "Too many requests")
    err(await harness.call(hook, "server.time"), 503, "QUERY_LIMIT_EXCEEDED")
    fake_clock.advance(1.0)
    ok(await harness.call(hook, "server.time"))


async def test_operating_limit(harness: Harness, oauth: tuple, fake_clock: FakeClock) -> None:
    from b24tel.rest.limits import OperatingLimiter

    hook = await harness.add_webhook(1)
    limiter = OperatingLimiter(fake_clock, 1.0)
    harness.services.operating = limiter
    await limiter.record("webhook:1", "user.get", fake_clock.time(), 1.5)
    body = ok(await harness.call(hook, "server.time"))
    assert body["time"]["operating_reset_at"] == int(fake_clock.time()) + 600
    err(
        await harness.call(hook, "user.get"),
        429,
        "OPERATION_TIME_LIMIT",
        "Method is blocked due to operation time limit.",
    )
    # inside batch the sub-call is refused, the batch itself is not
    body = ok(await harness.call(hook, "batch", {"cmd": {"u": "user.get"}}))
    assert body["result"]["result_error"]["u"]["error"] == "OPERATION_TIME_LIMIT"
