"""The admin API's gate (docs/api/admin.md): its endpoints answer administrators only —
the journal's and the fault rules' alike, so the gate lives with the users."""

from __future__ import annotations

from b24tel.services import EndpointCtx
from b24tel.users import lookup


async def admin_only(ctx: EndpointCtx) -> None:
    assert ctx.caller is not None  # a caller endpoint
    async with ctx.services.db.transaction(readonly=True) as s:
        await lookup.require_admin(s, ctx.caller.user_id)
