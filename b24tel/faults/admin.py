"""``/admin/api/faults``: fault rules for the web interface and scripts
(docs/api/admin.md). Administrators only; plain JSON."""

from __future__ import annotations

import json

from starlette.responses import Response

from b24tel import errors
from b24tel.faults import service
from b24tel.faults.rules import RuleError, describe
from b24tel.rest.envelope import json_response
from b24tel.rest.registry import Registry
from b24tel.services import EndpointCtx
from b24tel.users.gate import admin_only
from b24tel.wire.php import php_int

MAX_RULE = 64 * 1024


async def rules(ctx: EndpointCtx) -> Response:
    """GET: the rules; POST: add one (JSON body); DELETE: remove every rule."""
    await admin_only(ctx)
    services, verb = ctx.services, ctx.request.method
    if verb == "POST":
        body = await ctx.request.body()
        if len(body) > MAX_RULE:
            raise errors.body_too_large(MAX_RULE)
        try:
            data = json.loads(body or b"{}")
            if not isinstance(data, dict):
                raise RuleError("a rule is a JSON object")
            async with services.db.transaction() as s:
                rule = await service.add(s, data, services.clock.now(), "api")
                shown = describe(rule)
        except (RuleError, ValueError) as exc:
            raise errors.ApiError("INVALID_RULE", str(exc), 400) from exc
        services.faults.invalidate()
        return json_response(shown, status=201)
    async with services.db.transaction(readonly=verb == "GET") as s:
        if verb == "DELETE":
            removed = await service.remove(s, None)
        else:
            return json_response({"faults": [describe(r) for r in await service.rules(s)]})
    services.faults.invalidate()
    return json_response({"removed": removed})


async def rule(ctx: EndpointCtx) -> Response:
    """DELETE: remove one rule."""
    await admin_only(ctx)
    rule_id = php_int(ctx.request.path_params.get("rule_id"))
    async with ctx.services.db.transaction() as s:
        removed = await service.remove(s, rule_id)
    if not removed:
        raise errors.ApiError("NOT_FOUND", f"No fault rule {rule_id}", 404)
    ctx.services.faults.invalidate()
    return json_response({"removed": removed})


def register(registry: Registry) -> None:
    verbs = frozenset({"GET", "POST", "DELETE"})
    registry.endpoint("admin.faults", scope="basic", verbs=verbs,
                      path="/admin/api/faults")(rules)  # fmt: skip
    registry.endpoint("admin.fault", scope="basic", verbs=frozenset({"DELETE"}),
                      path="/admin/api/faults/{rule_id}")(rule)  # fmt: skip
