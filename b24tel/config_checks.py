"""Checks of a whole settings object: each value within its range, the combinations that
work together. Kept apart from the registry (``b24tel.config``) so that it stays a list of
settings."""

from __future__ import annotations

from typing import Protocol

from b24tel.config_values import (
    POSITIVE,
    RATE_LIMIT_PRESETS,
    SettingsError,
    check_storage_url,
    database_driver_url,
    parse_networks,
)


class Checked(Protocol):
    """What the checks read of ``b24tel.config.Settings`` (and, by name, the POSITIVE and
    allowlist settings)."""

    @property
    def database_url(self) -> str: ...
    @property
    def log_format(self) -> str: ...
    @property
    def log_level(self) -> str: ...
    @property
    def phone_region(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def rate_limit(self) -> str: ...
    @property
    def storage_url(self) -> str: ...
    @property
    def timezone(self) -> str: ...
    @property
    def tls_cert(self) -> str: ...
    @property
    def tls_key(self) -> str: ...


LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")


def validate(settings: Checked) -> None:
    """Refuse what cannot work, naming the setting."""
    if settings.rate_limit not in RATE_LIMIT_PRESETS and settings.rate_limit != "custom":
        raise SettingsError(
            f"rate_limit must be one of off, standard, enterprise, custom "
            f"(got {settings.rate_limit!r})"
        )
    for name in POSITIVE:
        if getattr(settings, name) <= 0:
            raise SettingsError(f"{name} must be positive")
    for name in ("recording_retention_days", "recording_max_age_days", "request_deadline"):
        if getattr(settings, name) < 0:
            raise SettingsError(f"{name} must be 0 or more")
    if settings.log_level.lower() not in LOG_LEVELS:
        raise SettingsError(
            f"log_level must be one of {', '.join(LOG_LEVELS)} (got {settings.log_level!r})"
        )
    if settings.log_format not in LOG_FORMATS:
        raise SettingsError(f"log_format must be text or json (got {settings.log_format!r})")
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(settings.timezone)
    except Exception as exc:
        raise SettingsError(f"unknown timezone {settings.timezone!r}") from exc
    import phonenumbers

    if settings.phone_region.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise SettingsError(f"unknown phone_region {settings.phone_region!r}")
    for name in ("record_url_allowlist", "event_handler_allowlist", "trusted_proxies"):
        try:
            parse_networks(getattr(settings, name))
        except ValueError as exc:
            raise SettingsError(f"{name}: {exc}") from exc
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise SettingsError("tls_cert and tls_key must be given together")
    if not 1 <= settings.port <= 65535:
        raise SettingsError(f"port must be between 1 and 65535 (got {settings.port})")
    check_storage_url(settings.storage_url)
    database_driver_url(settings.database_url)  # refuses what it cannot map
