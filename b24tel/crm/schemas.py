"""Params of the CRM methods (docs/reference/crm.md). Legacy methods read their top-level
names in any case (`ID`/`id`, `FIELDS`/`fields`); map parameters that are not arrays are
kept as ``NOT_AN_ARRAY`` so the method refuses them in the reference's order."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator

from b24tel.rest.params import LegacyParams, OptInt, OptStr, PhpMap, UpperNames
from b24tel.wire.php import as_list, opt_str


def _communication_values(raw: Any) -> list[str] | None:
    """crm.duplicate.findbycomm `values`: None when not a non-empty array; else its first
    20 values as text."""
    if not isinstance(raw, list | dict) or not as_list(raw):
        return None
    return [v for v in (opt_str(x) for x in as_list(raw)[:20]) if v]


CommunicationValues = Annotated[list[str] | None, BeforeValidator(_communication_values)]
Upper = Annotated[str, BeforeValidator(lambda v: (opt_str(v) or "").upper())]


class AddParams(LegacyParams):
    fields: PhpMap = {}
    params: PhpMap = {}


class UpdateParams(LegacyParams):
    id: OptInt = None
    fields: PhpMap = {}
    params: PhpMap = {}


class IdParams(LegacyParams):
    id: OptInt = None


class ListParams(LegacyParams):
    filter: PhpMap = {}
    order: PhpMap = {}
    select: UpperNames = []


class FindByCommParams(LegacyParams):
    type: OptStr = None
    values: CommunicationValues = None
    entity_type: Upper = ""


class StatusListParams(LegacyParams):
    filter: PhpMap = {}
    order: PhpMap = {}


class StatusItemsParams(LegacyParams):
    entityId: OptStr = None


class BindingParams(LegacyParams):
    activityId: OptInt = None
    entityTypeId: OptInt = None
    entityId: OptInt = None


class BindingListParams(LegacyParams):
    activityId: OptInt = None


class BindingMoveParams(LegacyParams):
    activityId: OptInt = None
    sourceEntityTypeId: OptInt = None
    sourceEntityId: OptInt = None
    targetEntityTypeId: OptInt = None
    targetEntityId: OptInt = None
