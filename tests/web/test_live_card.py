"""The live card's page and its ×, through the real app on SQLite and PostgreSQL: a call in
progress has a page (for the operator, whoever sees its card, administrators — nobody
else), and a dismissed card stays dismissed until a connector shows it again."""

from __future__ import annotations

from tests.conftest import Harness
from tests.web.live_helpers import shown_cards
from tests.web.test_pages import rest, sign_in


async def _ringing(h: Harness, user_id: int, show: list[int]) -> str:
    call_id = (await rest(h, "telephony.externalCall.register", USER_ID=user_id,
                          PHONE_NUMBER="+7 916 555-44-33", TYPE=2))["CALL_ID"]  # fmt: skip
    await rest(h, "telephony.externalCall.show", CALL_ID=call_id, USER_ID=show)
    return str(call_id)


async def test_a_call_in_progress_has_a_page(harness: Harness, hook: str) -> None:
    bob = await harness.add_user(name="Bob", last_name="Stone", inner_number="102")
    eve = await harness.add_user(name="Eve", inner_number="103")
    kim = await harness.add_user(name="Kim", inner_number="104")
    call_id = await _ringing(harness, bob, [bob, eve])
    for user_id in (1, bob, eve):
        await sign_in(harness, user_id)
        page = await harness.client.get(f"/calls/{call_id}")
        assert page.status_code == 200, page.text
        assert 'status-progress">in progress' in page.text and "79165554433" in page.text
        assert "Bob Stone, Eve" in page.text  # who the card is shown to
    await sign_in(harness, kim)
    assert (await harness.client.get(f"/calls/{call_id}")).status_code == 403
    # finished: the same address is the call's page with its result
    await rest(harness, "telephony.externalCall.finish", CALL_ID=call_id, USER_ID=bob,
               DURATION=42)  # fmt: skip
    await sign_in(harness, bob)
    page = await harness.client.get(f"/calls/{call_id}")
    assert page.status_code == 200 and "status-progress" not in page.text and "0:42" in page.text
    assert (await harness.client.get("/calls/no-such-call")).status_code == 404


async def test_a_dismissed_card_stays_away_until_shown_again(harness: Harness, hook: str) -> None:
    bob = await harness.add_user(name="Bob", inner_number="102")
    call_id = await _ringing(harness, bob, [1, bob])
    csrf = await sign_in(harness, bob)
    assert await shown_cards(harness, bob) == [call_id]
    refused = await harness.client.post(f"/calls/{call_id}/dismiss")
    assert refused.status_code == 403  # no CSRF token
    done = await harness.client.post(f"/calls/{call_id}/dismiss", headers={"X-CSRF-Token": csrf})
    assert done.status_code == 204
    assert await shown_cards(harness, bob) == []
    assert await shown_cards(harness, 1) == [call_id]  # only Bob's card went
    # another user's ×, or one for a call that does not exist, changes nothing
    other = await harness.client.post("/calls/nothing/dismiss", headers={"X-CSRF-Token": csrf})
    assert other.status_code == 204
    await rest(harness, "telephony.externalCall.show", CALL_ID=call_id, USER_ID=bob)
    assert await shown_cards(harness, bob) == [call_id]
