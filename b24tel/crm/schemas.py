"""Params of the CRM methods. Legacy methods read their top-level names in any case."""

from __future__ import annotations

from typing import Any

from b24tel.rest.params import LegacyParams, OptStr


class AddParams(LegacyParams):
    fields: Any = None
    params: Any = None


class UpdateParams(LegacyParams):
    id: Any = None
    fields: Any = None
    params: Any = None


class IdParams(LegacyParams):
    id: Any = None


class ListParams(LegacyParams):
    filter: Any = None
    order: Any = None
    select: Any = None


class FindByCommParams(LegacyParams):
    type: Any = None
    values: Any = None
    entity_type: Any = None


class StatusListParams(LegacyParams):
    filter: Any = None
    order: Any = None


class StatusItemsParams(LegacyParams):
    entityId: OptStr = None


class BindingParams(LegacyParams):
    activityId: Any = None
    entityTypeId: Any = None
    entityId: Any = None


class BindingListParams(LegacyParams):
    activityId: Any = None


class BindingMoveParams(LegacyParams):
    activityId: Any = None
    sourceEntityTypeId: Any = None
    sourceEntityId: Any = None
    targetEntityTypeId: Any = None
    targetEntityId: Any = None
