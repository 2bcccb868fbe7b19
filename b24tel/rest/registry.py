"""The method table: wire name → scope, params model, handler.

A method cannot be registered without its scope (design.md §4). Lookup is case-insensitive:
the reference stores its tables lowercased (behavior.md §4.1), and clients mix
`telephony.externalcall.register`, `telephony.externalCall.register` and `crm.lead.List`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError

from b24tel.errors import ApiError
from b24tel.rest.decoding import LazyPaths
from b24tel.rest.params import NoParams, Params

if TYPE_CHECKING:
    from b24tel.rest.context import CallContext

P = TypeVar("P", bound=Params)
Handler = Callable[["CallContext", Any], Awaitable[Any]]

# every scope the server knows; `basic` is implicit for every caller (protocol.md §8.4)
SCOPES = ("basic", "user", "user_basic", "user_brief", "crm", "telephony", "call", "disk")
IMPLICIT_SCOPES = frozenset({"basic"})


@dataclass(frozen=True)
class MethodSpec:
    name: str
    scope: str
    handler: Handler
    params: type[Params] = NoParams
    batch: bool = True
    is_list: bool = False
    lazy: LazyPaths = frozenset()
    # the user may call it with any of these scopes (user.get works with user_basic too)
    alt_scopes: frozenset[str] = field(default_factory=frozenset)

    def allowed_for(self, scopes: frozenset[str]) -> bool:
        if self.scope in IMPLICIT_SCOPES:
            return True
        return self.scope in scopes or bool(self.alt_scopes & scopes)

    def parse(self, raw: dict[str, Any]) -> Params:
        try:
            return self.params.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "params"
            raise ApiError("INVALID_ARGUMENT", f"Invalid value of parameter {where}", 400) from exc


class Registry:
    def __init__(self) -> None:
        self._methods: dict[str, MethodSpec] = {}

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
    ) -> Callable[[Handler], Handler]:
        if scope not in SCOPES:
            raise ValueError(f"unknown scope {scope!r} for {name}")

        def decorate(handler: Handler) -> Handler:
            key = name.lower()
            if key in self._methods:
                raise ValueError(f"method {name} registered twice")
            self._methods[key] = MethodSpec(
                name, scope, handler, params, batch, is_list, lazy, alt_scopes
            )
            return handler

        return decorate

    def find(self, name: str) -> MethodSpec | None:
        return self._methods.get(name.lower())

    def all(self) -> list[MethodSpec]:
        return sorted(self._methods.values(), key=lambda m: m.name.lower())
