"""fast_bitrix24 1.8.14 and b24pysdk 1.3.2 against the server: server.time, user.get paging,
batch with references, and 503 back-off (issue: server foundation)."""

from __future__ import annotations

import pytest
from b24pysdk import BitrixWebhook, Client
from b24pysdk import Config as B24Config
from b24pysdk.errors import BitrixAPIError
from fast_bitrix24 import Bitrix

from b24tel.clock import Clock
from b24tel.users import service as users
from tests.compat.conftest import Live
from tests.helpers import TIME_KEYS

COUNTS = [0, 1, 50, 51, 120]


@pytest.fixture(autouse=True)
def quick_sdk_retries() -> None:
    # b24pysdk sleeps 1 s, 2 s … between 503 retries; keep the test short
    B24Config().configure(default_initial_retry_delay=0.05, default_retry_delay_increment=0.05)


def _add_users(live: Live, total: int) -> None:
    async def work(session) -> None:  # type: ignore[no-untyped-def]
        now = Clock().now()
        for i in range(4, total + 1):
            await users.create_user(session, now, name=f"U{i}")

    live.run_db(work)


def _filter(n: int) -> dict:
    return {">ID": 1000} if n == 0 else {"<=ID": n}


def test_server_time_both_clients(live: Live) -> None:
    fast = Bitrix(live.hook_http, verbose=False)
    raw = fast.call("server.time", {}, raw=True)
    assert set(raw["time"]) == TIME_KEYS and isinstance(raw["result"], str)
    token = BitrixWebhook(domain=live.https_domain, webhook_token="1/secretcode")
    response = token.call_method("server.time")
    assert isinstance(response["result"], str) and set(response["time"]) == TIME_KEYS


def test_user_get_paging_fast_bitrix24(live: Live) -> None:
    _add_users(live, 120)
    fast = Bitrix(live.hook_http, verbose=False)
    for n in COUNTS:
        rows = fast.get_all("user.get", {"FILTER": _filter(n)})
        ids = [r["ID"] for r in rows]
        assert len(ids) == n and len(set(ids)) == n, n


def test_user_get_paging_b24pysdk(live: Live) -> None:
    _add_users(live, 120)
    token = BitrixWebhook(domain=live.https_domain, webhook_token="1/secretcode")
    for n in COUNTS:
        listed = token.call_list("user.get", {"filter": _filter(n)})["result"]
        assert len(listed) == n and len({r["ID"] for r in listed}) == n, n
        fast = token.call_list_fast("user.get", {"filter": _filter(n)})["result"]
        ids = [int(r["ID"]) for r in fast]
        assert ids == list(range(1, n + 1)), n


def test_batch_with_references_and_a_failure(live: Live) -> None:
    token = BitrixWebhook(domain=live.https_domain, webhook_token="1/secretcode")
    r = token.call_batch(
        {
            "u": ("user.get", {"FILTER": {"UF_PHONE_INNER": "102"}}),
            "again": ("user.get", {"ID": "$result[u][0][ID]"}),
            "bad": ("no.such.method", {}),
        }
    )
    assert r["result"]["result"]["again"][0]["ID"] == "2"
    assert r["result"]["result_error"]["bad"]["error"] == "ERROR_METHOD_NOT_FOUND"
    fast = Bitrix(live.hook_http, verbose=False)
    out = fast.call_batch(
        {
            "halt": 0,
            "cmd": {
                "u": "user.get?FILTER[UF_PHONE_INNER]=101",
                "p": "user.get?ID=$result[u][0][ID]",
            },
        }
    )
    assert out["p"][0]["ID"] == "1"


def test_query_limit_twice_then_success(live: Live) -> None:
    for server in (live.http, live.https):
        server.app.state.services.rate_limiter.refuse_next(2)
    fast = Bitrix(live.hook_http, verbose=False)
    assert isinstance(fast.call("server.time", {}, raw=True)["result"], str)
    token = BitrixWebhook(domain=live.https_domain, webhook_token="1/secretcode")
    assert isinstance(token.call_method("server.time")["result"], str)
    # both clients met the two 503 answers and retried past them
    for server in (live.http, live.https):
        assert server.app.state.services.rate_limiter.pending_refusals() == 0


def test_user_add_and_update_through_both_clients(live: Live) -> None:
    """An admin tool's path: invite, give the extension, dismiss (issue: people)."""
    token = BitrixWebhook(domain=live.https_domain, webhook_token="1/secretcode")
    client = Client(token)
    added = client.user.add({"EMAIL": "new@example.com", "NAME": "Nina", "UF_DEPARTMENT": [1]})
    new_id = added.result
    assert isinstance(new_id, int)
    assert client.user.update({"ID": new_id, "UF_PHONE_INNER": "120"}).result is True
    fast = Bitrix(live.hook_http, verbose=False)
    [row] = fast.get_all("user.get", {"FILTER": {"UF_PHONE_INNER": "120"}})
    assert row["ID"] == str(new_id) and row["NAME"] == "Nina"
    assert fast.call("user.update", {"ID": new_id, "ACTIVE": "N"}) is True
    assert fast.get_all("user.get", {"FILTER": {"UF_PHONE_INNER": "120", "ACTIVE": True}}) == []
    # the SDK raises the portal's error with its text
    with pytest.raises(BitrixAPIError) as refused:
        _ = client.user.add({"EMAIL": "new@example.com"}).result
    assert "already has the e-mail address" in str(refused.value)
