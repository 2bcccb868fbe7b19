"""crm.*.list: every filter operator, select, order and paging (N = 0, 1, 50, 51, 120)."""

from __future__ import annotations

import pytest

from tests.conftest import Harness
from tests.helpers import ok


async def seed_leads(h: Harness, hook: str, n: int) -> None:
    cmds = {}
    for i in range(1, n + 1):
        cmds[f"l{i}"] = (
            f"crm.lead.add?fields[TITLE]=Lead {i:03d}&fields[OPPORTUNITY]={i * 10}"
            f"&fields[STATUS_ID]={'JUNK' if i % 5 == 0 else 'NEW'}"
            f"&fields[PHONE][0][VALUE]=%2B7916000{i:04d}"
        )
        if len(cmds) == 50:
            ok(await h.call(hook, "batch", {"cmd": cmds}))
            cmds = {}
    if cmds:
        ok(await h.call(hook, "batch", {"cmd": cmds}))


async def titles(h: Harness, hook: str, params: dict) -> list[str]:
    return [r["TITLE"] for r in ok(await h.call(hook, "crm.lead.list", params))["result"]]


@pytest.mark.parametrize("n", [0, 1, 50, 51, 120])
async def test_paging(harness: Harness, hook: str, n: int) -> None:
    await seed_leads(harness, hook, n)
    seen, start = [], 0
    while True:
        body = ok(await harness.call(hook, "crm.lead.list", {"start": start, "select": ["ID"]}))
        assert body["total"] == n
        assert len(body["result"]) == min(50, n - start)
        seen += [r["ID"] for r in body["result"]]
        if "next" not in body:
            break
        start = body["next"]
    assert seen == [str(i) for i in range(1, n + 1)]
    body = ok(await harness.call(hook, "crm.lead.list", {"start": -1}))
    assert len(body["result"]) == min(50, n) and "next" not in body


async def test_filter_operators(harness: Harness, hook: str) -> None:
    await seed_leads(harness, hook, 12)
    t = lambda p: titles(harness, hook, p)  # noqa: E731
    assert await t({"filter": {"=ID": 3}}) == ["Lead 003"]
    assert await t({"filter": {"ID": 3}}) == ["Lead 003"]
    assert len(await t({"filter": {"!STATUS_ID": "JUNK"}})) == 10
    assert len(await t({"filter": {"!=STATUS_ID": "JUNK"}})) == 10
    assert await t({"filter": {">ID": 10}}) == ["Lead 011", "Lead 012"]
    assert await t({"filter": {">=ID": 11}}) == ["Lead 011", "Lead 012"]
    assert await t({"filter": {"<ID": 3}}) == ["Lead 001", "Lead 002"]
    assert await t({"filter": {"<=ID": 2}}) == ["Lead 001", "Lead 002"]
    assert await t({"filter": {"%TITLE": "d 01"}}) == ["Lead 010", "Lead 011", "Lead 012"]
    assert await t({"filter": {"@ID": [4, 6]}}) == ["Lead 004", "Lead 006"]
    assert await t({"filter": {"ID": [4, 6]}}) == ["Lead 004", "Lead 006"]
    assert len(await t({"filter": {"!@ID": [4, 6]}})) == 10
    assert await t({"filter": {"><OPPORTUNITY": [20, 40]}}) == ["Lead 002", "Lead 003", "Lead 004"]
    assert await t({"filter": {">OPPORTUNITY": 100, "STATUS_ID": "NEW"}}) == [
        "Lead 011",
        "Lead 012",
    ]
    assert await t({"filter": {"PHONE": "+79160000007"}}) == ["Lead 007"]
    assert await t({"filter": {"PHONE": "8 916 000 00 07"}}) == ["Lead 007"]
    assert await t({"filter": {"UNKNOWN_FIELD": 1, "ID": 1}}) == ["Lead 001"]


async def test_select_and_order(harness: Harness, hook: str) -> None:
    await seed_leads(harness, hook, 3)
    rows = ok(
        await harness.call(
            hook, "crm.lead.list", {"select": ["ID", "TITLE"], "order": {"ID": "DESC"}}
        )
    )["result"]
    assert rows == [
        {"ID": "3", "TITLE": "Lead 003"},
        {"ID": "2", "TITLE": "Lead 002"},
        {"ID": "1", "TITLE": "Lead 001"},
    ]
    star = ok(await harness.call(hook, "crm.lead.list", {"select": ["*"]}))["result"][0]
    assert "PHONE" not in star and "TITLE" in star and "STATUS_ID" in star
    with_phone = ok(await harness.call(hook, "crm.lead.list", {"select": ["*", "PHONE"]}))[
        "result"
    ][0]
    assert with_phone["PHONE"][0]["VALUE"] == "+79160000001"
    only_phone = ok(
        await harness.call(hook, "crm.lead.list", {"select": ["PHONE"], "filter": {"ID": 2}})
    )["result"]
    assert set(only_phone[0]) == {"ID", "PHONE"}
    default = ok(await harness.call(hook, "crm.lead.list"))["result"][0]
    assert "PHONE" not in default and "TITLE" in default
    by_title = await titles(harness, hook, {"order": {"TITLE": "desc"}})
    assert by_title == ["Lead 003", "Lead 002", "Lead 001"]


async def test_form_style_list(harness: Harness, hook: str) -> None:
    await seed_leads(harness, hook, 5)
    body = ok(
        await harness.client.get(hook + "crm.lead.list?filter[%3EID]=3&select[]=ID&order[ID]=DESC")
    )
    assert body["result"] == [{"ID": "5"}, {"ID": "4"}] and body["total"] == 2
