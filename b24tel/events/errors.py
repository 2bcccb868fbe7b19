"""Errors of the event methods (docs/reference/events.md, "event.bind")."""

from __future__ import annotations

from b24tel.errors import ApiError


def event_not_found() -> ApiError:
    return ApiError("ERROR_EVENT_NOT_FOUND", "Event not found", 400)


def argument_empty(name: str) -> ApiError:
    return ApiError("ERROR_ARGUMENT", f"Argument '{name}' is null or empty", 400)


def handler_exists() -> ApiError:
    return ApiError("ERROR_HANDLER_ALREADY_EXIST", "Handler already exists!", 400)


def wrong_handler(reason: str) -> ApiError:
    return ApiError("ERROR_WRONG_HANDLER_URL", f"Wrong handler URL: {reason}", 400)


def offline_needs_admin(action: str = "binding") -> ApiError:
    return ApiError(
        "ACCESS_DENIED",
        f"Access denied! Offline events {action} requires administrator access rights",
        403,
    )


def auth_type_needs_admin(action: str = "binding") -> ApiError:
    return ApiError(
        "ACCESS_DENIED",
        f"Access denied! Event {action} with AUTH_TYPE requires administrator access rights",
        403,
    )


def admin_only() -> ApiError:
    return ApiError("ACCESS_DENIED", "Access denied!", 403)


def process_id_empty() -> ApiError:
    return argument_empty("PROCESS_ID")
