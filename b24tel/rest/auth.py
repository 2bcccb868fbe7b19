"""Resolving the caller: a webhook path, or an OAuth token in ``auth``/``access_token``
(query, form or JSON) or ``Authorization: Bearer`` (behavior.md §4.4)."""

from __future__ import annotations

from typing import Any

from b24tel import errors
from b24tel.rest.context import Caller
from b24tel.services import Services
from b24tel.users import service as users

AUTH_PARAMS = ("auth", "access_token")


def pop_token(params: dict[str, Any], authorization: str | None) -> str | None:
    """Remove the auth parameters from ``params`` (handlers never see them) and return the
    token."""
    token = None
    for name in AUTH_PARAMS:
        value = params.pop(name, None)
        if token is None and isinstance(value, str) and value:
            token = value
    if token is None and authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            token = value.strip()
    return token


async def authenticate(
    services: Services,
    webhook: tuple[str, str] | None,
    token: str | None,
) -> Caller:
    now = services.clock.now()
    async with services.db.transaction(readonly=True) as session:
        if webhook is not None:
            return await users.authenticate_webhook(session, now, *webhook)
        if token:
            return await users.authenticate_token(session, now, token)
    raise errors.no_auth_found()
