"""fast_bitrix24 and b24pysdk on the CRM: lists of 120 rows, get_by_ID, typed crm.lead.List,
call_list_fast (issue: CRM records)."""

from __future__ import annotations

from b24pysdk import BitrixWebhook, Client
from fast_bitrix24 import Bitrix

from b24tel.clock import Clock
from b24tel.crm import entities as crm
from b24tel.crm.fields import CONTACT, LEAD
from tests.compat.conftest import Live


def _seed(live: Live, n: int = 120) -> None:
    async def work(session) -> None:  # type: ignore[no-untyped-def]
        env = crm.Env(1, Clock().now(), live.services().tz, "RU")
        for i in range(1, n + 1):
            await crm.add(session, LEAD, {"TITLE": f"Lead {i}"}, {}, env)
            await crm.add(
                session,
                CONTACT,
                {"NAME": f"C{i}", "PHONE": [{"VALUE": f"+7916{i:07d}"}]},
                {},
                env,
            )

    live.run_db(work)


def test_fast_bitrix24_lists_and_get_by_id(live: Live) -> None:
    _seed(live)
    fast = Bitrix(live.hook_http, verbose=False)
    leads = fast.get_all("crm.lead.list", {"select": ["ID"]})
    assert sorted(int(x["ID"]) for x in leads) == list(range(1, 121))
    contacts = fast.get_all("crm.contact.list", {"select": ["ID", "PHONE"]})
    assert sorted(int(x["ID"]) for x in contacts) == list(range(1, 121))
    assert contacts[0]["PHONE"][0]["VALUE"].startswith("+7916")
    by_id = fast.get_by_ID("crm.lead.get", [1, 2, 3])
    assert {k: v["TITLE"] for k, v in by_id.items()} == {
        "1": "Lead 1",
        "2": "Lead 2",
        "3": "Lead 3",
    }


def test_b24pysdk_typed_list_and_fast_list(live: Live) -> None:
    _seed(live)
    token = BitrixWebhook(domain=live.https_domain, webhook_token="1/secretcode")
    client = Client(token)
    request = client.crm.lead.list(select=["ID"])
    assert request._api_method == "crm.lead.List"  # the typed layer's spelling
    typed = request.as_list().result
    assert sorted(int(x["ID"]) for x in typed) == list(range(1, 121))
    listed = token.call_list("crm.lead.list", {"select": ["ID"]})["result"]
    assert len(listed) == 120
    fast = token.call_list_fast("crm.lead.list", {"select": ["ID"]})["result"]
    assert [int(x["ID"]) for x in fast] == list(range(1, 121))
    fast_contacts = list(token.call_list_fast("crm.contact.list", {"select": ["ID"]})["result"])
    assert len(fast_contacts) == 120
    one = client.crm.lead.get(bitrix_id=7).result
    assert one["TITLE"] == "Lead 7"
    batch = client.call_batch({"a": client.crm.lead.get(bitrix_id=1)}).result
    assert batch.result["a"]["ID"] == "1"
