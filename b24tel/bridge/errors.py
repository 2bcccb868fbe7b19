"""What a connector gets when the bridge itself cannot pass a call on."""

from __future__ import annotations

from b24tel.errors import RETRY_AFTER_SECONDS, ApiError


def upstream_unreachable(why: str) -> ApiError:
    """No answer from the portal (docs/bridge.md, "When the portal fails"): retryable, as
    the portal's own 503s are."""
    return ApiError(
        "UPSTREAM_UNAVAILABLE",
        f"The Bitrix24 portal behind this bridge did not answer: {why}; try again in a few seconds",
        503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
