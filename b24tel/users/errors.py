"""Errors of identities: the token endpoint's answers (docs/reference/users.md, "OAuth").
Authentication failures of REST calls are the protocol's (``b24tel.errors``)."""

from __future__ import annotations

from b24tel.errors import ApiError


class OAuthError(ApiError):
    """An answer of ``/oauth/token/``: the same JSON shape as every other error."""


def invalid_client() -> OAuthError:
    return OAuthError("invalid_client", "Invalid client credentials", 401)


def invalid_grant(description: str) -> OAuthError:
    return OAuthError("invalid_grant", description, 400)


def invalid_refresh_token() -> OAuthError:
    return invalid_grant("Invalid refresh token")


def invalid_code() -> OAuthError:
    return invalid_grant("Invalid authorization code")


def malformed() -> OAuthError:
    return OAuthError("invalid_request", "Malformed request", 400)


def unsupported_grant() -> OAuthError:
    return OAuthError("invalid_request", "Unsupported grant_type", 400)
