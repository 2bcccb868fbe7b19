"""Errors that carry their wire code, HTTP status and description.

Every failure a client can see is an ``ApiError``; ``rest.envelope.render_error`` is the only
place that turns one into a response.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    def __init__(
        self,
        code: str,
        description: str,
        status: int = 400,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.status = status
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "error_description": self.description, **self.extra}


def business_error(message: str) -> ApiError:
    """A plain module error: the reference sends it with an empty code and HTTP 400
    (behavior.md §4.5)."""
    return ApiError("", message, 400)


# --- system errors (protocol.md §1.5, behavior.md §4.4–4.5) ---------------------------------


def method_not_found() -> ApiError:
    return ApiError("ERROR_METHOD_NOT_FOUND", "Method not found!", 404)


def no_auth_found() -> ApiError:
    return ApiError("NO_AUTH_FOUND", "Wrong authorization data", 401)


def invalid_credentials() -> ApiError:
    return ApiError("INVALID_CREDENTIALS", "Invalid request credentials", 401)


def expired_token() -> ApiError:
    return ApiError("expired_token", "The access token provided has expired.", 401)


def invalid_token() -> ApiError:
    return ApiError("invalid_token", "The access token provided is invalid.", 401)


def insufficient_scope(description: str | None = None) -> ApiError:
    if description is None:
        description = "The request requires higher privileges than provided by the webhook token"
    return ApiError("insufficient_scope", description, 403)


def access_denied(detail: str | None = None, status: int = 403) -> ApiError:
    text = "Access denied!" if not detail else f"Access denied! {detail}"
    return ApiError("ACCESS_DENIED", text, status)


def wrong_auth_type() -> ApiError:
    return ApiError("WRONG_AUTH_TYPE", "Current authorization type is denied for this method", 403)


def query_limit_exceeded() -> ApiError:
    return ApiError("QUERY_LIMIT_EXCEEDED", "Too many requests", 503)


def operation_time_limit() -> ApiError:
    return ApiError("OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit.", 429)


def batch_length_exceeded() -> ApiError:
    return ApiError("ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded", 400)


def batch_method_not_allowed() -> ApiError:
    return ApiError("ERROR_BATCH_METHOD_NOT_ALLOWED", "Method is not allowed for batch usage", 405)


def body_too_large(limit: int) -> ApiError:
    return ApiError(
        "REQUEST_ENTITY_TOO_LARGE",
        f"Request body exceeds the limit of {limit} bytes",
        413,
    )


def internal_error() -> ApiError:
    return ApiError("INTERNAL_SERVER_ERROR", "Internal server error", 500)


def argument_error(message: str, argument: str) -> ApiError:
    return ApiError("ERROR_ARGUMENT", message, 400, {"argument": argument})
