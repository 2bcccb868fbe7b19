"""Params of the event methods; names in any case, as the reference upper-cases them."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator

from b24tel.rest.params import AnyList, LegacyParams, OptDict, OptInt, OptStr, PhpMap
from b24tel.wire.php import opt_str


def _lower(raw: Any) -> str:
    return (opt_str(raw) or "").strip().lower()


Lower = Annotated[str, BeforeValidator(_lower)]


class BindParams(LegacyParams):
    event: OptStr = None
    handler: OptStr = None
    auth_type: OptInt = None
    event_type: Lower = ""
    auth_connector: OptStr = None
    options: OptDict = None


class EventsParams(LegacyParams):
    scope: OptStr = None
    full: Any = None


class OfflineGetParams(LegacyParams):
    filter: PhpMap = {}
    order: PhpMap = {}
    limit: OptInt = None
    clear: OptInt = None
    process_id: OptStr = None
    auth_connector: OptStr = None
    error: OptInt = None


class OfflineClearParams(LegacyParams):
    process_id: OptStr = None
    id: AnyList = []
    message_id: AnyList = []


class OfflineListParams(LegacyParams):
    filter: PhpMap = {}
    order: PhpMap = {}
    auth_connector: OptStr = None
