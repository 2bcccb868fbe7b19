"""user.get / user.current / profile / app.info, and lists: lists through user.get."""

from __future__ import annotations

import pytest

from tests.conftest import Harness
from tests.helpers import err, ok


async def _seed(harness: Harness, n: int) -> None:
    for i in range(2, n + 1):
        await harness.add_user(
            name=f"U{i:03d}", inner_number=str(100 + i) if i % 2 else None, active=i % 10 != 0
        )


@pytest.mark.parametrize("n", [1, 50, 51, 120])
async def test_l1_paging(harness: Harness, hook: str, n: int) -> None:
    await _seed(harness, n)
    seen: list[str] = []
    start = 0
    while True:
        body = ok(await harness.call(hook, "user.get", {"start": start}))
        assert body["total"] == n and isinstance(body["total"], int)
        assert len(body["result"]) == min(50, n - start)
        seen += [u["ID"] for u in body["result"]]
        if "next" not in body:
            break
        assert body["next"] == start + 50
        start = body["next"]
    assert seen == [str(i) for i in range(1, n + 1)]


async def test_l1_zero_rows(harness: Harness, hook: str) -> None:
    body = ok(await harness.call(hook, "user.get", {"FILTER": {">ID": 1000}}))
    assert body["result"] == [] and body["total"] == 0 and "next" not in body


async def test_l2_start_minus_one(harness: Harness, hook: str) -> None:
    await _seed(harness, 120)
    body = ok(await harness.call(hook, "user.get", {"start": -1}))
    assert len(body["result"]) == 50 and "next" not in body
    # counting is off: the reference still hoists total, as 0 (docs/reference/protocol.md, "Lists")
    assert body["total"] == 0
    body = ok(
        await harness.call(
            hook, "user.get", {"start": -1, "order": "DESC", "sort": "ID", "FILTER": {"<ID": 30}}
        )
    )
    assert [u["ID"] for u in body["result"]][:2] == ["29", "28"]


async def test_l3_filters_order_select(harness: Harness, hook: str) -> None:
    await _seed(harness, 20)
    get = lambda q: harness.client.get(hook + "user.get?" + q)  # noqa: E731
    assert [u["ID"] for u in ok(await get("filter[>ID]=17"))["result"]] == ["18", "19", "20"]
    assert [u["ID"] for u in ok(await get("filter[<ID]=3"))["result"]] == ["1", "2"]
    assert [u["ID"] for u in ok(await get("filter[ID]=5"))["result"]] == ["5"]
    assert [u["ID"] for u in ok(await get("filter[ID][]=5&filter[ID][]=7"))["result"]] == ["5", "7"]
    assert [u["ID"] for u in ok(await get("filter[@ID][]=8&filter[@ID][]=9"))["result"]] == [
        "8",
        "9",
    ]
    body = ok(await get("sort=ID&order=DESC&select[]=ID&select[]=NAME&filter[%3E%3DID]=19"))
    assert body["result"] == [{"ID": "20", "NAME": "U020"}, {"ID": "19", "NAME": "U019"}]
    body = ok(await get("SORT=NAME&ORDER=DESC&FILTER[%NAME]=U01"))
    assert [u["NAME"] for u in body["result"]][:2] == ["U019", "U018"]
    assert [u["ID"] for u in ok(await get("ID=4"))["result"]] == ["4"]
    for active in ("Y", "true", "1"):
        assert ok(await get(f"ACTIVE={active}"))["total"] == 18
        assert ok(await get(f"FILTER[ACTIVE]={active}"))["total"] == 18
    assert [u["ID"] for u in ok(await get("FILTER[UF_PHONE_INNER]=105"))["result"]] == ["5"]
    assert ok(await get("FILTER[!UF_PHONE_INNER]=105&FILTER[%3C%3DID]=5"))["total"] == 4


async def test_user_types(harness: Harness, hook: str) -> None:
    await harness.add_user(name="NoInner")
    rows = ok(await harness.call(hook, "user.get"))["result"]
    for row in rows:
        assert isinstance(row["ID"], str) and isinstance(row["ACTIVE"], bool)
        assert "UF_PHONE_INNER" in row
    assert rows[0]["UF_PHONE_INNER"] == "101" and rows[1]["UF_PHONE_INNER"] is None


async def test_user_brief_hides_contact_data(harness: Harness, hook: str) -> None:
    hook2 = await harness.add_webhook(1, scopes="user_brief")
    row = ok(await harness.call(hook2, "user.get"))["result"][0]
    assert "EMAIL" not in row and "UF_PHONE_INNER" in row
    err(
        await harness.call(await harness.add_webhook(1, scopes="crm"), "user.get"),
        403,
        "insufficient_scope",
    )


async def test_user_current_and_profile(harness: Harness, hook: str) -> None:
    body = ok(await harness.call(hook, "user.current"))
    assert body["result"]["ID"] == "1" and body["result"]["UF_PHONE_INNER"] == "101"
    body = ok(await harness.call(hook, "profile"))
    assert body["result"] == {
        "ID": "1",
        "ADMIN": True,
        "NAME": "Admin",
        "LAST_NAME": "",
        "PERSONAL_GENDER": "",
        "TIME_ZONE": "",
    }


async def test_system_methods(harness: Harness) -> None:
    uid = await harness.add_user(name="A")
    hook = await harness.add_webhook(uid, scopes="user")
    names = ok(await harness.call(hook, "methods"))["result"]
    assert "user.get" in names and "server.time" in names and "batch" in names
    assert all(n == n.lower() for n in names)
    assert ok(await harness.call(hook, "methods", {"scope": ""}))["result"].count("user.get") == 0
    assert "user.get" in ok(await harness.call(hook, "methods", {"scope": "user"}))["result"]
    assert ok(await harness.call(hook, "method.get", {"name": "user.get"}))["result"] == {
        "isExisting": True,
        "isAvailable": True,
    }
    assert ok(await harness.call(hook, "method.get", {"name": "crm.nothing"}))["result"] == {
        "isExisting": False,
        "isAvailable": False,
    }
    assert ok(await harness.call(hook, "method.get"))["result"] == {
        "isExisting": False,
        "isAvailable": False,
    }
    assert ok(await harness.call(hook, "scope"))["result"] == ["user"]
    assert "telephony" in ok(await harness.call(hook, "scope", {"full": True}))["result"]
    err(await harness.call(hook, "feature.get"), 400, "CODE_EMPTY", "CODE can't be empty")


async def test_app_info_needs_application_context(harness: Harness, hook: str) -> None:
    err(
        await harness.call(hook, "app.info"),
        400,
        "ACCESS_DENIED",
        "Access denied! Application context required",
    )
    app, _ = await harness.add_app()
    pair = await harness.token(app, 1)
    body = ok(await harness.client.get(f"/rest/app.info?auth={pair.access_token}"))
    assert body["result"]["ID"] == app.id and body["result"]["STATUS"] == "L"
    assert body["result"]["INSTALLED"] is True


async def test_server_time_in_portal_zone(harness: Harness, hook: str) -> None:
    from zoneinfo import ZoneInfo

    harness.services.tz = ZoneInfo("Europe/Moscow")
    body = ok(await harness.call(hook, "server.time"))
    assert body["result"].endswith("+03:00") and body["time"]["date_start"].endswith("+03:00")
