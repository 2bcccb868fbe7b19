"""The table of everything a client can reach: methods (wire name → scope, params model,
handler) and raw endpoints (downloads, uploads, the token endpoint) with their scope and
way of authenticating. Nothing is registered without its scope.

Lookup is case-insensitive: the reference stores its tables lowercased, and clients mix
`telephony.externalcall.register`, `telephony.externalCall.register` and `crm.lead.List`
(docs/reference/protocol.md, "Routing").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from b24tel import errors
from b24tel.errors import ApiError
from b24tel.identity import IMPLICIT_SCOPES, SCOPES
from b24tel.rest.params import NoParams, Params
from b24tel.rest.spool import LazyPaths

# a method handler: (CallContext[Services], params model) → result
Handler = Callable[[Any, Any], Awaitable[Any]]
# a raw endpoint: (EndpointContext[Services]) → a Response, or a result for the envelope
EndpointHandler = Callable[[Any], Awaitable[Any]]
# how a raw endpoint authenticates: the caller's credentials; a signed link of its purpose
# or else the caller's credentials; a signed-in browser's session cookie (pages, with a CSRF
# token on every change); nothing (the endpoint checks what it needs itself)
AuthMode = Literal["caller", "link_or_caller", "session", "none"]
# the code of plain business errors of a method (BusinessError), from the settings
BusinessCode = Callable[[Any], str]


def _no_code(settings: Any) -> str:
    return ""


@dataclass(frozen=True)
class Access:
    scope: str
    # the caller may also hold any of these instead (user.get works with user_basic too)
    alt_scopes: frozenset[str] = frozenset()

    def allowed_for(self, scopes: frozenset[str]) -> bool:
        if self.scope in IMPLICIT_SCOPES:
            return True
        return self.scope in scopes or bool(self.alt_scopes & scopes)


@dataclass(frozen=True)
class MethodSpec:
    name: str
    access: Access
    handler: Handler
    params: type[Params] = NoParams
    batch: bool = True
    is_list: bool = False
    lazy: LazyPaths = frozenset()
    business_code: BusinessCode = _no_code

    @property
    def scope(self) -> str:
        return self.access.scope

    def allowed_for(self, scopes: frozenset[str]) -> bool:
        return self.access.allowed_for(scopes)

    def parse(self, raw: dict[str, Any], context: Mapping[str, Any] | None = None) -> Params:
        try:
            return self.params.model_validate(raw, context=dict(context or {}))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "params"
            raise ApiError("INVALID_ARGUMENT", f"Invalid value of parameter {where}", 400) from exc


@dataclass(frozen=True)
class EndpointSpec:
    name: str  # where a method name would be: /rest/<name>[.json]
    access: Access
    handler: EndpointHandler
    auth: AuthMode
    # the purpose a signed link for this endpoint was made for (auth "link_or_caller")
    link_purpose: str = ""
    verbs: frozenset[str] = field(default_factory=frozenset)  # empty: any
    # None: under /rest/ where a method name would be; else a path of its own
    path: str | None = None
    business_code: BusinessCode = _no_code
    # a page of the web interface: its errors are rendered as HTML
    page: bool = False


class Registry:
    def __init__(self) -> None:
        self._methods: dict[str, MethodSpec] = {}
        self._endpoints: dict[str, EndpointSpec] = {}

    def method(
        self,
        name: str,
        *,
        scope: str,
        params: type[Params] = NoParams,
        batch: bool = True,
        is_list: bool = False,
        lazy: LazyPaths = frozenset(),
        alt_scopes: frozenset[str] = frozenset(),
        business_code: BusinessCode = _no_code,
    ) -> Callable[[Handler], Handler]:
        access = _access(name, scope, alt_scopes)

        def decorate(handler: Handler) -> Handler:
            key = name.lower()
            if key in self._methods or key in self._endpoints:
                raise ValueError(f"{name} registered twice")
            self._methods[key] = MethodSpec(
                name, access, handler, params, batch, is_list, lazy, business_code
            )
            return handler

        return decorate

    def endpoint(
        self,
        name: str,
        *,
        scope: str,
        auth: AuthMode = "caller",
        link_purpose: str = "",
        verbs: frozenset[str] = frozenset(),
        path: str | None = None,
        business_code: BusinessCode = _no_code,
        page: bool = False,
    ) -> Callable[[EndpointHandler], EndpointHandler]:
        access = _access(name, scope, frozenset())
        if auth == "link_or_caller" and not link_purpose:
            raise ValueError(f"{name}: a link endpoint needs its link purpose")

        def decorate(handler: EndpointHandler) -> EndpointHandler:
            key = name.lower()
            if key in self._methods or key in self._endpoints:
                raise ValueError(f"{name} registered twice")
            self._endpoints[key] = EndpointSpec(
                name, access, handler, auth, link_purpose, verbs, path, business_code, page
            )
            return handler

        return decorate

    def find(self, name: str) -> MethodSpec | None:
        return self._methods.get(name.lower())

    def find_endpoint(self, name: str) -> EndpointSpec | None:
        return self._endpoints.get(name.lower())

    def all(self) -> list[MethodSpec]:
        return sorted(self._methods.values(), key=lambda m: m.name.lower())

    def endpoints(self) -> list[EndpointSpec]:
        return sorted(self._endpoints.values(), key=lambda e: e.name.lower())


def _access(name: str, scope: str, alt_scopes: frozenset[str]) -> Access:
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r} for {name}")
    return Access(scope, alt_scopes)


async def _not_here(ctx: Any, params: Any) -> Any:
    raise errors.method_not_found()  # never called: a bridge passes the call on


def passthrough_spec(method: str) -> MethodSpec:
    """A method this server does not know, for a bridge to pass on: no scope of ours, and
    a recording in it stays on disk."""
    return MethodSpec(
        name=method,
        access=Access("basic"),
        handler=_not_here,
        lazy=frozenset({("FILE_CONTENT",), ("fields", "FILE_CONTENT")}),
    )
