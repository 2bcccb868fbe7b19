"""What a feature raises events through: ``services.emit``, seen as this small interface so
rules modules can take it as a plain argument (and tests can hand in their own)."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from b24tel.db.hot import Tx


class EventSink(Protocol):
    async def emit(
        self,
        session: AsyncSession | Tx,
        event: str,
        data: dict[str, Any],
        *,
        entity: str,
        user_id: int | None,
        only_app: int | None = None,
    ) -> list[int]: ...


async def crm_changed(
    sink: EventSink,
    session: AsyncSession | Tx,
    kind: str,
    action: str,
    entity_id: int,
    user_id: int | None,
) -> None:
    """ONCRM<KIND><ACTION> with the reference's payload, ``data[FIELDS][ID]``."""
    await sink.emit(
        session,
        f"ONCRM{kind}{action}",
        {"FIELDS": {"ID": entity_id}},
        entity=f"{kind}:{entity_id}",
        user_id=user_id,
    )
