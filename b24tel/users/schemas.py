"""Params of the user and application methods."""

from __future__ import annotations

from typing import Any

from pydantic import model_validator

from b24tel.db.filters import split_key
from b24tel.rest.params import AnyList, OptDict, OptStr, Params
from b24tel.users.search import USER_FIELDS


class UserGetParams(Params):
    """user.get takes `sort`/`SORT`, `order`/`ORDER`, `FILTER`/`filter`, `select`, and filter
    keys at the top level too (docs/reference/users.md, "user.get":
    `{"UF_DEPARTMENT": 1, "SORT": "ID", …}`)."""

    sort: OptStr = None
    order: OptStr = None
    filter: OptDict = None
    select: AnyList = []
    top_filter: dict[str, Any] = {}

    @model_validator(mode="before")
    @classmethod
    def _collect(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out: dict[str, Any] = {"top_filter": {}}
        for key, value in data.items():
            lower = str(key).lower()
            if lower in ("sort", "order", "filter", "select"):
                if lower not in out or key == lower:
                    out[lower] = value
            elif split_key(str(key))[1].upper() in USER_FIELDS:
                out["top_filter"][key] = value
        return out

    def filters(self) -> dict[str, Any]:
        return {**self.top_filter, **(self.filter or {})}

    def ordering(self) -> dict[str, Any]:
        if not self.sort:
            return {}
        return {self.sort: self.order or "ASC"}
