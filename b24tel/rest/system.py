"""Common methods every caller has (scope `basic`): methods, method.get, scope,
server.time, feature.get (docs/reference/protocol.md, "methods")."""

from __future__ import annotations

from b24tel.errors import ApiError
from b24tel.identity import IMPLICIT_SCOPES, SCOPES
from b24tel.rest.context import CallContext
from b24tel.rest.envelope import iso
from b24tel.rest.params import LooseBool, NoParams, OptStr, Params
from b24tel.rest.platform import Platform
from b24tel.rest.registry import Registry


class MethodGetParams(Params):
    name: OptStr = None


class MethodsParams(Params):
    full: LooseBool = None
    scope: OptStr = None


class ScopeParams(Params):
    full: LooseBool = None


class FeatureGetParams(Params):
    CODE: OptStr = None


def _granted(ctx: CallContext[Platform]) -> frozenset[str]:
    return ctx.caller.scopes | IMPLICIT_SCOPES


def register(registry: Registry) -> None:
    @registry.method("server.time", scope="basic")
    async def server_time(ctx: CallContext[Platform], p: NoParams) -> str:
        return iso(ctx.now(), ctx.services.tz)

    @registry.method("methods", scope="basic", params=MethodsParams)
    async def methods(ctx: CallContext[Platform], p: MethodsParams) -> list[str]:
        specs = registry.all()
        if p.full:
            return [m.name.lower() for m in specs]
        if p.scope is not None:
            # an empty scope lists the common methods (docs/reference/protocol.md, "methods")
            wanted = p.scope or "basic"
            return [m.name.lower() for m in specs if m.scope == wanted]
        granted = _granted(ctx)
        return [m.name.lower() for m in specs if m.allowed_for(granted)]

    @registry.method("method.get", scope="basic", params=MethodGetParams)
    async def method_get(ctx: CallContext[Platform], p: MethodGetParams) -> dict[str, bool]:
        spec = registry.find(p.name) if p.name else None
        return {
            "isExisting": spec is not None,
            "isAvailable": spec is not None and spec.allowed_for(_granted(ctx)),
        }

    @registry.method("scope", scope="basic", params=ScopeParams)
    async def scope(ctx: CallContext[Platform], p: ScopeParams) -> list[str]:
        if p.full:
            return [s for s in SCOPES if s not in IMPLICIT_SCOPES]
        return sorted(ctx.caller.scopes)

    @registry.method("feature.get", scope="basic", params=FeatureGetParams)
    async def feature_get(ctx: CallContext[Platform], p: FeatureGetParams) -> dict[str, str]:
        if not p.CODE:
            raise ApiError("CODE_EMPTY", "CODE can't be empty", 400)
        return {"value": "N"}
