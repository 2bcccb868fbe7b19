"""Telephony error texts (behavior.md §3, the RU/literal strings).

Business errors go out with HTTP 400 and the code of the `telephony_error_code` setting:
`ERROR_CORE` as the 2026 docs show (default), or `""` as the reference and older portals
send (behavior.md §1 item 1)."""

from __future__ import annotations

from b24tel.errors import ApiError

USER_NOT_SET = "USER_ID or USER_PHONE_INNER should be set"
UNKNOWN_TYPE = "Unknown TYPE"
BAD_START_DATE = "CALL_START_DATE should be in the ISO-8601 format"
BAD_PHONE = "Unsupported phone number format"
USER_INACTIVE = "User is not found or is not active"
CALL_NOT_FOUND = "Call is not found (call should be registered prior to finishing"
NOT_IN_STATISTIC = "Call is not found in the statistic table. Looks like it is not finished yet."
NO_URL_OR_NAME = (
    "Required parameters are not set. Request should contain or URL or FILENAME parameter"
)
FILE_NAME_EMPTY = "File name is empty"
WRONG_EXTENSION = "Wrong file extension. Only wav and mp3 are allowed"
CONTENT_EMPTY = "File content is empty."
NUMBER_EMPTY = "NUMBER should not be empty"
LINE_EXISTS = "Line already exists"
NO_FIELDS = "There are no fields to update"
PHONE_EMPTY = "PHONE_NUMBER is empty"
CALL_ID_NOT_SET = "CALL_ID should be set"
MESSAGES_NOT_ARRAY = "MESSAGES should be an array"


def line_not_found(number: str) -> str:
    return f"Could not find line with number {number}"


def transcript_call_not_found(call_id: str) -> str:
    return f"Call {call_id} is not found. Is it finished?"


def too_long(title: str, limit: int) -> str:
    return (
        f'Unexpected database error; The length of "{title}" should not exceed {limit} characters.'
    )


class Errors:
    """Builds telephony errors with the configured code."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __call__(self, message: str) -> ApiError:
        return ApiError(self.code, message, 400)

    @staticmethod
    def call_id_type() -> ApiError:
        return ApiError("INVALID_ARGUMENT", "CALL_ID must be a string", 400)
