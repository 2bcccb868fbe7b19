"""telephony.externalCall.register: errors, result types, dedup, CRM matching and lead
creation, dates, lines, cards, switches (docs/reference/telephony.md, "register")."""

from __future__ import annotations

import re

import pytest

from b24tel.clock import FakeClock
from tests.conftest import Harness
from tests.helpers import err, ok

CALL_ID = re.compile(r"^externalCall\.[0-9a-f]{32}\.\d+$")


@pytest.fixture
def clock(fake_clock: FakeClock) -> FakeClock:
    return fake_clock


async def reg(h: Harness, hook: str, **params: object):  # type: ignore[no-untyped-def]
    params.setdefault("USER_ID", 1)
    params.setdefault("PHONE_NUMBER", "+7 916 000-12-34")
    params.setdefault("TYPE", 2)
    return await h.call(hook, "telephony.externalCall.register", params)


async def test_result_types_without_crm(harness: Harness, hook: str) -> None:
    r = ok(await reg(harness, hook))["result"]
    assert CALL_ID.match(r["CALL_ID"])
    assert r == {
        "CALL_ID": r["CALL_ID"],
        "CRM_CREATED_LEAD": None,
        "CRM_CREATED_ENTITIES": [],
        "CRM_ENTITY_TYPE": "",
        "CRM_ENTITY_ID": None,
    }
    assert r["CALL_ID"].endswith(f".{int(harness.services.clock.time())}")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"USER_ID": None}, "USER_ID or USER_PHONE_INNER should be set"),
        ({"USER_ID": 0, "USER_PHONE_INNER": "999"}, "USER_ID or USER_PHONE_INNER should be set"),
        ({"TYPE": 0}, "Unknown TYPE"),
        ({"TYPE": None}, "Unknown TYPE"),
        ({"TYPE": "2x"}, "Unknown TYPE"),
        ({"TYPE": 6}, "Unknown TYPE"),
        ({"TYPE": "0"}, "Unknown TYPE"),
        ({"CALL_START_DATE": "yesterday-ish"}, "CALL_START_DATE should be in the ISO-8601 format"),
        ({"CALL_START_DATE": "2026-13-40"}, "CALL_START_DATE should be in the ISO-8601 format"),
        ({"PHONE_NUMBER": "abc"}, "Unsupported phone number format"),
        ({"PHONE_NUMBER": "0"}, "Unsupported phone number format"),
        ({"PHONE_NUMBER": None}, "Unsupported phone number format"),
        ({"USER_ID": 999}, "User is not found or is not active"),
    ],
)
async def test_errors(harness: Harness, hook: str, params: dict, message: str) -> None:
    body = err(await reg(harness, hook, **params), 400, "ERROR_CORE", message)
    assert set(body) == {"error", "error_description"}


async def test_check_order(harness: Harness, hook: str) -> None:
    # the user check comes before TYPE; TYPE before the date; the date before the phone
    err(
        await reg(harness, hook, USER_ID=None, TYPE=9),
        400,
        "ERROR_CORE",
        "USER_ID or USER_PHONE_INNER should be set",
    )
    err(await reg(harness, hook, TYPE=9, CALL_START_DATE="x"), 400, "ERROR_CORE", "Unknown TYPE")
    err(
        await reg(harness, hook, CALL_START_DATE="x", PHONE_NUMBER="x"),
        400,
        "ERROR_CORE",
        "CALL_START_DATE should be in the ISO-8601 format",
    )
    err(
        await reg(harness, hook, PHONE_NUMBER="x", USER_ID=999),
        400,
        "ERROR_CORE",
        "Unsupported phone number format",
    )


async def test_inactive_user(harness: Harness, hook: str) -> None:
    uid = await harness.add_user(name="Gone", active=False, inner_number="150")
    err(
        await reg(harness, hook, USER_ID=uid),
        400,
        "ERROR_CORE",
        "User is not found or is not active",
    )
    # an inactive user's extension does not resolve
    err(
        await reg(harness, hook, USER_ID=None, USER_PHONE_INNER="150"),
        400,
        "ERROR_CORE",
        "USER_ID or USER_PHONE_INNER should be set",
    )


@pytest.mark.parametrize("value", [2, "2", " 2", "2.0", 2.0])
async def test_type_loose(harness: Harness, hook: str, value: object) -> None:
    ok(await reg(harness, hook, TYPE=value))


async def test_user_by_inner_number_and_null_user_id(harness: Harness, hook: str) -> None:
    uid = await harness.add_user(name="Ext", inner_number="102")
    r = ok(await reg(harness, hook, USER_ID=None, USER_PHONE_INNER="102"))["result"]
    async with harness.db.transaction(readonly=True) as s:
        from b24tel.telephony import repository

        call = await repository.open_call(s, r["CALL_ID"])
    assert call.user_id == uid


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-03-07T10:20:30+03:00", "2026-03-07T07:20:30+00:00"),
        ("2026-03-07T10:20:30", "2026-03-07T10:20:30+00:00"),
        ("2026-03-07 10:20:30", "2026-03-07T10:20:30+00:00"),
        ("2026-03-07 10:20:30.123456", "2026-03-07T10:20:30+00:00"),
        ("2026-03-07T07:20:30Z", "2026-03-07T07:20:30+00:00"),
        ("2026-03-07", "2026-03-07T00:00:00+00:00"),
    ],
)
async def test_start_date_forms(harness: Harness, hook: str, value: str, expected: str) -> None:
    r = ok(await reg(harness, hook, CALL_START_DATE=value))["result"]
    fin = ok(
        await harness.call(
            hook, "telephony.externalCall.finish", {"CALL_ID": r["CALL_ID"], "USER_ID": 1}
        )
    )["result"]
    assert fin["CALL_START_DATE"] == expected


async def test_phone_stripping(harness: Harness, hook: str) -> None:
    r = ok(await reg(harness, hook, PHONE_NUMBER="+7 (916) 000-12-34 #5;,*"))["result"]
    fin = ok(
        await harness.call(
            hook, "telephony.externalCall.finish", {"CALL_ID": r["CALL_ID"], "USER_ID": 1}
        )
    )["result"]
    assert fin["PHONE_NUMBER"] == "+79160001234#5;,*"


async def test_dedup(harness: Harness, hook: str, fake_clock: FakeClock) -> None:
    first = ok(await reg(harness, hook, LINE_NUMBER="100", EXTERNAL_CALL_ID="pbx-1"))["result"]
    again = ok(
        await reg(
            harness, hook, LINE_NUMBER="100", EXTERNAL_CALL_ID="pbx-1", CRM_ENTITY_TYPE="CONTACT"
        )
    )["result"]
    assert again["CALL_ID"] == first["CALL_ID"] and again == first
    # no EXTERNAL_CALL_ID given: a call that has one still matches
    assert ok(await reg(harness, hook, LINE_NUMBER="100"))["result"]["CALL_ID"] == first["CALL_ID"]
    for changed in (
        {"EXTERNAL_CALL_ID": "pbx-2"},
        {"LINE_NUMBER": "200"},
        {"TYPE": 1},
        {"PHONE_NUMBER": "+79160001235"},
    ):
        params = {"LINE_NUMBER": "100", "EXTERNAL_CALL_ID": "pbx-1", **changed}
        other = ok(await reg(harness, hook, **params))["result"]
        assert other["CALL_ID"] != first["CALL_ID"], changed
    # a finished call is not reused
    ok(
        await harness.call(
            hook, "telephony.externalCall.finish", {"CALL_ID": first["CALL_ID"], "USER_ID": 1}
        )
    )
    third = ok(await reg(harness, hook, LINE_NUMBER="100", EXTERNAL_CALL_ID="pbx-1"))["result"]
    assert third["CALL_ID"] != first["CALL_ID"]
    # after 30 minutes a new call
    fake_clock.advance(31 * 60)
    fourth = ok(await reg(harness, hook, LINE_NUMBER="100", EXTERNAL_CALL_ID="pbx-1"))["result"]
    assert fourth["CALL_ID"] != third["CALL_ID"]


async def test_dedup_per_application(harness: Harness, hook: str) -> None:
    first = ok(await reg(harness, hook))["result"]
    app, _ = await harness.add_app()
    pair = await harness.token(app, 1)
    other = ok(
        await harness.client.post(
            "/rest/telephony.externalCall.register",
            json={
                "auth": pair.access_token,
                "USER_ID": 1,
                "PHONE_NUMBER": "+7 916 000-12-34",
                "TYPE": 2,
            },
        )
    )
    assert other["result"]["CALL_ID"] != first["CALL_ID"]


async def crm_add(h: Harness, hook: str, entity: str, fields: dict) -> int:
    return ok(await h.call(hook, f"crm.{entity}.add", {"fields": fields}))["result"]


async def test_crm_match_and_primary_order(harness: Harness, hook: str) -> None:
    company = await crm_add(
        harness, hook, "company", {"TITLE": "Acme", "PHONE": [{"VALUE": "89160001234"}]}
    )
    r = ok(await reg(harness, hook))["result"]
    assert (r["CRM_ENTITY_TYPE"], r["CRM_ENTITY_ID"]) == ("COMPANY", company)
    contact = await crm_add(
        harness, hook, "contact", {"NAME": "I", "PHONE": [{"VALUE": "+79160001234"}]}
    )
    r = ok(await reg(harness, hook, TYPE=1))["result"]
    assert (r["CRM_ENTITY_TYPE"], r["CRM_ENTITY_ID"]) == ("CONTACT", contact)
    assert isinstance(r["CRM_ENTITY_ID"], int)


async def test_explicit_crm_entity(harness: Harness, hook: str) -> None:
    r = ok(await reg(harness, hook, CRM_ENTITY_TYPE="LEAD", CRM_ENTITY_ID="77"))["result"]
    assert (r["CRM_ENTITY_TYPE"], r["CRM_ENTITY_ID"]) == ("LEAD", 77)


@pytest.mark.parametrize(
    ("crm_create", "creates"),
    [
        (1, True),
        ("1", True),
        (True, True),
        ("N", True),
        ("false", True),  # PHP truthiness
        (0, False),
        ("0", False),
        ("", False),
        (None, False),
        (False, False),
    ],
)
async def test_lead_creation_switch(
    harness: Harness, hook: str, crm_create: object, creates: bool
) -> None:
    r = ok(await reg(harness, hook, CRM_CREATE=crm_create))["result"]
    assert (r["CRM_CREATED_LEAD"] is not None) is creates
    if creates:
        lead = r["CRM_CREATED_LEAD"]
        assert isinstance(lead, int)
        assert r["CRM_CREATED_ENTITIES"] == [{"ENTITY_TYPE": "LEAD", "ENTITY_ID": lead}]
        assert (r["CRM_ENTITY_TYPE"], r["CRM_ENTITY_ID"]) == ("LEAD", lead)
        assert "LEAD_CREATION_ERROR" not in r


@pytest.mark.parametrize(
    ("call_type", "title"),
    [
        (2, "+7 916 000-12-34 - Incoming call"),
        (3, "+7 916 000-12-34 - Incoming call"),
        (4, "+7 916 000-12-34 - Callback"),
        (1, "+7 916 000-12-34 - Outgoing call"),
        (5, "+7 916 000-12-34 - Outgoing call"),
    ],
)
async def test_created_lead_fields(harness: Harness, hook: str, call_type: int, title: str) -> None:
    r = ok(
        await reg(
            harness,
            hook,
            TYPE=call_type,
            CRM_CREATE=1,
            LINE_NUMBER="+7 495 000-00-00",
            CRM_SOURCE="WEB",
        )
    )["result"]
    lead = ok(await harness.call(hook, "crm.lead.get", {"id": r["CRM_CREATED_LEAD"]}))["result"]
    assert lead["TITLE"] == title and lead["SOURCE_ID"] == "WEB"
    assert lead["PHONE"][0]["VALUE"] == "+79160001234" and lead["PHONE"][0]["VALUE_TYPE"] == "WORK"
    assert lead["SOURCE_DESCRIPTION"] == "Call routed to: 74950000000."
    bad_source = ok(
        await reg(
            harness, hook, TYPE=call_type, CRM_CREATE=1, PHONE_NUMBER="555", CRM_SOURCE="NOPE"
        )
    )["result"]
    lead2 = ok(await harness.call(hook, "crm.lead.get", {"id": bad_source["CRM_CREATED_LEAD"]}))[
        "result"
    ]
    assert lead2["SOURCE_ID"] == "CALL"


async def test_lead_creation_errors(harness: Harness, hook: str) -> None:
    await crm_add(harness, hook, "contact", {"NAME": "Known", "PHONE": [{"VALUE": "+79160001234"}]})
    r = ok(await reg(harness, hook, CRM_CREATE=1))["result"]
    assert r["LEAD_CREATION_ERROR"] == "" and r["CRM_CREATED_LEAD"] is None
    await harness.add_user(name="Mob", personal_mobile="+7 916 555-00-00")
    r = ok(await reg(harness, hook, CRM_CREATE=1, PHONE_NUMBER="89165550000"))["result"]
    assert r["LEAD_CREATION_ERROR"] == "Lead creation is disabled for local users"
    # an existing lead is primary: nothing created, no error
    await crm_add(harness, hook, "lead", {"TITLE": "L", "PHONE": [{"VALUE": "+7 916 777 00 00"}]})
    r = ok(await reg(harness, hook, CRM_CREATE=1, PHONE_NUMBER="+79167770000"))["result"]
    assert r["CRM_ENTITY_TYPE"] == "LEAD" and "LEAD_CREATION_ERROR" not in r


async def test_internal_call_creates_nothing(harness: Harness, hook: str) -> None:
    await harness.add_user(name="Colleague", inner_number="205")
    r = ok(await reg(harness, hook, PHONE_NUMBER="205", CRM_CREATE=1))["result"]
    assert r["CRM_CREATED_LEAD"] is None and "LEAD_CREATION_ERROR" not in r


async def test_line_auto_creation(harness: Harness, hook: str) -> None:
    ok(await reg(harness, hook, LINE_NUMBER="  74951112233  "))
    lines = ok(await harness.call(hook, "telephony.externalLine.get"))["result"]
    assert lines == [{"NUMBER": "74951112233", "NAME": None, "CRM_AUTO_CREATE": "Y"}]
    long = "x" * 80
    ok(await reg(harness, hook, LINE_NUMBER=long))
    numbers = [
        ln["NUMBER"] for ln in ok(await harness.call(hook, "telephony.externalLine.get"))["result"]
    ]
    assert "x" * 50 in numbers


async def test_show_card(harness: Harness, hook: str) -> None:
    from b24tel.telephony import repository

    shown = ok(await reg(harness, hook))["result"]["CALL_ID"]
    hidden = ok(await reg(harness, hook, SHOW=0, PHONE_NUMBER="5551"))["result"]["CALL_ID"]
    truthy = ok(await reg(harness, hook, SHOW="N", PHONE_NUMBER="5552"))["result"]["CALL_ID"]
    async with harness.db.transaction(readonly=True) as s:
        assert [c.state for c in await repository.cards(s, shown)] == ["shown"]
        assert list(await repository.cards(s, hidden)) == []
        assert [c.state for c in await repository.cards(s, truthy)] == ["shown"]


async def test_require_app_switch(harness: Harness, hook: str) -> None:
    harness.services.settings = harness.services.settings.replace(telephony_require_app=True)
    err(
        await reg(harness, hook),
        403,
        "WRONG_AUTH_TYPE",
        "Current authorization type is denied for this method",
    )
    err(await harness.call(hook, "telephony.externalLine.get"), 403, "WRONG_AUTH_TYPE")
    app, _ = await harness.add_app()
    pair = await harness.token(app, 1)
    ok(
        await harness.client.post(
            "/rest/telephony.externalCall.register",
            json={"auth": pair.access_token, "USER_ID": 1, "PHONE_NUMBER": "1", "TYPE": 1},
        )
    )


async def test_empty_error_code_switch(harness: Harness, hook: str) -> None:
    harness.services.settings = harness.services.settings.replace(telephony_error_code="")
    err(await reg(harness, hook, TYPE=9), 400, "", "Unknown TYPE")


async def test_scope_required(harness: Harness) -> None:
    uid = await harness.add_user(name="CrmOnly")
    hook = await harness.add_webhook(uid, scopes="crm")
    err(await reg(harness, hook, USER_ID=uid), 403, "insufficient_scope")
