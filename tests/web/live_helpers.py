"""What the live card shows a user, read as the page's stream reads it."""

from __future__ import annotations

from tests.conftest import Harness


async def shown_cards(h: Harness, user_id: int) -> list[str]:
    from b24tel.web import live

    return await live.shown_now(h.db, user_id)
