"""show/hide, searchCrmEntities, attachTranscription, voximplant.statistic.get and
telephony.externalLine.* (docs/reference/telephony.md)."""

from __future__ import annotations

import pytest

from b24tel.telephony import repository
from tests.conftest import Harness
from tests.helpers import err, ok


async def register(h: Harness, hook: str, **params: object) -> str:
    params = {"USER_ID": 1, "PHONE_NUMBER": "+79160001234", "TYPE": 2, **params}
    return ok(await h.call(hook, "telephony.externalCall.register", params))["result"]["CALL_ID"]


async def finish(h: Harness, hook: str, call_id: str, **params: object) -> dict:
    return ok(
        await h.call(
            hook, "telephony.externalCall.finish", {"CALL_ID": call_id, "USER_ID": 1, **params}
        )
    )["result"]


async def test_show_hide(harness: Harness, hook: str) -> None:
    u2, u3 = await harness.add_user(name="B"), await harness.add_user(name="C")
    call_id = await register(harness, hook, SHOW=0)
    assert (
        ok(
            await harness.call(
                hook, "telephony.externalCall.show", {"CALL_ID": call_id, "USER_ID": [u2, u3]}
            )
        )["result"]
        is True
    )
    form = f"CALL_ID={call_id}&USER_ID[0]={u2}"
    assert (
        ok(
            await harness.client.post(
                hook + "telephony.externalCall.hide",
                content=form,
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
        )["result"]
        is True
    )
    assert (
        ok(await harness.call(hook, "telephony.externalCall.show", {"CALL_ID": call_id}))["result"]
        is True
    )  # the registrant
    async with harness.db.transaction(readonly=True) as s:
        cards = {c.user_id: c.state for c in await repository.cards(s, call_id)}
    assert cards == {1: "shown", u2: "hidden", u3: "shown"}
    for method in ("show", "hide"):
        assert (
            ok(await harness.call(hook, f"telephony.externalCall.{method}", {"CALL_ID": "nope"}))[
                "result"
            ]
            is False
        )
    await finish(harness, hook, call_id)
    async with harness.db.transaction(readonly=True) as s:
        assert {c.user_id: c.state for c in await repository.cards(s, call_id)}[1] == "hidden"
    assert (
        ok(await harness.call(hook, "telephony.externalCall.show", {"CALL_ID": call_id}))["result"]
        is False
    )


async def test_search_crm_entities(harness: Harness, hook: str) -> None:
    uid = await harness.add_user(name="Owner", inner_number="107", personal_mobile="+7 900 1")
    for entity, fields in (
        ("company", {"TITLE": "Daisy LLC"}),
        ("lead", {"TITLE": "L1"}),
        ("contact", {"NAME": "John", "LAST_NAME": "Doe"}),
    ):
        ok(
            await harness.call(
                hook,
                f"crm.{entity}.add",
                {
                    "fields": {
                        **fields,
                        "ASSIGNED_BY_ID": uid,
                        "PHONE": [{"VALUE": "8 916 000 12 34"}],
                    }
                },
            )
        )
    result = ok(
        await harness.call(
            hook, "telephony.externalCall.searchCrmEntities", {"PHONE_NUMBER": "+7 (916) 000-12-34"}
        )
    )["result"]
    assert [r["CRM_ENTITY_TYPE"] for r in result] == ["CONTACT", "LEAD", "COMPANY"]
    first = result[0]
    assert first == {
        "CRM_ENTITY_TYPE": "CONTACT",
        "CRM_ENTITY_ID": 1,
        "ASSIGNED_BY_ID": uid,
        "NAME": "John Doe",
        "ASSIGNED_BY": {
            "ID": str(uid),
            "TIMEMAN_STATUS": "NOT_INSTALLED",
            "USER_PHONE_INNER": "107",
            "WORK_PHONE": None,
            "PERSONAL_PHONE": None,
            "PERSONAL_MOBILE": "+7 900 1",
        },
    }
    assert result[2]["NAME"] == "Daisy LLC"
    assert (
        ok(
            await harness.call(
                hook, "telephony.externalCall.searchCrmEntities", {"PHONE_NUMBER": "123"}
            )
        )["result"]
        == []
    )
    err(
        await harness.call(hook, "telephony.externalCall.searchCrmEntities", {}),
        400,
        "ERROR_CORE",
        "PHONE_NUMBER is empty",
    )


async def test_transcription(harness: Harness, hook: str) -> None:
    call_id = await register(harness, hook)
    t = lambda p: harness.call(hook, "telephony.call.attachTranscription", p)  # noqa: E731
    msg = {"SIDE": "User", "START_TIME": 0, "STOP_TIME": 3, "MESSAGE": "Hello"}
    err(await t({"MESSAGES": [msg]}), 400, "ERROR_CORE", "CALL_ID should be set")
    err(
        await t({"CALL_ID": call_id, "MESSAGES": "x"}),
        400,
        "ERROR_CORE",
        "MESSAGES should be an array",
    )
    err(await t({"CALL_ID": call_id}), 400, "ERROR_CORE", "MESSAGES should be an array")
    cases = [
        ({"SIDE": "user"}, "MESSAGES[1][SIDE] should be either Client or User"),
        ({"START_TIME": -1}, "MESSAGES[1][START_TIME] should be greater or equal to zero"),
        ({"STOP_TIME": 0}, "MESSAGES[1][STOP_TIME] should be greater than zero"),
        ({"MESSAGE": ""}, "MESSAGES[1][MESSAGE] is empty"),
        ({"MESSAGE": None}, "MESSAGES[1][MESSAGE] is empty"),
    ]
    for change, message in cases:
        err(
            await t({"CALL_ID": call_id, "MESSAGES": [msg, {**msg, **change}]}),
            400,
            "ERROR_CORE",
            message,
        )
    err(
        await t({"CALL_ID": call_id, "MESSAGES": [msg, "scalar"]}),
        400,
        "ERROR_CORE",
        "MESSAGES[1] should be an array",
    )
    # validation first, then the call lookup
    err(
        await t({"CALL_ID": call_id, "MESSAGES": [msg]}),
        400,
        "ERROR_CORE",
        f"Call {call_id} is not found. Is it finished?",
    )
    await finish(harness, hook, call_id, DURATION=5)
    first = ok(
        await t(
            {
                "CALL_ID": call_id,
                "MESSAGES": [msg, {**msg, "SIDE": "Client", "MESSAGE": "0"}],
                "COST": "0.5",
                "COST_CURRENCY": "USD",
            }
        )
    )["result"]
    assert isinstance(first["TRANSCRIPT_ID"], int)
    form = (
        f"CALL_ID={call_id}&MESSAGES[0][SIDE]=Client&MESSAGES[0][START_TIME]=1"
        "&MESSAGES[0][STOP_TIME]=2&MESSAGES[0][MESSAGE]=Hi"
    )
    second = ok(
        await harness.client.post(
            hook + "telephony.call.attachTranscription",
            content=form,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    )["result"]
    assert second["TRANSCRIPT_ID"] == first["TRANSCRIPT_ID"] + 1
    assert ok(await t({"CALL_ID": call_id, "MESSAGES": []}))["result"]["TRANSCRIPT_ID"]
    row = ok(
        await harness.call(hook, "voximplant.statistic.get", {"FILTER": {"CALL_ID": call_id}})
    )["result"][0]
    assert row["TRANSCRIPT_ID"] == str(second["TRANSCRIPT_ID"] + 1)
    assert row["TRANSCRIPT_PENDING"] == "N"


STAT_KEYS = [
    "ID",
    "PORTAL_USER_ID",
    "PORTAL_NUMBER",
    "PHONE_NUMBER",
    "CALL_ID",
    "EXTERNAL_CALL_ID",
    "CALL_CATEGORY",
    "CALL_LOG",
    "CALL_DURATION",
    "CALL_START_DATE",
    "CALL_RECORD_URL",
    "CALL_VOTE",
    "COST",
    "COST_CURRENCY",
    "CALL_FAILED_CODE",
    "CALL_FAILED_REASON",
    "CRM_ENTITY_TYPE",
    "CRM_ENTITY_ID",
    "CRM_ACTIVITY_ID",
    "REST_APP_ID",
    "REST_APP_NAME",
    "TRANSCRIPT_ID",
    "TRANSCRIPT_PENDING",
    "SESSION_ID",
    "REDIAL_ATTEMPT",
    "COMMENT",
    "RECORD_DURATION",
    "RECORD_FILE_ID",
    "CALL_TYPE",
    "RECORD_FETCH_STATUS",
    "RECORD_FETCH_ERROR",
]


async def seed_calls(h: Harness, hook: str, n: int) -> list[dict]:
    out = []
    for i in range(n):
        call_id = await register(
            h,
            hook,
            PHONE_NUMBER=f"+7916000{i:04d}",
            TYPE=1 + i % 2,
            CALL_START_DATE=f"2026-03-{1 + i % 28:02d}T10:00:00+00:00",
        )
        out.append(await finish(h, hook, call_id, DURATION=i, VOTE=i % 6))
    return out


async def test_statistic_types(harness: Harness, hook: str) -> None:
    ok(
        await harness.call(
            hook, "crm.contact.add", {"fields": {"NAME": "x", "PHONE": [{"VALUE": "+79160000001"}]}}
        )
    )
    await seed_calls(harness, hook, 2)
    rows = ok(await harness.call(hook, "voximplant.statistic.get"))["result"]
    row = rows[1]
    assert list(row) == STAT_KEYS
    assert row["ID"] == "2" and row["PORTAL_USER_ID"] == "1" and row["CALL_DURATION"] == "1"
    assert row["COST"] == "0.0000" and row["CALL_VOTE"] == "1" and row["CALL_TYPE"] == "2"
    assert row["CRM_ENTITY_ID"] == "1" and row["CRM_ACTIVITY_ID"] == "1"
    assert row["CALL_START_DATE"] == "2026-03-02T10:00:00+00:00"
    assert row["RECORD_FILE_ID"] is None and row["CALL_CATEGORY"] == "external"
    assert row["PORTAL_NUMBER"] == "REST_APP:" and row["REST_APP_NAME"] is None


async def test_statistic_filter_sort_paging(harness: Harness, hook: str) -> None:
    await seed_calls(harness, hook, 60)
    s = lambda p: harness.call(hook, "voximplant.statistic.get", p)  # noqa: E731
    body = ok(await s({}))
    assert body["total"] == 60 and body["next"] == 50 and len(body["result"]) == 50
    assert len(ok(await s({"start": 50}))["result"]) == 10
    ids = lambda b: [r["ID"] for r in ok(b)["result"]]  # noqa: E731
    assert ids(await s({"FILTER": {"ID": [1, 7]}})) == ["1", "7"]
    assert ids(await s({"FILTER": {">CALL_DURATION": 57}})) == ["59", "60"]
    assert ids(await s({"FILTER": {"CALL_TYPE": 2, "<ID": 6}})) == ["2", "4"]
    assert ids(await s({"FILTER": {"><CALL_DURATION": [3, 5]}})) == ["4", "5", "6"]
    assert ids(await s({"FILTER": {"PHONE_NUMBER": "+79160000003"}})) == ["4"]
    assert ids(await s({"FILTER": {"%PHONE_NUMBER": "0000005"}})) == ["6"]
    assert ok(await s({"FILTER": {">=CALL_START_DATE": "2026-03-28T00:00:00+00:00"}}))["total"] == 2
    assert ok(await s({"FILTER": {"@ID": [1, 2]}}))["total"] == 60  # not an accepted operator
    assert ok(await s({"FILTER": {"NOPE": 1, "ID": []}}))["total"] == 60
    assert ok(await s({"filter": {"ID": 3}, "sort": "ID"}))["total"] == 1  # keys upper-cased
    assert ids(await s({"SORT": "CALL_DURATION", "ORDER": "DESC", "FILTER": {"<ID": 4}})) == [
        "3",
        "2",
        "1",
    ]
    # both needed, exact case; CALL_TYPE cannot be sorted on: no ORDER BY
    for sort, order in (
        ("CALL_DURATION", "desc"),
        ("CALL_TYPE", "DESC"),
        ("call_duration", "DESC"),
    ):
        assert ids(await s({"SORT": sort, "ORDER": order, "FILTER": {"<ID": 4}})) == ["1", "2", "3"]
    body = ok(await s({"start": -1}))
    assert len(body["result"]) == 50 and "next" not in body


async def test_external_lines(harness: Harness, hook: str) -> None:
    line = lambda m, p=None: harness.call(hook, f"telephony.externalLine.{m}", p or {})  # noqa: E731
    r = ok(await line("add", {"NUMBER": " 74951234567 ", "NAME": "Main"}))["result"]
    assert isinstance(r["ID"], int)
    err(await line("add", {"NUMBER": "74951234567"}), 400, "ERROR_CORE", "Line already exists")
    err(await line("add", {"NAME": "x"}), 400, "ERROR_CORE", "NUMBER should not be empty")
    ok(await line("add", {"NUMBER": 555, "CRM_AUTO_CREATE": "y"}))
    ok(await line("add", {"NUMBER": "777", "CRM_AUTO_CREATE": True}))
    assert ok(await line("get"))["result"] == [
        {"NUMBER": "74951234567", "NAME": "Main", "CRM_AUTO_CREATE": "Y"},
        {"NUMBER": "555", "NAME": "", "CRM_AUTO_CREATE": "N"},
        {"NUMBER": "777", "NAME": "", "CRM_AUTO_CREATE": "N"},
    ]
    upd = ok(
        await line("update", {"NUMBER": "74951234567", "NAME": "Sales", "CRM_AUTO_CREATE": "N"})
    )["result"]
    assert upd == {"ID": str(r["ID"])}
    err(
        await line("update", {"NUMBER": "74951234567"}),
        400,
        "ERROR_CORE",
        "There are no fields to update",
    )
    err(await line("update", {"NAME": "x"}), 400, "ERROR_CORE", "NUMBER should not be empty")
    err(await line("update", {}), 400, "ERROR_CORE", "There are no fields to update")
    err(
        await line("update", {"NUMBER": "000", "NAME": "x"}),
        400,
        "ERROR_CORE",
        "Could not find line with number 000",
    )
    assert ok(await line("delete", {"NUMBER": "555"}))["result"] == []
    err(
        await line("delete", {"NUMBER": "555"}),
        400,
        "ERROR_CORE",
        "Could not find line with number 555",
    )
    err(await line("delete", {}), 400, "ERROR_CORE", "NUMBER should not be empty")
    # lines belong to their owner: an application sees its own
    app, _ = await harness.add_app()
    pair = await harness.token(app, 1)
    got = ok(await harness.client.get(f"/rest/telephony.externalLine.get?auth={pair.access_token}"))
    assert got["result"] == []


@pytest.mark.parametrize("method", ["show", "hide"])
async def test_show_hide_scalar_user(harness: Harness, hook: str, method: str) -> None:
    call_id = await register(harness, hook)
    assert (
        ok(
            await harness.call(
                hook, f"telephony.externalCall.{method}", {"CALL_ID": call_id, "USER_ID": "1"}
            )
        )["result"]
        is True
    )
