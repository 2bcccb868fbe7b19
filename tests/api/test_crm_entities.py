"""crm.contact/company/lead/deal.*: add, get, update, delete, list, fields."""

from __future__ import annotations

import pytest

from tests.conftest import Harness
from tests.helpers import err, ok

ENTITY_FIELDS = {
    "contact": {"NAME": "Ivan", "LAST_NAME": "Petrov", "POST": "CTO"},
    "company": {"TITLE": "Acme"},
    "lead": {"TITLE": "Inbound", "NAME": "Olga"},
    "deal": {"TITLE": "Big deal", "OPPORTUNITY": 1000},
}
MULTI = ("contact", "company", "lead")


async def add(h: Harness, hook: str, entity: str, fields: dict) -> int:
    body = ok(await h.call(hook, f"crm.{entity}.add", {"fields": fields}))
    assert isinstance(body["result"], int)
    return body["result"]


@pytest.mark.parametrize("entity", list(ENTITY_FIELDS))
async def test_add_get_types(harness: Harness, hook: str, entity: str) -> None:
    fields = dict(ENTITY_FIELDS[entity])
    if entity in MULTI:
        fields["PHONE"] = [{"VALUE": "+7 916 000-12-34", "VALUE_TYPE": "WORK"}]
        fields["EMAIL"] = [{"VALUE": "x@example.com"}]
    new_id = await add(harness, hook, entity, fields)
    item = ok(await harness.call(hook, f"crm.{entity}.get", {"id": new_id}))["result"]
    assert item["ID"] == str(new_id)
    assert item["ASSIGNED_BY_ID"] == "1" and item["CREATED_BY_ID"] == "1"
    assert item["OPENED"] == "Y" and item["DATE_CREATE"].endswith("+00:00")
    for key, value in ENTITY_FIELDS[entity].items():
        assert item[key] == (f"{value:.2f}" if key == "OPPORTUNITY" else value)
    if entity in MULTI:
        assert item["PHONE"] == [
            {
                "ID": item["PHONE"][0]["ID"],
                "VALUE_TYPE": "WORK",
                "VALUE": "+7 916 000-12-34",
                "TYPE_ID": "PHONE",
            }
        ]
        assert isinstance(item["PHONE"][0]["ID"], str)
        assert item["EMAIL"][0]["VALUE_TYPE"] == "WORK"
        assert item["HAS_PHONE"] == "Y" and item["HAS_EMAIL"] == "Y" and item["HAS_IMOL"] == "N"
        assert "WEB" not in item  # multifields only when non-empty
    if entity == "lead":
        assert item["STATUS_ID"] == "NEW" and item["STATUS_SEMANTIC_ID"] == "P"
    if entity == "deal":
        assert item["STAGE_ID"] == "NEW" and item["CLOSED"] == "N" and item["CATEGORY_ID"] == "0"


async def test_link_fields_and_nulls(harness: Harness, hook: str) -> None:
    company = await add(harness, hook, "company", {"TITLE": "Acme"})
    contact = await add(harness, hook, "contact", {"NAME": "A", "COMPANY_ID": company})
    lead = await add(
        harness, hook, "lead", {"TITLE": "L", "CONTACT_ID": contact, "ASSIGNED_BY_ID": "1"}
    )
    c = ok(await harness.call(hook, "crm.contact.get", {"ID": contact}))["result"]
    assert c["COMPANY_ID"] == str(company) and c["LEAD_ID"] is None
    lead_row = ok(await harness.call(hook, "crm.lead.get", {"id": lead}))["result"]
    assert lead_row["CONTACT_ID"] == str(contact) and lead_row["COMPANY_ID"] is None


async def test_form_encoded_add_with_multifields(harness: Harness, hook: str) -> None:
    form = (
        "fields[NAME]=Anna&fields[PHONE][n0][VALUE]=%2B79160001234"
        "&fields[PHONE][n0][VALUE_TYPE]=MOBILE&fields[PHONE][n1][VALUE]=8+916+111+22+33"
    )
    body = ok(
        await harness.client.post(
            hook + "crm.contact.add",
            content=form,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    )
    item = ok(await harness.call(hook, "crm.contact.get", {"id": body["result"]}))["result"]
    assert [p["VALUE"] for p in item["PHONE"]] == ["+79160001234", "8 916 111 22 33"]
    assert item["PHONE"][0]["VALUE_TYPE"] == "MOBILE"


async def test_update_multifield_add_change_delete(harness: Harness, hook: str) -> None:
    cid = await add(
        harness,
        hook,
        "contact",
        {
            "NAME": "A",
            "PHONE": [
                {"VALUE": "111111", "VALUE_TYPE": "WORK"},
                {"VALUE": "222222", "VALUE_TYPE": "HOME"},
                {"VALUE": "333333"},
            ],
        },
    )
    phones = ok(await harness.call(hook, "crm.contact.get", {"id": cid}))["result"]["PHONE"]
    first, second, third = (p["ID"] for p in phones)
    assert (
        ok(
            await harness.call(
                hook,
                "crm.contact.update",
                {
                    "id": cid,
                    "fields": {
                        "NAME": "B",
                        "PHONE": [
                            {"ID": first, "VALUE": "111000", "VALUE_TYPE": "MOBILE"},  # change
                            {"ID": second, "DELETE": "Y"},  # delete
                            {"ID": third, "VALUE": ""},  # empty value deletes too
                            {"VALUE": "444444", "VALUE_TYPE": "FAX"},  # add
                        ],
                    },
                },
            )
        )["result"]
        is True
    )
    item = ok(await harness.call(hook, "crm.contact.get", {"id": cid}))["result"]
    assert item["NAME"] == "B"
    assert [(p["VALUE"], p["VALUE_TYPE"]) for p in item["PHONE"]] == [
        ("111000", "MOBILE"),
        ("444444", "FAX"),
    ]
    assert item["PHONE"][0]["ID"] == first
    # fields not mentioned stay; unknown fields are ignored
    ok(await harness.call(hook, "crm.contact.update", {"id": cid, "fields": {"NOPE": 1}}))
    again = ok(await harness.call(hook, "crm.contact.get", {"id": cid}))["result"]
    assert again["NAME"] == "B" and len(again["PHONE"]) == 2


async def test_lead_status_and_deal_stage_semantics(harness: Harness, hook: str) -> None:
    lead = await add(harness, hook, "lead", {"TITLE": "x", "STATUS_ID": "JUNK"})
    assert (
        ok(await harness.call(hook, "crm.lead.get", {"id": lead}))["result"]["STATUS_SEMANTIC_ID"]
        == "F"
    )
    deal = await add(harness, hook, "deal", {"TITLE": "x"})
    ok(await harness.call(hook, "crm.deal.update", {"id": deal, "fields": {"STAGE_ID": "WON"}}))
    row = ok(await harness.call(hook, "crm.deal.get", {"id": deal}))["result"]
    assert (row["STAGE_SEMANTIC_ID"], row["CLOSED"]) == ("S", "Y")


@pytest.mark.parametrize("entity", list(ENTITY_FIELDS))
async def test_errors(harness: Harness, hook: str, entity: str) -> None:
    m = f"crm.{entity}"
    for bad in (None, "abc", 0, -3, [1]):
        params = {} if bad is None else {"id": bad}
        err(await harness.call(hook, f"{m}.get", params), 400, "", "ID is not defined or invalid.")
        err(
            await harness.call(hook, f"{m}.delete", params),
            400,
            "",
            "ID is not defined or invalid.",
        )
        err(
            await harness.call(hook, f"{m}.update", {**params, "fields": {"TITLE": "x"}}),
            400,
            "",
            "ID is not defined or invalid.",
        )
    err(await harness.call(hook, f"{m}.get", {"id": 999}), 400, "", "Not found")
    title = entity.capitalize()
    err(
        await harness.call(hook, f"{m}.update", {"id": 999, "fields": {"TITLE": "x"}}),
        400,
        "",
        f"{title} is not found",
    )
    expected_delete = {
        "contact": ("ERROR_CORE", "Element not found"),
        "company": ("", "Company is not found"),
    }.get(entity, ("", "Not found"))
    err(await harness.call(hook, f"{m}.delete", {"id": 999}), 400, *expected_delete)
    err(
        await harness.call(hook, f"{m}.add", {"fields": "x"}),
        400,
        "",
        "Parameter 'fields' must be array.",
    )
    err(
        await harness.call(hook, f"{m}.add", {"fields": ENTITY_FIELDS[entity], "params": "x"}),
        400,
        "",
        "Parameter 'params' must be array.",
    )
    err(
        await harness.call(hook, f"{m}.list", {"filter": "x"}),
        400,
        "",
        "Parameter 'filter' must be array.",
    )
    err(
        await harness.call(hook, f"{m}.list", {"order": "x"}),
        400,
        "",
        "Parameter 'order' must be array.",
    )


async def test_missing_required_fields(harness: Harness, hook: str) -> None:
    err(
        await harness.call(hook, "crm.company.add", {"fields": {"COMMENTS": "x"}}),
        400,
        "",
        'The field "Company name" is required.',
    )
    err(
        await harness.call(hook, "crm.contact.add", {"fields": {"POST": "x"}}),
        400,
        "",
        'The field "First name" is required.',
    )
    cid = await add(harness, hook, "contact", {"LAST_NAME": "Only"})
    err(
        await harness.call(hook, "crm.contact.update", {"id": cid, "fields": {"LAST_NAME": ""}}),
        400,
        "",
        'The field "First name" is required.',
    )


async def test_delete(harness: Harness, hook: str) -> None:
    cid = await add(harness, hook, "contact", {"NAME": "x", "PHONE": [{"VALUE": "79160001234"}]})
    assert ok(await harness.call(hook, "crm.contact.delete", {"id": cid}))["result"] is True
    err(await harness.call(hook, "crm.contact.get", {"id": cid}), 400, "", "Not found")
    body = ok(
        await harness.call(
            hook, "crm.duplicate.findbycomm", {"type": "PHONE", "values": ["79160001234"]}
        )
    )
    assert body["result"] == []


@pytest.mark.parametrize("entity", list(ENTITY_FIELDS))
async def test_fields(harness: Harness, hook: str, entity: str) -> None:
    result = ok(await harness.call(hook, f"crm.{entity}.fields"))["result"]
    assert result["ID"] == {
        "type": "integer",
        "isRequired": False,
        "isReadOnly": True,
        "isImmutable": False,
        "isMultiple": False,
        "isDynamic": False,
        "title": "ID",
    }
    assert result["ASSIGNED_BY_ID"]["type"] == "user"
    if entity in MULTI:
        assert result["PHONE"]["type"] == "crm_multifield" and result["PHONE"]["isMultiple"]
    if entity == "company":
        assert result["TITLE"]["isRequired"] is True


async def test_case_insensitive_params_and_method(harness: Harness, hook: str) -> None:
    cid = ok(await harness.call(hook, "CRM.Contact.Add", {"FIELDS": {"NAME": "Up"}}))["result"]
    assert ok(await harness.call(hook, "crm.contact.Get", {"ID": cid}))["result"]["NAME"] == "Up"
