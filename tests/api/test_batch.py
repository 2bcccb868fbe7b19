"""batch (docs/reference/protocol.md, "batch"; clients.md, "batch")."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.conftest import Harness
from tests.helpers import assert_time_block, ok

SECTIONS = ["result", "result_error", "result_total", "result_next", "result_time"]


@pytest.fixture
async def staff(harness: Harness, hook: str) -> str:
    for i in range(2, 61):
        await harness.add_user(name=f"U{i}", inner_number=str(100 + i))
    return hook


async def test_b1_object_and_array_cmd(harness: Harness, hook: str) -> None:
    body = ok(await harness.call(hook, "batch", {"cmd": {"a": "server.time", "7": "profile"}}))
    assert list(body["result"]) == SECTIONS
    assert set(body["result"]["result"]) == {"a", "7"}
    body = ok(await harness.call(hook, "batch", {"cmd": ["server.time", "profile"]}))
    assert isinstance(body["result"]["result"], list) and len(body["result"]["result"]) == 2
    assert isinstance(body["result"]["result_time"], list)
    assert body["result"]["result"][1]["ID"] == "1"


@pytest.mark.parametrize(
    ("halt", "stops"),
    [
        (0, False),
        (1, True),
        (True, True),
        (False, False),
        ("0", False),
        ("1", True),
        ("true", True),
        ("false", False),
    ],
)
async def test_b2_halt(harness: Harness, hook: str, halt: object, stops: bool) -> None:
    cmd = {"a": "server.time", "b": "no.such", "c": "profile"}
    body = ok(await harness.call(hook, "batch", {"cmd": cmd, "halt": halt}))
    assert ("c" in body["result"]["result"]) is (not stops)
    assert body["result"]["result_error"]["b"]["error"] == "ERROR_METHOD_NOT_FOUND"


async def test_b3_references(harness: Harness, staff: str) -> None:
    cmd = {
        "list.1": "user.get?FILTER[>ID]=0",
        "x_2": "user.get?ID=$result[list.1][4][ID]",
        "n": "user.get?FILTER[ID]=$next[list.1]",
        "embedded": "user.get?FILTER[NAME]=U$result[list.1][2][ID]",
        "whole": "user.get?FILTER[ID][]=$result[list.1][0][ID]&FILTER[ID][]=$total[list.1]",
        "missing": "user.get?ID=$result[nope][0][ID]",
    }
    body = ok(await harness.call(staff, "batch", {"cmd": cmd}))
    r = body["result"]
    assert [u["ID"] for u in r["result"]["x_2"]] == ["5"]
    assert [u["ID"] for u in r["result"]["n"]] == ["50"]
    assert [u["NAME"] for u in r["result"]["embedded"]] == ["U3"]
    assert [u["ID"] for u in r["result"]["whole"]] == ["1", "60"]
    # an unresolved reference is passed through literally and does not abort the batch
    assert r["result"]["missing"] == []
    assert r["result_total"]["list.1"] == 60 and r["result_next"]["list.1"] == 50


async def test_b3_form_encoded_double_encoding(harness: Harness, staff: str) -> None:
    sub = "user.get?FILTER[UF_PHONE_INNER]=" + quote("$result[first][0][UF_PHONE_INNER]")
    form = (
        "cmd%5Bfirst%5D="
        + quote("user.get?ID=3", safe="")
        + "&cmd%5Bsecond%5D="
        + quote(sub, safe="")
        + "&halt=0"
    )
    body = ok(
        await harness.client.post(
            staff + "batch",
            content=form,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    )
    assert body["result"]["result"]["second"][0]["ID"] == "3"


@pytest.mark.parametrize("cmd", ["server.time", "server.time?", "user.get?ID=1&", "/user.get?ID=1"])
async def test_b4_query_shapes(harness: Harness, hook: str, cmd: str) -> None:
    body = ok(await harness.call(hook, "batch", {"cmd": {"k": cmd}}))
    assert body["result"]["result_error"] == [] and "k" in body["result"]["result"]


async def test_b5_fifty_fiftyone_and_nested(harness: Harness, hook: str) -> None:
    fifty = {f"c{i}": "server.time" for i in range(50)}
    body = ok(await harness.call(hook, "batch", {"cmd": fifty}))
    assert len(body["result"]["result"]) == 50 and body["result"]["result_error"] == []
    body = ok(await harness.call(hook, "batch", {"cmd": {**fifty, "c50": "server.time"}}))
    assert len(body["result"]["result"]) == 50
    assert body["result"]["result_error"]["c50"] == {
        "error": "ERROR_BATCH_LENGTH_EXCEEDED",
        "error_description": "Max batch length exceeded",
    }
    body = ok(await harness.call(hook, "batch", {"cmd": {"n": "batch?cmd[a]=server.time"}}))
    assert body["result"]["result_error"]["n"] == {
        "error": "ERROR_BATCH_METHOD_NOT_ALLOWED",
        "error_description": "Method is not allowed for batch usage",
    }


async def test_b6_sections_always_present(harness: Harness, hook: str) -> None:
    body = ok(await harness.call(hook, "batch", {"cmd": {}}))
    assert body["result"] == {k: [] for k in SECTIONS}
    body = ok(await harness.call(hook, "batch", {"cmd": {"t": "server.time", "u": "user.get"}}))
    r = body["result"]
    assert list(r) == SECTIONS
    for key in ("t", "u"):
        assert_time_block(r["result_time"][key])
    assert r["result_total"] == {"u": 1} and r["result_next"] == []


async def test_b7_sub_errors_keep_http_200(harness: Harness) -> None:
    uid = await harness.add_user(name="Limited")
    hook = await harness.add_webhook(uid, scopes="crm")
    body = ok(await harness.call(hook, "batch", {"cmd": {"u": "user.get", "t": "server.time"}}))
    assert body["result"]["result_error"]["u"] == {
        "error": "insufficient_scope",
        "error_description": "",
    }
    assert "t" in body["result"]["result"]


async def test_b8_keys_echoed_unchanged(harness: Harness, hook: str) -> None:
    keys = ["telephony.externalcall.register_17.5f3a", "MiXeD", "with_under", "0x"]
    body = ok(await harness.call(hook, "batch", {"cmd": {k: "server.time" for k in keys}}))
    assert list(body["result"]["result"]) == keys
    assert list(body["result"]["result_time"]) == keys


async def test_sub_call_auth_params_ignored(harness: Harness, hook: str) -> None:
    body = ok(await harness.call(hook, "batch", {"cmd": {"p": "profile?auth=garbage"}}))
    assert body["result"]["result"]["p"]["ID"] == "1"
