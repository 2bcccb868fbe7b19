"""Contacts, companies and leads from the pages: names where IDs were, and an administrator
adds and edits them — a phone added here is found by the next register (through the real
app, on SQLite and PostgreSQL)."""

from __future__ import annotations

from tests.conftest import Harness
from tests.web.test_pages import rest, sign_in


async def test_an_administrator_adds_and_edits_a_contact(harness: Harness, hook: str) -> None:
    csrf = await sign_in(harness, 1)
    assert 'href="/crm/contact/new/edit"' in (await harness.client.get("/crm/contact")).text
    form = {"csrf": csrf, "NAME": "Irina", "LAST_NAME": "<b>Volkova</b>",
            "PHONE": "8 (916) 777-11-22", "EMAIL": "irina@example.com"}  # fmt: skip
    added = await harness.client.post("/crm/contact/new/edit", data=form)
    assert added.status_code == 303
    contact_id = int(added.headers["location"].rsplit("/", 1)[1])
    # the next register finds the number added on the page
    found = await rest(harness, "telephony.externalCall.register", USER_ID=1,
                       PHONE_NUMBER="+79167771122", TYPE=2)  # fmt: skip
    assert (found["CRM_ENTITY_TYPE"], found["CRM_ENTITY_ID"]) == ("CONTACT", contact_id)
    page = await harness.client.get(f"/crm/contact/{contact_id}")
    assert "&lt;b&gt;Volkova&lt;/b&gt;" in page.text and "<b>Volkova" not in page.text
    assert "<dd>Admin</dd>" in page.text  # the responsible person by name, not ID 1
    # edit: a new number replaces the old one; an emptied e-mail goes
    form |= {"PHONE": "+7 916 777-33-44", "EMAIL": "", "LAST_NAME": "Volkova"}
    saved = await harness.client.post(f"/crm/contact/{contact_id}/edit", data=form)
    assert saved.status_code == 303
    got = await rest(harness, "crm.contact.get", id=contact_id)
    assert [p["VALUE"] for p in got["PHONE"]] == ["+7 916 777-33-44"]
    assert "EMAIL" not in got or got["EMAIL"] == []
    assert got["LAST_NAME"] == "Volkova"


async def test_linked_records_and_statuses_by_name(harness: Harness, hook: str) -> None:
    await sign_in(harness, 1)
    company = await rest(harness, "crm.company.add", fields={"TITLE": "Acme"})
    contact = await rest(harness, "crm.contact.add",
                         fields={"NAME": "Oleg", "COMPANY_ID": company})  # fmt: skip
    page = await harness.client.get(f"/crm/contact/{contact}")
    assert f'<a href="/crm/company/{company}">Acme</a>' in page.text


async def test_refusals_and_who_may(harness: Harness, hook: str) -> None:
    csrf = await sign_in(harness, 1)
    empty = await harness.client.post("/crm/company/new/edit", data={"csrf": csrf, "TITLE": ""})
    assert empty.status_code == 200 and 'role="alert"' in empty.text
    assert (await harness.client.get("/crm/deal/new/edit")).status_code == 404
    assert (await harness.client.get("/crm/contact/999/edit")).status_code == 404
    assert (await harness.client.get("/crm/contact/x/edit")).status_code == 404
    op = await harness.add_user(name="Op", inner_number="102")
    csrf = await sign_in(harness, op)
    assert 'href="/crm/contact/new/edit"' not in (await harness.client.get("/crm/contact")).text
    refused = await harness.client.post("/crm/contact/new/edit", data={"csrf": csrf, "NAME": "X"})
    assert refused.status_code == 403
    assert await rest(harness, "crm.contact.list") == []
