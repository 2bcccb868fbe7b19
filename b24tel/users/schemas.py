"""Params of the user and application methods."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from b24tel.db.filters import split_key
from b24tel.rest.params import AnyList, LegacyParams, OptDict, OptStr, Params
from b24tel.users.search import USER_FIELDS
from b24tel.users.service import UserFields
from b24tel.wire.php import loose_bool


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


class UserFieldsParams(LegacyParams):
    """user.add and user.update: the user's fields at the top level, in any case
    (docs/reference/users.md, "user.add and user.update"). Fields b24tel does not keep are
    ignored, as the reference ignores unknown ones."""

    id: OptStr = Field(None, alias="ID")
    name: OptStr = Field(None, alias="NAME")
    last_name: OptStr = Field(None, alias="LAST_NAME")
    second_name: OptStr = Field(None, alias="SECOND_NAME")
    email: OptStr = Field(None, alias="EMAIL")
    active: Any = Field(None, alias="ACTIVE")
    inner_number: OptStr = Field(None, alias="UF_PHONE_INNER")
    work_phone: OptStr = Field(None, alias="WORK_PHONE")
    personal_mobile: OptStr = Field(None, alias="PERSONAL_MOBILE")
    personal_phone: OptStr = Field(None, alias="PERSONAL_PHONE")
    work_position: OptStr = Field(None, alias="WORK_POSITION")
    personal_gender: OptStr = Field(None, alias="PERSONAL_GENDER")

    def fields(self) -> UserFields:
        """The changes; ``ACTIVE`` takes `Y`/`N`, `true`/`false`, 1/0 (anything else is
        refused by ``active_flag``)."""
        return UserFields(
            name=self.name, last_name=self.last_name, second_name=self.second_name,
            email=self.email, inner_number=self.inner_number, work_phone=self.work_phone,
            personal_mobile=self.personal_mobile, personal_phone=self.personal_phone,
            work_position=self.work_position, personal_gender=self.personal_gender,
            active=self.active_flag(),
        )  # fmt: skip

    def active_flag(self) -> bool | None:
        if self.active is None:
            return None
        flag = loose_bool(self.active)
        if flag is None:
            raise ValueError(f"ACTIVE is Y or N, not {str(self.active)[:40]!r}")
        return flag
