"""Errors that carry their wire code, HTTP status and description.

Every failure a client can see is an ``ApiError``; ``rest.envelope.render_error`` is the only
place that turns one into a response.
"""

from __future__ import annotations

from typing import Any


def causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception behind it (``__cause__``, ``__context__``, a driver
    error's ``orig``), each once: what classifies a failure looks at all of them."""
    seen: list[BaseException] = []
    stack = [exc]
    while stack:
        item = stack.pop()
        if any(item is s for s in seen):
            continue
        seen.append(item)
        for nxt in (item.__cause__, item.__context__, getattr(item, "orig", None)):
            if isinstance(nxt, BaseException):
                stack.append(nxt)
    return seen


class ApiError(Exception):
    def __init__(
        self,
        code: str,
        description: str,
        status: int = 400,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.status = status
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "error_description": self.description, **self.extra}


class BusinessError(ApiError):
    """A plain business error: the method's message, HTTP 400, and the method's business
    code — empty for the legacy CRM as for the reference, the `telephony_error_code`
    setting for telephony (docs/reference/protocol.md, "Errors"). The pipeline fills in the
    code of the method that raised it."""

    def __init__(self, description: str) -> None:
        super().__init__("", description, 400)


def business_error(message: str) -> BusinessError:
    return BusinessError(message)


# --- system errors (docs/reference/protocol.md, "Errors") -----------------------


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


def link_denied() -> ApiError:
    return ApiError("ACCESS_DENIED", "Access denied! Link check failed", 403)


def link_expired() -> ApiError:
    return ApiError("LINK_EXPIRED", "The link has expired; request a new one", 400)


def verb_not_allowed(verbs: frozenset[str]) -> ApiError:
    return ApiError("METHOD_NOT_ALLOWED", f"Use {', '.join(sorted(verbs))}", 405)


def not_signed_in() -> ApiError:
    """A page asked for without a valid session (pages answer with the sign-in form)."""
    return ApiError("NOT_SIGNED_IN", "Sign in to see this page", 401)


def csrf_refused() -> ApiError:
    return ApiError(
        "CSRF_TOKEN_INVALID", "The form is out of date or was not sent by this site", 403
    )


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


def internal_error(request_id: str = "") -> ApiError:
    """What an unexpected exception becomes: the reference's code for a failure inside the
    portal, and the request id that finds the traceback in the server log."""
    text = "Internal server error"
    if request_id:
        text += f"; request id {request_id}"
    extra = {"request_id": request_id} if request_id else None
    return ApiError("ERROR_CORE", text, 500, extra)


# --- refusals of the request itself (limits and malformed input) -----------------------------


def head_too_large(limit: int) -> ApiError:
    """The request line and headers past ``max_request_head`` (b24tel.httpserver)."""
    return invalid_request(
        f"The request line and headers are longer than {limit} bytes (max_request_head)", 431
    )


def invalid_request(description: str, status: int = 400) -> ApiError:
    return ApiError("INVALID_REQUEST", description, status)


def too_many_params(limit: int) -> ApiError:
    return invalid_request(f"The request has more than {limit} parameters (max_input_vars)")


def too_deep(limit: int) -> ApiError:
    return invalid_request(f"Parameters are nested deeper than {limit} levels (max_input_nesting)")


def nul_in_value() -> ApiError:
    return invalid_request("Parameter values must not contain NUL characters")


def value_too_long(field: str, limit: int) -> ApiError:
    return ApiError(
        "INVALID_ARGUMENT", f'The length of "{field}" should not exceed {limit} characters.', 400
    )


def value_out_of_range(field: str) -> ApiError:
    return ApiError("INVALID_ARGUMENT", f'The value of "{field}" is out of range.', 400)


def file_not_expected(name: str) -> ApiError:
    return invalid_request(f"Parameter {name} is a file upload; a text value is expected")


def credentials_not_found_in(limit: int) -> ApiError:
    return ApiError(
        "REQUEST_ENTITY_TOO_LARGE",
        f"A request body over {limit} bytes must carry its credentials in the URL (webhook "
        "path or ?auth=) or an Authorization header, or an auth parameter near its start",
        413,
    )


# how soon a client should try again after a 503 of our own (not a rate limit): an outage of
# the database is typically a restart or a fail-over, seconds long
RETRY_AFTER_SECONDS = 5


def database_unavailable() -> ApiError:
    """The database could not be reached or did not answer in time: an expected condition
    (a restart, a fail-over), not a failure of the request — the unit of work was rolled
    back, so the client may send the same request again (docs/api/README.md, "Errors").
    Only a commit the database had received before it stopped answering can have been
    done after all: nobody can know that until it answers again."""
    return ApiError(
        "DATABASE_UNAVAILABLE",
        "The portal's database is unavailable; try again in a few seconds",
        503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def database_away(exc: BaseException) -> bool:
    """Whether ``exc`` is ``database_unavailable``: background loops stay quiet about it,
    the database's own log lines say it once (``b24tel.db.outage``)."""
    return isinstance(exc, ApiError) and exc.code == "DATABASE_UNAVAILABLE"


def request_timeout(seconds: float) -> ApiError:
    """The request did not finish within ``request_deadline``; its work was rolled back."""
    return ApiError(
        "REQUEST_TIMEOUT",
        f"The request did not finish within {seconds:g} s (request_deadline); "
        "try again in a few seconds",
        503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def insufficient_storage() -> ApiError:
    return ApiError(
        "INSUFFICIENT_STORAGE",
        "The server has no disk space left for this request; nothing was changed, try again later",
        507,
    )


def argument_error(message: str, argument: str) -> ApiError:
    return ApiError("ERROR_ARGUMENT", message, 400, {"argument": argument})
