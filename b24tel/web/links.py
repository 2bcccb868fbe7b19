"""Where a call's CRM record is: our CRM page, or — in bridge mode, where the CRM stays in
the portal (docs/bridge.md, "What is copied") — the portal's own page of it."""

from __future__ import annotations

from typing import Any

from b24tel.crm.fields import ENTITIES


def entity_link(
    portal: str,
    entity_type: str | None,
    entity_id: int | None,
    names: dict[tuple[str, int], str],
) -> dict[str, Any] | None:
    """The record's kind, name and page; None when the call has none (or it is gone).
    ``portal``: the portal's origin in bridge mode (``Settings.upstream_origin``), else empty."""
    if entity_type not in ENTITIES or not entity_id:
        return None
    title = ENTITIES[entity_type].title
    key = (entity_type, entity_id)
    if portal:  # the portal's CRM page (its address shape: /crm/<kind>/details/<id>/)
        url = f"{portal}/crm/{entity_type.lower()}/details/{entity_id}/"
        return {"type": title, "name": names.get(key) or f"{title} {entity_id}", "url": url}
    if key not in names:
        return None
    return {"type": title, "name": names[key], "url": f"/crm/{entity_type.lower()}/{entity_id}"}
