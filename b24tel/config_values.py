"""How setting values are read and checked: URLs, networks, booleans and numbers from text.
Separate from the registry (``b24tel.config``) so that it stays a list of settings."""

from __future__ import annotations

import functools
import importlib.util
import ipaddress
import os
import tomllib
from dataclasses import field
from pathlib import Path
from typing import Any

# settings that must be above zero
POSITIVE = (
    "max_body_size",
    "max_request_head",
    "max_unauthenticated_body",
    "max_input_vars",
    "max_input_nesting",
    "event_timeout",
    "event_retry_initial",
    "event_retry_max",
    "event_concurrency",
    "event_handler_concurrency",
    "event_breaker_failures",
    "event_breaker_cooldown",
    "event_poll_interval",
    "journal_max_entries",
    "journal_max_age_days",
    "maintenance_interval",
    "database_connect_timeout",
    "database_statement_timeout",
    "database_pool_timeout",
    "upstream_timeout",
    "upstream_rate",
    "bridge_card_max_age",
)


# The cloud's documented leaky-bucket numbers (docs/reference/protocol.md, "Limits").
RATE_LIMIT_PRESETS: dict[str, tuple[int, float] | None] = {
    "off": None,
    "standard": (50, 2.0),
    "enterprise": (250, 5.0),
}


class SettingsError(ValueError):
    """A setting has a value of the wrong type or outside its allowed range."""


# asyncio drivers for the URLs users copy from their hosting panels
_DRIVERS = {
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
    "postgresql+psycopg": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}


def database_driver_url(url: str) -> str:
    """``url`` with the asyncio driver this server uses (``postgresql://`` →
    ``postgresql+asyncpg://``)."""
    if not url:
        return url
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in _DRIVERS:
        raise SettingsError(
            "database_url must start with postgresql:// (or postgresql+asyncpg://) or "
            f"sqlite:/// (got {scheme + sep!r})"
        )
    return f"{_DRIVERS[scheme.lower()]}://{rest}"


# S3 support is an optional install (boto3 is large and most single-box installs never use it)
S3_EXTRA_MISSING = "storage_url s3://… needs the S3 extra: pip install 'b24tel[s3]'"


def check_storage_url(url: str) -> None:
    if not url:
        return
    scheme, sep, rest = url.partition("://")
    if sep and scheme == "file" and rest.strip("/"):
        return
    if sep and scheme == "s3" and rest.split("/", 1)[0]:
        if importlib.util.find_spec("boto3") is None:
            raise SettingsError(S3_EXTRA_MISSING)
        return
    raise SettingsError(f"storage_url must be file:///path or s3://bucket/prefix (got {url!r})")


def parse_networks(text: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Comma-separated CIDR networks (``record_url_allowlist``)."""
    networks = []
    for part in (p.strip() for p in text.split(",")):
        if part:
            networks.append(ipaddress.ip_network(part, strict=False))
    return networks


_TRUE = {"1", "true", "yes", "on", "y"}
_FALSE = {"0", "false", "no", "off", "n", ""}


def coerce(name: str, kind: Any, value: Any) -> Any:
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError(value)
        if kind is int:
            if isinstance(value, bool):
                raise ValueError(value)
            return int(value)
        if kind is float:
            return float(value)
        return str(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"setting {name}: cannot read {value!r} as {kind.__name__}") from exc


@functools.lru_cache(maxsize=16)
def resolved_dir(data_dir: str) -> Path:
    """The data directory as an absolute path, resolved once: requests ask for it often
    (the spool directory) and resolving walks the file system."""
    return Path(data_dir).resolve()


@functools.lru_cache(maxsize=16)
def spool_dir(data_dir: str) -> Path:
    """Where request bodies and staged uploads too large for memory are written; one object
    per directory: every REST request names it."""
    return resolved_dir(data_dir) / "tmp"


def read_sources(
    names: set[str], prefix: str, env: dict[str, str], config_file: str | os.PathLike[str] | None
) -> dict[str, Any]:
    """Raw values of the settings ``names`` from the TOML file (its path given, or in
    ``<prefix>CONFIG``) and then the environment (``<prefix>NAME``), the later winning."""
    values: dict[str, Any] = {}
    config_file = config_file or env.get(prefix + "CONFIG") or None
    if config_file:
        try:
            with open(config_file, "rb") as fh:
                data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{config_file}: not valid TOML: {exc}") from exc
        except OSError as exc:
            raise SettingsError(f"cannot read {config_file}: {exc.strerror}") from exc
        for key, value in data.items():
            name = key.lower().removeprefix(prefix.lower())
            if name not in names:
                raise SettingsError(f"{config_file}: unknown setting {key!r}")
            values[name] = value
    for name in names:
        if prefix + name.upper() in env:
            values[name] = env[prefix + name.upper()]
    return values


def setting(default: Any, help: str, *, example: str | None = None) -> Any:
    """A setting's default and its documentation (``docs/configuration.md`` is made from
    them)."""
    return field(default=default, metadata={"help": help, "example": example})
