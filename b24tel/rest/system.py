"""Common methods every caller has (scope `basic`): methods, method.get, scope,
server.time, feature.get (api-reference/common/system/)."""

from __future__ import annotations

from typing import Any

from b24tel.errors import ApiError
from b24tel.rest.context import CallContext
from b24tel.rest.envelope import iso
from b24tel.rest.params import NoParams, OptStr, Params, loose_bool
from b24tel.rest.registry import IMPLICIT_SCOPES, SCOPES, Registry


class MethodGetParams(Params):
    name: OptStr = None


class MethodsParams(Params):
    full: Any = None
    scope: Any = None


class ScopeParams(Params):
    full: Any = None


class FeatureGetParams(Params):
    CODE: OptStr = None


def _granted(ctx: CallContext) -> frozenset[str]:
    return ctx.caller.scopes | IMPLICIT_SCOPES


def register(registry: Registry) -> None:
    @registry.method("server.time", scope="basic")
    async def server_time(ctx: CallContext, p: NoParams) -> str:
        return iso(ctx.now(), ctx.services.tz)

    @registry.method("methods", scope="basic", params=MethodsParams)
    async def methods(ctx: CallContext, p: MethodsParams) -> list[str]:
        specs = registry.all()
        if loose_bool(p.full):
            return [m.name.lower() for m in specs]
        if p.scope is not None:
            # an empty scope lists the common methods (api-reference/common/system/methods.md)
            wanted = str(p.scope) or "basic"
            return [m.name.lower() for m in specs if m.scope == wanted]
        granted = _granted(ctx)
        return [m.name.lower() for m in specs if m.allowed_for(granted)]

    @registry.method("method.get", scope="basic", params=MethodGetParams)
    async def method_get(ctx: CallContext, p: MethodGetParams) -> dict[str, bool]:
        spec = registry.find(p.name) if p.name else None
        return {
            "isExisting": spec is not None,
            "isAvailable": spec is not None and spec.allowed_for(_granted(ctx)),
        }

    @registry.method("scope", scope="basic", params=ScopeParams)
    async def scope(ctx: CallContext, p: ScopeParams) -> list[str]:
        if loose_bool(p.full):
            return [s for s in SCOPES if s not in IMPLICIT_SCOPES]
        return sorted(ctx.caller.scopes)

    @registry.method("feature.get", scope="basic", params=FeatureGetParams)
    async def feature_get(ctx: CallContext, p: FeatureGetParams) -> dict[str, str]:
        if not p.CODE:
            raise ApiError("CODE_EMPTY", "CODE can't be empty", 400)
        return {"value": "N"}
