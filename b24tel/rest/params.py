"""Lenient parameter types shared by every method's params model.

Clients send the same value in many spellings (docs/reference/clients.md, "Values"): numbers
as strings, booleans as ``"Y"``/``"true"``/``1``, ``null`` for absent. These annotated types
coerce instead of failing, so the method's own checks run in the reference's order with its
messages.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationInfo, model_validator

from b24tel.wire.php import (
    NotAnArray,
    as_dict,
    as_list,
    loose_bool,
    opt_float,
    opt_int,
    opt_str,
    php_int,
    php_map,
    php_truthy,
    upper_names,
)

OptInt = Annotated[int | None, BeforeValidator(opt_int)]
PhpInt = Annotated[int, BeforeValidator(php_int)]
OptFloat = Annotated[float | None, BeforeValidator(opt_float)]
LooseBool = Annotated[bool | None, BeforeValidator(loose_bool)]
PhpTruthy = Annotated[bool, BeforeValidator(php_truthy)]
OptStr = Annotated[str | None, BeforeValidator(opt_str)]
AnyList = Annotated[list[Any], BeforeValidator(as_list)]
OptDict = Annotated[dict[str, Any] | None, BeforeValidator(as_dict)]
PhpMap = Annotated[dict[str, Any] | NotAnArray, BeforeValidator(php_map)]
UpperNames = Annotated[list[str], BeforeValidator(upper_names)]


@dataclass(frozen=True)
class ParseContext:
    """What coercion needs besides the value: the portal's time zone (dates without an
    offset are its local time) and the request's "now"."""

    tz: ZoneInfo
    now: dt.datetime

    def mapping(self) -> dict[str, object]:
        return {"parse": self}

    @staticmethod
    def of(info: ValidationInfo) -> ParseContext:
        found = (info.context or {}).get("parse")
        if isinstance(found, ParseContext):
            return found
        return ParseContext(ZoneInfo("UTC"), dt.datetime.now(dt.UTC))


class Params(BaseModel):
    """Base of every method's params model: wire names are the aliases; unknown parameters
    are ignored (docs/reference/clients.md, "Transport")."""

    model_config = ConfigDict(
        extra="ignore", populate_by_name=False, frozen=True, arbitrary_types_allowed=True
    )
    case_insensitive: ClassVar[bool] = False

    @model_validator(mode="before")
    @classmethod
    def _match_case(cls, data: Any) -> Any:
        if not cls.case_insensitive or not isinstance(data, dict):
            return data
        wanted = {
            (f.alias or name).lower(): f.alias or name for name, f in cls.model_fields.items()
        }
        out: dict[str, Any] = {}
        for key, value in data.items():
            canonical = wanted.get(str(key).lower())
            if canonical is None:
                continue
            # an exact spelling wins over another case variant
            if canonical not in out or key == canonical:
                out[canonical] = value
        return out


class LegacyParams(Params):
    """Legacy CRM and user methods read their top-level names in any case
    (docs/reference/protocol.md, "Parameters": `ID`/`id`, `FIELDS`/`fields`, …)."""

    case_insensitive: ClassVar[bool] = True


class NoParams(Params):
    pass
