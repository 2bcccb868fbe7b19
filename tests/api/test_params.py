"""Parameter decoding end to end (docs/reference/clients.md, "Values"), through user.get
and batch."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.conftest import Harness
from tests.helpers import ok


@pytest.fixture
async def users(harness: Harness, hook: str) -> str:
    await harness.add_user(name="Bob", inner_number="102")
    await harness.add_user(name="Carl", active=False)
    return hook


async def test_p1_json_nested(harness: Harness, users: str) -> None:
    body = ok(await harness.call(users, "user.get", {"FILTER": {"UF_PHONE_INNER": "102"}}))
    assert [u["ID"] for u in body["result"]] == ["2"]


async def test_p2_php_form(harness: Harness, users: str) -> None:
    form = "filter%5B%3EID%5D=1&select%5B%5D=ID&select%5B%5D=NAME&filter%5BNAME%5D=Carl"
    body = ok(
        await harness.client.post(
            users + "user.get",
            content=form,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    )
    assert body["result"] == [{"ID": "3", "NAME": "Carl"}]


async def test_p2_plus_is_space_and_2b_is_plus(harness: Harness, users: str) -> None:
    await harness.add_user(name="Ann Lee", work_phone="+49 30")
    body = ok(await harness.client.get(users + "user.get?FILTER[NAME]=Ann+Lee"))
    assert body["result"][0]["NAME"] == "Ann Lee"
    body = ok(await harness.client.get(users + "user.get?FILTER[WORK_PHONE]=%2B49+30"))
    assert body["result"][0]["WORK_PHONE"] == "+49 30"


async def test_p3_php_syntax_inside_batch_both_encodings(harness: Harness, users: str) -> None:
    cmd = "user.get?FILTER[UF_PHONE_INNER]=102&select[]=ID"
    as_json = ok(await harness.call(users, "batch", {"cmd": {"k.1": cmd}}))
    form = "cmd%5Bk.1%5D=" + quote(cmd, safe="")
    as_form = ok(
        await harness.client.post(
            users + "batch",
            content=form,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    )
    assert as_json["result"]["result"] == as_form["result"]["result"] == {"k.1": [{"ID": "2"}]}


@pytest.mark.parametrize("value", [2, "2", "2.0", " 2"])
async def test_p4_numbers_as_strings(harness: Harness, users: str, value: object) -> None:
    body = ok(await harness.call(users, "user.get", {"FILTER": {"ID": value}}))
    assert [u["ID"] for u in body["result"]] == ["2"]


@pytest.mark.parametrize("value", [True, "true", "True", "Y", 1, "1"])
async def test_p5_truthy(harness: Harness, users: str, value: object) -> None:
    body = ok(await harness.call(users, "user.get", {"FILTER": {"ACTIVE": value}}))
    assert [u["ID"] for u in body["result"]] == ["1", "2"]


@pytest.mark.parametrize("value", [False, "false", "False", "N", 0, "0"])
async def test_p5_falsy(harness: Harness, users: str, value: object) -> None:
    body = ok(await harness.call(users, "user.get", {"FILTER": {"ACTIVE": value}}))
    assert [u["ID"] for u in body["result"]] == ["3"]


async def test_p6_null_is_absent(harness: Harness, users: str) -> None:
    body = ok(await harness.call(users, "user.get", {"FILTER": None, "sort": None, "ID": None}))
    assert body["total"] == 3


@pytest.mark.parametrize("query", ["select[]=", "select=[]", ""])
async def test_p7_empty_arrays(harness: Harness, users: str, query: str) -> None:
    body = ok(await harness.client.get(users + "user.get?" + query))
    assert body["total"] == 3
    body = ok(await harness.call(users, "user.get", {"select": [], "FILTER": []}))
    assert body["total"] == 3
