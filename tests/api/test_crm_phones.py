"""Phone search: a number stored in one format is found by every other, for every entity
type with phones; find_by_phone picks entities like the reference
(docs/reference/telephony.md, "register")."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import pytest

from b24tel import phones
from b24tel.crm import phone_search as service
from b24tel.db.hot import Query, Tx
from tests.conftest import Harness
from tests.helpers import ok

# one number, seventeen spellings (region RU)
FORMATS = [
    "+7 (916) 000-12-34",
    "+79160001234",
    "79160001234",
    "8 916 000 12 34",
    "89160001234",
    " 79160001234",  # a '+' that became a space in a raw query string
    "0079160001234",
    "00 7 916 000 12 34",
    "+7-916-000-12-34",
    "+7.916.000.12.34",
    "(916) 000-12-34",
    "9160001234",
    "+7 916 000 12 34 ext. 55",
    "8 (916) 000-12-34 доб. 7",
    "+7 916 000-1234#12",
    "7 916 000 1234",
    "+7 (916) 0001234;ext=9",
]
OTHER = ["+7 916 000 12 35", "+49 30 12345678", "101"]


def test_normaliser_gives_one_key() -> None:
    keys = {phones.normalize(f, "RU") for f in FORMATS}
    assert keys == {"79160001234"}
    assert all(phones.normalize(o, "RU") != "79160001234" for o in OTHER)
    assert phones.normalize("", "RU") is None and phones.normalize("abc", "RU") is None


@pytest.mark.parametrize("entity", ["contact", "company", "lead"])
@pytest.mark.parametrize("stored", [FORMATS[0], FORMATS[3], FORMATS[5], FORMATS[12]])
async def test_stored_format_found_by_every_other(
    harness: Harness, hook: str, entity: str, stored: str
) -> None:
    fields = {"TITLE": "T", "NAME": "N", "PHONE": [{"VALUE": stored}]}
    new_id = ok(await harness.call(hook, f"crm.{entity}.add", {"fields": fields}))["result"]
    ok(
        await harness.call(
            hook,
            f"crm.{entity}.add",
            {"fields": {"TITLE": "Other", "NAME": "O", "PHONE": [{"VALUE": OTHER[0]}]}},
        )
    )
    for query in FORMATS:
        body = ok(
            await harness.call(
                hook, "crm.duplicate.findbycomm", {"type": "PHONE", "values": [query]}
            )
        )
        assert body["result"] == {entity.upper(): [new_id]}, query
        listed = ok(
            await harness.call(
                hook, f"crm.{entity}.list", {"filter": {"PHONE": query}, "select": ["ID"]}
            )
        )
        assert listed["result"] == [{"ID": str(new_id)}], query
    async with harness.db.transaction(readonly=True) as s:
        for query in FORMATS:
            found = await service.search_phone(s, query, "RU")
            assert [(m.entity_type, m.entity_id) for m in found] == [(entity.upper(), new_id)]


async def test_raw_query_string_plus_turned_space(harness: Harness, hook: str) -> None:
    ok(
        await harness.call(
            hook, "crm.contact.add", {"fields": {"NAME": "A", "PHONE": [{"VALUE": "+79160001234"}]}}
        )
    )
    # Yeastar-style: a literal '+' in the query string arrives as a space
    body = ok(
        await harness.client.get(hook + "crm.duplicate.findbycomm?type=PHONE&values[]=+79160001234")
    )
    assert body["result"] == {"CONTACT": [1]}


async def _add(h: Harness, hook: str, entity: str, fields: dict) -> int:
    fields = {**fields, "PHONE": [{"VALUE": "+79160001234"}]}
    return ok(await h.call(hook, f"crm.{entity}.add", {"fields": fields}))["result"]


async def test_find_by_phone_order_and_choice(harness: Harness, hook: str) -> None:
    lead = await _add(harness, hook, "lead", {"TITLE": "L"})
    async with harness.db.transaction(readonly=True) as s:
        found = await service.find_by_phone(s, "89160001234", "RU")
    assert [(m.entity_type, m.entity_id) for m in found] == [("LEAD", lead)]
    company = await _add(harness, hook, "company", {"TITLE": "C"})
    old = await _add(harness, hook, "contact", {"NAME": "Old"})
    newer = await _add(harness, hook, "contact", {"NAME": "New"})
    # the most recently modified contact wins
    from b24tel.crm.models import Contact

    async with harness.db.transaction() as s:
        (await s.get(Contact, old)).date_modify -= dt.timedelta(days=1)
    async with harness.db.transaction(readonly=True) as s:
        found = await service.find_by_phone(s, "+7 916 000 12 34", "RU")
        everything = await service.search_phone(s, "+7 916 000 12 34", "RU")
    # leads only when no contact or company matched; contact before company
    assert [(m.entity_type, m.entity_id) for m in found] == [
        ("CONTACT", newer),
        ("COMPANY", company),
    ]
    assert [m.entity_type for m in everything] == ["CONTACT", "CONTACT", "LEAD", "COMPANY"]
    assert found[0].name == "New"


async def test_inactive_lead_ranks_last(harness: Harness, hook: str) -> None:
    junk = await _add(harness, hook, "lead", {"TITLE": "J", "STATUS_ID": "JUNK"})
    active = await _add(harness, hook, "lead", {"TITLE": "A"})
    ok(await harness.call(hook, "crm.lead.update", {"id": junk, "fields": {"COMMENTS": "x"}}))
    async with harness.db.transaction(readonly=True) as s:
        found = await service.find_by_phone(s, "79160001234", "RU")
    assert [m.entity_id for m in found] == [active]


async def test_findbycomm_email_and_errors(harness: Harness, hook: str) -> None:
    ok(
        await harness.call(
            hook,
            "crm.contact.add",
            {"fields": {"NAME": "A", "EMAIL": [{"VALUE": "Anna@Example.com"}]}},
        )
    )
    ok(
        await harness.call(
            hook,
            "crm.lead.add",
            {"fields": {"TITLE": "L", "EMAIL": [{"VALUE": "anna@example.com"}]}},
        )
    )
    body = ok(
        await harness.call(
            hook, "crm.duplicate.findbycomm", {"type": "EMAIL", "values": ["ANNA@example.com"]}
        )
    )
    assert body["result"] == {"LEAD": [1], "CONTACT": [1]}
    body = ok(
        await harness.call(
            hook,
            "crm.duplicate.findbycomm",
            {"type": "EMAIL", "values": ["anna@example.com"], "entity_type": "CONTACT"},
        )
    )
    assert body["result"] == {"CONTACT": [1]}
    from tests.helpers import err

    err(
        await harness.call(hook, "crm.duplicate.findbycomm", {"values": ["1"]}),
        400,
        "Communication type is not defined",
        "Parameter 'type' is required.",
    )
    err(
        await harness.call(hook, "crm.duplicate.findbycomm", {"type": "FAX", "values": ["1"]}),
        400,
        "Communication type 'FAX' is not supported in current context",
    )
    err(
        await harness.call(hook, "crm.duplicate.findbycomm", {"type": "PHONE", "values": "1"}),
        400,
        "Communication values is not defined",
    )


class _Counting:
    """A hot unit's Tx that counts the statements it is handed."""

    def __init__(self, tx: Tx) -> None:
        self.tx, self.statements = tx, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tx, name)

    async def rows(self, q: Query, **params: Any) -> list[Any]:
        self.statements += 1
        return await self.tx.rows(q, **params)


async def test_contacts_leads_and_companies_in_one_statement(harness: Harness, hook: str) -> None:
    """A call's CRM lookup is one round trip on PostgreSQL, whatever matches."""
    ids = [
        await _add(harness, hook, "contact", {"NAME": "C"}),
        await _add(harness, hook, "lead", {"TITLE": "L"}),
        await _add(harness, hook, "company", {"TITLE": "Co"}),
    ]
    async with harness.db.hot(readonly=True) as tx:
        counting = _Counting(tx)
        found = await service.search_phone(cast(Tx, counting), "+7 916 000 12 34", "RU")
    assert [(m.entity_type, m.entity_id) for m in found] == list(
        zip(("CONTACT", "LEAD", "COMPANY"), ids, strict=True)
    )
    assert counting.statements == 1
