"""Params of the telephony methods. Telephony names are case-sensitive upper case
(behavior.md §3); values stay raw where the reference checks them in a particular order."""

from __future__ import annotations

from typing import Any

from b24tel.rest.params import LegacyParams, Params


class RegisterParams(Params):
    USER_ID: Any = None
    USER_PHONE_INNER: Any = None
    PHONE_NUMBER: Any = None
    TYPE: Any = None
    CALL_START_DATE: Any = None
    CRM_CREATE: Any = None
    CRM_SOURCE: Any = None
    CRM_ENTITY_TYPE: Any = None
    CRM_ENTITY_ID: Any = None
    SHOW: Any = None
    ADD_TO_CHAT: Any = None
    CALL_LIST_ID: Any = None
    LINE_NUMBER: Any = None
    EXTERNAL_CALL_ID: Any = None


class FinishParams(Params):
    CALL_ID: Any = None
    USER_ID: Any = None
    USER_PHONE_INNER: Any = None
    DURATION: Any = None
    COST: Any = None
    COST_CURRENCY: Any = None
    STATUS_CODE: Any = None
    FAILED_REASON: Any = None
    RECORD_URL: Any = None
    VOTE: Any = None
    ADD_TO_CHAT: Any = None


class ShowHideParams(Params):
    CALL_ID: Any = None
    USER_ID: Any = None


class AttachRecordParams(Params):
    CALL_ID: Any = None
    FILENAME: Any = None
    FILE_CONTENT: Any = None
    RECORD_URL: Any = None


class SearchParams(Params):
    PHONE_NUMBER: Any = None


class TranscriptionParams(Params):
    CALL_ID: Any = None
    MESSAGES: Any = None
    COST: Any = None
    COST_CURRENCY: Any = None


class LineParams(Params):
    NUMBER: Any = None
    NAME: Any = None
    CRM_AUTO_CREATE: Any = None


class StatisticParams(LegacyParams):
    """voximplant.statistic.get upper-cases its top-level keys (behavior.md §3.9)."""

    FILTER: Any = None
    SORT: Any = None
    ORDER: Any = None
