"""crm.activity.* and crm.activity.binding.*; the call-activity service telephony uses."""

from __future__ import annotations

import datetime as dt

import pytest

from b24tel.crm import calls as activity_service
from tests.conftest import Harness
from tests.helpers import err, ok


@pytest.fixture
async def crm(harness: Harness, hook: str) -> dict[str, int]:
    async def add(entity: str, fields: dict) -> int:
        return ok(await harness.call(hook, f"crm.{entity}.add", {"fields": fields}))["result"]

    return {
        "contact": await add(
            "contact",
            {"NAME": "Klaus", "LAST_NAME": "Weber", "PHONE": [{"VALUE": "+49 30 1234567"}]},
        ),
        "contact2": await add("contact", {"NAME": "Second"}),
        "company": await add("company", {"TITLE": "Müller GmbH"}),
        "deal": await add("deal", {"TITLE": "D"}),
    }


def call_fields(contact: int, **extra: object) -> dict:
    return {
        "OWNER_TYPE_ID": 3,
        "OWNER_ID": contact,
        "TYPE_ID": 2,
        "SUBJECT": "Call Klaus",
        "START_TIME": "2026-03-07T10:20:30+03:00",
        "END_TIME": "2026-03-07T10:25:30+03:00",
        "COMPLETED": "Y",
        "DIRECTION": 2,
        "RESPONSIBLE_ID": 1,
        "COMMUNICATIONS": [{"VALUE": "+49 30 1234567", "ENTITY_ID": contact, "ENTITY_TYPE_ID": 3}],
        **extra,
    }


async def test_add_get_types(harness: Harness, hook: str, crm: dict) -> None:
    aid = ok(await harness.call(hook, "crm.activity.add", {"fields": call_fields(crm["contact"])}))[
        "result"
    ]
    assert isinstance(aid, int)
    a = ok(await harness.call(hook, "crm.activity.get", {"id": aid}))["result"]
    assert a["ID"] == str(aid) and a["OWNER_ID"] == str(crm["contact"])
    assert (a["OWNER_TYPE_ID"], a["TYPE_ID"], a["STATUS"], a["COMPLETED"]) == ("3", "2", "2", "Y")
    assert a["START_TIME"] == "2026-03-07T07:20:30+00:00" and a["DEADLINE"] == a["START_TIME"]
    assert a["SETTINGS"] == [] and a["PROVIDER_PARAMS"] == [] and a["PROVIDER_GROUP_ID"] is None
    assert a["DIRECTION"] == "2" and a["RESPONSIBLE_ID"] == "1" and a["AUTHOR_ID"] == "1"
    assert a["FILES"] == [] and a["STORAGE_ELEMENT_IDS"] == []
    comm = a["COMMUNICATIONS"][0]
    assert comm["TYPE"] == "PHONE" and comm["VALUE"] == "+49 30 1234567"
    assert comm["ENTITY_ID"] == str(crm["contact"]) and comm["ENTITY_TYPE_ID"] == "3"
    assert comm["ENTITY_SETTINGS"]["NAME"] == "Klaus"


async def test_add_errors(harness: Harness, hook: str, crm: dict) -> None:
    c = crm["contact"]
    add = lambda f: harness.call(hook, "crm.activity.add", {"fields": f})  # noqa: E731
    err(await add("x"), 400, "", "Parameter 'fields' must be array.")
    err(
        await add(call_fields(c, TYPE_ID=3)), 400, "", "The field TYPE_ID is not defined or invalid"
    )
    err(
        await add(call_fields(c, TYPE_ID=None)),
        400,
        "",
        "The field TYPE_ID is not defined or invalid",
    )
    err(
        await add(call_fields(c, COMMUNICATIONS=[])),
        400,
        "",
        "The field COMMUNICATIONS is not defined or invalid",
    )
    err(
        await add(call_fields(c, COMMUNICATIONS=[{"VALUE": "1"}, {"VALUE": "2"}])),
        400,
        "",
        "The only one communication is allowed for activity of specified type",
    )
    err(await add(call_fields(c, SUBJECT="")), 400, "", "The field SUBJECT is not defined or empty")
    err(
        await add(call_fields(c, RESPONSIBLE_ID=999)),
        400,
        "",
        "The field RESPONSIBLE_ID is not defined or invalid",
    )
    err(await add(call_fields(c, OWNER_ID=999)), 400, "", "Could not find 'CONTACT' with ID: 999")
    no_owner = call_fields(c, OWNER_ID=None, OWNER_TYPE_ID=None, COMMUNICATIONS=[{"VALUE": "123"}])
    err(
        await add(no_owner),
        400,
        "",
        "Could not build binding. Please ensure that owner info and communications are "
        "defined correctly",
    )
    err(
        await add(call_fields(c, TYPE_ID=6)),
        400,
        "",
        "The custom activity without provider is not supported in current context",
    )


async def test_owner_from_communication_and_default_responsible(
    harness: Harness, hook: str, crm: dict
) -> None:
    uid = await harness.add_user(name="Resp")
    ok(
        await harness.call(
            hook, "crm.contact.update", {"id": crm["contact2"], "fields": {"ASSIGNED_BY_ID": uid}}
        )
    )
    fields = call_fields(crm["contact2"], OWNER_ID=None, OWNER_TYPE_ID=None)
    del fields["RESPONSIBLE_ID"]
    fields["COMMUNICATIONS"] = [{"VALUE": "1", "ENTITY_ID": crm["contact2"], "ENTITY_TYPE_ID": 3}]
    aid = ok(await harness.call(hook, "crm.activity.add", {"fields": fields}))["result"]
    a = ok(await harness.call(hook, "crm.activity.get", {"id": aid}))["result"]
    assert a["OWNER_ID"] == str(crm["contact2"]) and a["RESPONSIBLE_ID"] == str(uid)


async def test_update_delete_and_errors(harness: Harness, hook: str, crm: dict) -> None:
    aid = ok(
        await harness.call(
            hook, "crm.activity.add", {"fields": call_fields(crm["contact"], COMPLETED="N")}
        )
    )["result"]
    assert ok(await harness.call(hook, "crm.activity.get", {"id": aid}))["result"]["STATUS"] == "1"
    assert (
        ok(
            await harness.call(
                hook,
                "crm.activity.update",
                {"id": aid, "fields": {"COMPLETED": "Y", "DESCRIPTION": "done"}},
            )
        )["result"]
        is True
    )
    a = ok(await harness.call(hook, "crm.activity.get", {"id": aid}))["result"]
    assert (a["COMPLETED"], a["STATUS"], a["DESCRIPTION"]) == ("Y", "2", "done")
    err(
        await harness.call(hook, "crm.activity.update", {"id": aid, "fields": {"SUBJECT": ""}}),
        400,
        "",
        "The field SUBJECT is not defined or empty",
    )
    for method in ("crm.activity.get", "crm.activity.delete", "crm.activity.update"):
        err(
            await harness.call(hook, method, {"id": 999, "fields": {}}),
            400,
            "",
            "Activity is not found",
        )
        err(await harness.call(hook, method, {"id": "x"}), 400, "", "ID is not defined or invalid.")
    assert ok(await harness.call(hook, "crm.activity.delete", {"id": aid}))["result"] is True
    err(await harness.call(hook, "crm.activity.get", {"id": aid}), 400, "", "Activity is not found")


async def test_list_filters_select_bindings(harness: Harness, hook: str, crm: dict) -> None:
    ids = []
    for i in range(3):
        f = call_fields(
            crm["contact"], SUBJECT=f"Call {i}", START_TIME=f"2026-03-0{i + 1}T10:00:00"
        )
        ids.append(ok(await harness.call(hook, "crm.activity.add", {"fields": f}))["result"])
    ok(
        await harness.call(
            hook,
            "crm.activity.binding.add",
            {"activityId": ids[1], "entityTypeId": 2, "entityId": crm["deal"]},
        )
    )
    lst = lambda p: harness.call(hook, "crm.activity.list", p)  # noqa: E731
    body = ok(await lst({"filter": {"BINDINGS": [{"OWNER_TYPE_ID": 2}]}}))
    assert [r["ID"] for r in body["result"]] == [str(ids[1])] and body["total"] == 1
    body = ok(
        await lst(
            {
                "filter": {
                    "BINDINGS": [
                        {"OWNER_TYPE_ID": 3, "OWNER_ID": crm["contact"]},
                        {"OWNER_TYPE_ID": 2},
                    ]
                }
            }
        )
    )
    assert [r["ID"] for r in body["result"]] == [str(i) for i in ids]
    body = ok(
        await lst(
            {
                "filter": {">=START_TIME": "2026-03-02T00:00:00"},
                "order": {"START_TIME": "DESC"},
                "select": ["ID", "SUBJECT"],
            }
        )
    )
    assert body["result"] == [
        {"ID": str(ids[2]), "SUBJECT": "Call 2"},
        {"ID": str(ids[1]), "SUBJECT": "Call 1"},
    ]
    row = ok(await lst({"filter": {"ID": ids[0]}}))["result"][0]
    assert "COMMUNICATIONS" not in row and "FILES" not in row and "SUBJECT" in row
    row = ok(await lst({"filter": {"ID": ids[0]}, "select": ["*", "COMMUNICATIONS"]}))["result"][0]
    assert row["COMMUNICATIONS"][0]["VALUE"] == "+49 30 1234567"
    row = ok(await lst({"filter": {"ID": ids[0]}, "select": ["*", "STORAGE_ELEMENT_IDS"]}))
    assert row["result"][0]["FILES"] == []
    assert ok(await lst({"filter": {"%SUBJECT": "call 1"}}))["total"] == 1
    assert ok(await lst({"filter": {"OWNER_TYPE_ID": 3, "!ID": ids[0]}}))["total"] == 2


async def test_bindings(harness: Harness, hook: str, crm: dict) -> None:
    aid = ok(await harness.call(hook, "crm.activity.add", {"fields": call_fields(crm["contact"])}))[
        "result"
    ]
    b = lambda m, p: harness.call(hook, f"crm.activity.binding.{m}", p)  # noqa: E731
    deal = {"activityId": aid, "entityTypeId": 2, "entityId": crm["deal"]}
    assert ok(await b("list", {"activityId": aid}))["result"] == [
        {"entityTypeId": 3, "entityId": crm["contact"]}
    ]
    assert ok(await b("add", deal))["result"] is True
    err(await b("add", deal), 400, "ACTIVITY_IS_ALREADY_BOUND")
    err(await b("add", {**deal, "activityId": 999}), 400, "NOT_FOUND", "Entity not found")
    err(await b("add", {**deal, "entityId": 999}), 400, "OWNER_NOT_FOUND")
    err(
        await b("add", {"activityId": aid}),
        400,
        "100",
        "Could not find value for parameter {entityTypeId}",
    )
    assert len(ok(await b("list", {"activityId": aid}))["result"]) == 2
    err(await b("list", {}), 400, "100")
    err(await b("list", {"activityId": 999}), 400, "NOT_FOUND", "Element not found")
    move = {
        "activityId": aid,
        "sourceEntityTypeId": 3,
        "sourceEntityId": crm["contact"],
        "targetEntityTypeId": 3,
        "targetEntityId": crm["contact2"],
    }
    err(
        await b("move", {**move, "targetEntityTypeId": 4}),
        400,
        "SOURCE_AND_TARGET_ENTITY_TYPES_ARE_NOT_EQUAL_ERROR",
    )
    err(
        await b("move", {**move, "targetEntityId": crm["contact"]}),
        400,
        "SOURCE_AND_TARGET_ENTITY_ID_ARE_EQUAL_ERROR",
    )
    err(await b("move", {**move, "targetEntityId": 999}), 400, "OWNER_NOT_FOUND")
    err(
        await b(
            "move", {**move, "sourceEntityId": crm["contact2"], "targetEntityId": crm["contact"]}
        ),
        400,
        "BINDING_NOT_FOUND",
    )
    assert ok(await b("move", move))["result"] is True
    a = ok(await harness.call(hook, "crm.activity.get", {"id": aid}))["result"]
    assert a["OWNER_ID"] == str(crm["contact2"])
    err(
        await b("move", {**move, "targetEntityId": crm["contact"], "sourceEntityId": 999}),
        400,
        "BINDING_NOT_FOUND",
    )
    err(await b("delete", {**deal, "entityId": crm["deal"] + 100}), 400, "OWNER_NOT_FOUND")
    err(
        await b("delete", {"activityId": aid, "entityTypeId": 4, "entityId": crm["company"]}),
        400,
        "BINDING_NOT_FOUND",
    )
    assert ok(await b("delete", deal))["result"] is True
    err(
        await b("delete", {"activityId": aid, "entityTypeId": 3, "entityId": crm["contact2"]}),
        400,
        "LAST_BINDING_CANNOT_BE_DELETED",
    )


async def test_fields_description(harness: Harness, hook: str) -> None:
    f = ok(await harness.call(hook, "crm.activity.fields"))["result"]
    assert f["SUBJECT"]["isRequired"] and f["TYPE_ID"]["isRequired"]
    assert f["COMMUNICATIONS"]["isMultiple"] and f["FILES"]["type"] == "diskfile"
    assert f["BINDINGS"]["isReadOnly"] and f["SETTINGS"]["type"] == "object"


async def test_call_activity_service(harness: Harness, hook: str, crm: dict) -> None:
    start = dt.datetime(2026, 3, 7, 7, 20, 30, tzinfo=dt.UTC)
    spec = activity_service.CallActivity(
        call_id="externalCall.abc.1",
        subject="Incoming from +49 30 1234567",
        direction=1,
        start=start,
        end=start + dt.timedelta(seconds=42),
        completed=True,
        responsible_id=1,
        bindings=[(3, crm["contact"]), (4, crm["company"])],
        phone="49301234567",
        comm_entity=(3, crm["contact"]),
        settings={"MISSED_CALL": True},
    )
    async with harness.db.transaction() as s:
        aid = await activity_service.create_call_activity(s, spec, start)
    a = ok(await harness.call(hook, "crm.activity.get", {"id": aid}))["result"]
    assert (a["PROVIDER_ID"], a["PROVIDER_TYPE_ID"], a["ORIGIN_ID"]) == (
        "VOXIMPLANT_CALL",
        "CALL",
        "VI_externalCall.abc.1",
    )
    assert a["END_TIME"] == "2026-03-07T07:21:12+00:00" and a["SETTINGS"] == {"MISSED_CALL": True}
    assert ok(await harness.call(hook, "crm.activity.binding.list", {"activityId": aid}))[
        "result"
    ] == [
        {"entityTypeId": 3, "entityId": crm["contact"]},
        {"entityTypeId": 4, "entityId": crm["company"]},
    ]
    async with harness.db.transaction() as s:
        assert await activity_service.set_recording(s, None, "externalCall.abc.1", 77)
        assert await activity_service.set_recording(s, aid, "other", 78)
        assert await activity_service.set_recording(s, None, "nothing", 1) is None
    a = ok(await harness.call(hook, "crm.activity.get", {"id": aid}))["result"]
    assert a["STORAGE_TYPE_ID"] == "3" and a["STORAGE_ELEMENT_IDS"] == [78]
    assert a["FILES"][0]["id"] == 78 and "/rest/download.json?token=" in a["FILES"][0]["url"]


async def test_status_lists(harness: Harness, hook: str) -> None:
    body = ok(await harness.call(hook, "crm.status.list", {"filter": {"ENTITY_ID": "SOURCE"}}))
    ids = [r["STATUS_ID"] for r in body["result"]]
    assert ids[:3] == ["CALL", "EMAIL", "WEB"] and "OTHER" in ids and body["total"] == len(ids)
    row = body["result"][0]
    assert set(row) >= {"ID", "ENTITY_ID", "STATUS_ID", "NAME", "NAME_INIT", "SORT", "SYSTEM"}
    assert isinstance(row["ID"], str) and row["SORT"] == "10"
    stages = ok(
        await harness.call(
            hook,
            "crm.status.list",
            {"filter": {"ENTITY_ID": "DEAL_STAGE"}, "order": {"SORT": "DESC"}},
        )
    )["result"]
    assert stages[0]["STATUS_ID"] == "APOLOGY" and stages[0]["EXTRA"]["SEMANTICS"] == "failure"
    items = ok(await harness.call(hook, "crm.status.entity.items", {"entityId": "STATUS"}))
    assert [i["STATUS_ID"] for i in items["result"]] == [
        "NEW",
        "IN_PROCESS",
        "PROCESSED",
        "JUNK",
        "CONVERTED",
    ]
