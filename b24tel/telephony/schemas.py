"""Params of the telephony methods: the wire names once, as aliases, and typed attributes
after the reference's coercion (docs/reference/telephony.md). Telephony names are
case-sensitive upper case. Coercion never fails: a value the reference would refuse
becomes the state the service checks, so the checks keep the reference's order."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator

from b24tel.phones import strip_to_dialable
from b24tel.rest.params import LegacyParams, OptStr, Params, ParseContext, PhpInt, PhpTruthy
from b24tel.rest.spool import LargeValue
from b24tel.users.lookup import inner_digits
from b24tel.wire.php import as_dict, opt_float, opt_str, php_int, php_truthy

_NUMERIC = re.compile(r"^\s*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?\s*$")


def call_type(raw: Any) -> str | None:
    """``TYPE`` compared loosely with 1–5, as PHP does: ``"2"``, ``" 2"``, ``"2.0"`` and
    ``true`` (== 1) pass; null, ``"0"`` and ``"2x"`` do not."""
    if raw is True:
        return "1"
    if raw is None or raw is False or isinstance(raw, dict | list):
        return None
    if isinstance(raw, int | float) or (isinstance(raw, str) and _NUMERIC.match(raw)):
        number = float(raw)
    else:
        return None
    return str(int(number)) if number.is_integer() and 1 <= number <= 5 else None


def start_date(raw: Any, tz: dt.tzinfo, now: dt.datetime) -> dt.datetime | None:
    """CALL_START_DATE: ISO-8601 with or without offset, ``Y-m-d H:i:s``, Python's
    ``str(datetime)``, a plain date, or ``now``; None when unreadable. Seconds precision."""
    text = opt_str(raw)
    if text is None or text == "":
        return now.replace(microsecond=0)
    text = text.strip()
    if text.lower() == "now":
        return now.replace(microsecond=0)
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=tz)  # no offset: the portal's time
        return parsed.astimezone(dt.UTC).replace(microsecond=0)
    except (ValueError, OverflowError):  # unreadable, or beyond year 1 … 9999 in UTC
        return None


def string_or_none(raw: Any) -> str | None:
    """A parameter that must be a string: anything else (absent, a number, an array) is
    None."""
    return raw if isinstance(raw, str) else None


def present_str(raw: Any) -> str | None:
    """None when absent; else the value as text ("" for an array)."""
    return None if raw is None else (opt_str(raw) or "")


def text(raw: Any) -> str:
    return opt_str(raw) or ""


def money(raw: Any) -> Decimal:
    value = opt_float(raw)
    try:
        return Decimal(str(value)) if value is not None else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def user_ids(raw: Any) -> list[int]:
    """An id, a list, or `USER_ID[0]=…`; only positive ids."""
    if isinstance(raw, list | dict):
        values = raw.values() if isinstance(raw, dict) else raw
        return [php_int(v) for v in values if php_int(v) > 0]
    return [php_int(raw)] if php_int(raw) > 0 else []


def line_number(raw: Any) -> str:
    """LINE_NUMBER trimmed and cut to its first 50 bytes; "" when none."""
    number = (opt_str(raw) or "").strip()
    return number.encode()[:50].decode("utf-8", "ignore")


def flag_y(raw: Any) -> str | None:
    """CRM_AUTO_CREATE: absent is None; exactly "Y" is Y; `y`, `true`, JSON true … are N."""
    if raw is None:
        return None
    return "Y" if raw == "Y" else "N"


def file_content(raw: Any) -> LargeValue | str | None:
    """FILE_CONTENT: base64 text (streamed from the body when large), or the reference's
    `[name, base64]` pair, whose name is only a temporary one."""
    if raw is None:
        return None
    if isinstance(raw, list | dict):
        values = list(raw.values()) if isinstance(raw, dict) else raw
        raw = values[1] if len(values) > 1 else None
    if isinstance(raw, LargeValue):
        return raw
    return opt_str(raw) or ""


def _stripped(raw: Any) -> str | None:
    return raw.strip() if isinstance(raw, str) else None


def _entity_id(raw: Any) -> int | None:
    return None if raw is None else php_int(raw)


def _show(raw: Any) -> bool:
    return True if raw is None else php_truthy(raw)


def _attach_call_id(raw: Any) -> str:
    return text(raw) if isinstance(raw, str | int) else ""


def _array(raw: Any) -> dict[str, Any] | list[Any] | None:
    return raw if isinstance(raw, dict | list) else None


def _truthy_cost(raw: Any) -> float | None:
    return opt_float(raw) if php_truthy(raw) else None


Text = Annotated[str, BeforeValidator(text)]
PresentStr = Annotated[str | None, BeforeValidator(present_str)]
StringOrNone = Annotated[str | None, BeforeValidator(string_or_none)]
InnerDigits = Annotated[str | None, BeforeValidator(lambda v: inner_digits(opt_str(v)))]
Money = Annotated[Decimal, BeforeValidator(money)]
Dialable = Annotated[str, BeforeValidator(lambda v: strip_to_dialable(text(v)))]
CallType = Annotated[str | None, BeforeValidator(call_type)]
Upper = Annotated[str, BeforeValidator(lambda v: text(v).upper())]
EntityId = Annotated[int | None, BeforeValidator(_entity_id)]
Show = Annotated[bool, BeforeValidator(_show)]
LineNumber = Annotated[str, BeforeValidator(line_number)]
NonEmptyStr = Annotated[str | None, BeforeValidator(lambda v: opt_str(v) or None)]
UserIds = Annotated[list[int], BeforeValidator(user_ids)]
AttachCallId = Annotated[str, BeforeValidator(_attach_call_id)]
FileContent = Annotated[LargeValue | str | None, BeforeValidator(file_content)]
Array = Annotated[dict[str, Any] | list[Any] | None, BeforeValidator(_array)]
TruthyCost = Annotated[float | None, BeforeValidator(_truthy_cost)]
Stripped = Annotated[str, BeforeValidator(lambda v: text(v).strip())]
FlagY = Annotated[str | None, BeforeValidator(flag_y)]
Map = Annotated[dict[str, Any], BeforeValidator(lambda v: as_dict(v) or {})]
StrippedOrNone = Annotated[str | None, BeforeValidator(_stripped)]


class _CallerUser(Params):
    """USER_ID, else USER_PHONE_INNER (register and finish)."""

    user_id: PhpInt = Field(0, alias="USER_ID")
    user_phone_inner: InnerDigits = Field(None, alias="USER_PHONE_INNER")


class RegisterParams(_CallerUser):
    phone_number: Dialable = Field("", alias="PHONE_NUMBER")
    call_type: CallType = Field(None, alias="TYPE")
    # None: unreadable (absent is "now")
    start: dt.datetime | None = Field(None, alias="CALL_START_DATE", validate_default=True)
    crm_create: PhpTruthy = Field(False, alias="CRM_CREATE")
    crm_source: Upper = Field("", alias="CRM_SOURCE")
    crm_entity_type: OptStr = Field(None, alias="CRM_ENTITY_TYPE")
    crm_entity_id: EntityId = Field(None, alias="CRM_ENTITY_ID")
    show: Show = Field(True, alias="SHOW", validate_default=True)
    line_number: LineNumber = Field("", alias="LINE_NUMBER")
    external_call_id: NonEmptyStr = Field(None, alias="EXTERNAL_CALL_ID")
    # ADD_TO_CHAT and CALL_LIST_ID are accepted and ignored, as by the reference

    @field_validator("start", mode="before")
    @classmethod
    def _start(cls, raw: Any, info: ValidationInfo) -> dt.datetime | None:
        parse = ParseContext.of(info)
        return start_date(raw, parse.tz, parse.now)

    @property
    def dialable(self) -> bool:
        # PHP-falsy: empty, or the string "0"
        return php_truthy(self.phone_number)


class FinishParams(_CallerUser):
    call_id: StringOrNone = Field(None, alias="CALL_ID")
    duration: PhpInt = Field(0, alias="DURATION")
    cost: Money = Field(Decimal(0), alias="COST")
    cost_currency: Text = Field("", alias="COST_CURRENCY")
    status_code: Text = Field("", alias="STATUS_CODE")
    failed_reason: Text = Field("", alias="FAILED_REASON")
    record_url: Text = Field("", alias="RECORD_URL")
    vote: PhpInt = Field(0, alias="VOTE")
    # ADD_TO_CHAT is accepted and ignored


class ShowHideParams(Params):
    call_id: Text = Field("", alias="CALL_ID")
    user_ids: UserIds = Field([], alias="USER_ID")


class AttachRecordParams(Params):
    call_id: AttachCallId = Field("", alias="CALL_ID")
    filename: PresentStr = Field(None, alias="FILENAME")
    file_content: FileContent = Field(None, alias="FILE_CONTENT")
    record_url: PresentStr = Field(None, alias="RECORD_URL")


class SearchParams(Params):
    phone_number: Text = Field("", alias="PHONE_NUMBER")


class TranscriptionParams(Params):
    call_id: PresentStr = Field(None, alias="CALL_ID")
    # None: not an array (the reference's first check after CALL_ID)
    messages: Array = Field(None, alias="MESSAGES")
    cost: TruthyCost = Field(None, alias="COST")  # only a truthy COST counts
    cost_currency: OptStr = Field(None, alias="COST_CURRENCY")


class LineParams(Params):
    number: Stripped = Field("", alias="NUMBER")
    name: PresentStr = Field(None, alias="NAME")
    crm_auto_create: FlagY = Field(None, alias="CRM_AUTO_CREATE")


class StatisticParams(LegacyParams):
    """voximplant.statistic.get upper-cases its top-level keys."""

    filter: Map = Field({}, alias="FILTER")
    sort: StrippedOrNone = Field(None, alias="SORT")
    order: StrippedOrNone = Field(None, alias="ORDER")
