"""Errors of external telephony, with the reference's literal texts
(docs/reference/telephony.md).

Business errors are HTTP 400 with the code of the `telephony_error_code` setting:
`ERROR_CORE` as the current docs show (default), or `""` as the reference and older portals
send — the methods are registered with that code (``business_code``)."""

from __future__ import annotations

from b24tel.errors import ApiError, BusinessError


def business_code(settings: object) -> str:
    """The code telephony's business errors are sent with."""
    return str(getattr(settings, "telephony_error_code", "ERROR_CORE"))


def user_not_set() -> BusinessError:
    return BusinessError("USER_ID or USER_PHONE_INNER should be set")


def unknown_type() -> BusinessError:
    return BusinessError("Unknown TYPE")


def bad_start_date() -> BusinessError:
    return BusinessError("CALL_START_DATE should be in the ISO-8601 format")


def bad_phone() -> BusinessError:
    return BusinessError("Unsupported phone number format")


def user_inactive() -> BusinessError:
    return BusinessError("User is not found or is not active")


def call_not_found() -> BusinessError:
    # sic: the reference never closes the parenthesis
    return BusinessError("Call is not found (call should be registered prior to finishing")


def call_id_not_string() -> ApiError:
    return ApiError("INVALID_ARGUMENT", "CALL_ID must be a string", 400)


def values_too_long(fields: list[tuple[str, int]]) -> BusinessError:
    """finish's length checks, all at once, before anything is written."""
    problems = "; ".join(
        f'The length of "{title}" should not exceed {limit} characters.' for title, limit in fields
    )
    return BusinessError(f"Unexpected database error; {problems}")


def not_in_statistic() -> BusinessError:
    return BusinessError(
        "Call is not found in the statistic table. Looks like it is not finished yet."
    )


def no_url_or_name() -> BusinessError:
    return BusinessError(
        "Required parameters are not set. Request should contain or URL or FILENAME parameter"
    )


def file_name_empty() -> BusinessError:
    return BusinessError("File name is empty")


def wrong_extension() -> BusinessError:
    return BusinessError("Wrong file extension. Only wav and mp3 are allowed")


def content_empty() -> BusinessError:
    return BusinessError("File content is empty.")


def number_empty() -> BusinessError:
    return BusinessError("NUMBER should not be empty")


def line_exists() -> BusinessError:
    return BusinessError("Line already exists")


def no_fields() -> BusinessError:
    return BusinessError("There are no fields to update")


def line_not_found(number: str) -> BusinessError:
    return BusinessError(f"Could not find line with number {number}")


def phone_empty() -> BusinessError:
    return BusinessError("PHONE_NUMBER is empty")


def call_id_not_set() -> BusinessError:
    return BusinessError("CALL_ID should be set")


def messages_not_array() -> BusinessError:
    return BusinessError("MESSAGES should be an array")


def message_problem(text: str) -> BusinessError:
    """One message of a transcript is wrong (``MESSAGES[0][SIDE] should be …``)."""
    return BusinessError(text)


def transcript_call_not_found(call_id: str) -> BusinessError:
    return BusinessError(f"Call {call_id} is not found. Is it finished?")


def recording_refused(reason: str) -> BusinessError:
    """A recording that cannot be stored: not base64, not audio, not downloadable — the
    reference's text plus our reason."""
    return BusinessError(reason)
