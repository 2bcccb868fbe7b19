"""A fault rule as people write it — on the command line, in a TOML file, through the admin
API — checked and turned into a row (docs/integrators.md, "Fault rules")."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from b24tel import errors
from b24tel.faults.models import FaultRule
from b24tel.rest.faults import KINDS
from b24tel.wire.numbers import is_ascii_digits

# the errors the cloud sends, with their statuses and texts, and this server's own retryable
# ones (docs/api/README.md, "Errors")
ERRORS: dict[str, tuple[int, str]] = {
    "DATABASE_UNAVAILABLE": (503, errors.database_unavailable().description),
    "QUERY_LIMIT_EXCEEDED": (503, "Too many requests"),
    "OPERATION_TIME_LIMIT": (503, "Method is blocked due to operation time limit."),
    "expired_token": (401, "The access token provided has expired."),
    "invalid_token": (401, "The access token provided is invalid."),
    "NO_AUTH_FOUND": (401, "Wrong authorization data"),
    "INTERNAL_SERVER_ERROR": (500, "Internal server error"),
    "ACCESS_DENIED": (403, "Access denied!"),
    "insufficient_scope": (403, "The request requires higher privileges than provided."),
    "ERROR_CORE": (400, "An error occurred"),
}
EFFECTS = ("error", "proxy", "latency", "drop", "truncate", "non_json", "event_delay",
           "event_duplicate")  # fmt: skip
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


class RuleError(ValueError):
    """A rule that cannot work, said in one line."""


def seconds(text: str) -> float:
    """``500ms``, ``2s``, ``10m``, ``1h``; a bare number is seconds."""
    match = _DURATION.match(str(text))
    if not match:
        raise RuleError(f"not a duration: {text!r} (say 500ms, 2s, 10m or 1h)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def milliseconds_range(text: str) -> tuple[float, float]:
    """``300`` or ``200-800`` (milliseconds; units allowed: ``1s-3s``)."""
    low, sep, high = str(text).partition("-")

    def ms(part: str) -> float:
        part = part.strip()
        return float(part) if is_ascii_digits(part.replace(".", "", 1)) else seconds(part) * 1000

    first = ms(low)
    last = ms(high) if sep else first
    if first < 0 or last < first:
        raise RuleError(f"not a latency: {text!r} (say 300 or 200-800, in milliseconds)")
    return first, last


class RuleSpec(BaseModel):
    """The fields of a rule; exactly one effect."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    method: str = "*"
    caller: str = ""
    kind: str = ""
    param: str = ""  # NAME=VALUE
    error: str | None = None
    status: int | None = None
    description: str | None = None
    proxy: int | None = None
    latency: str | int | float | None = None
    drop: bool = False
    truncate: bool = False
    non_json: bool = False
    delay_event: str | int | float | None = None
    duplicate_event: bool = False
    times: int | None = Field(None, ge=1)
    after: int = Field(0, ge=0)
    probability: float | None = Field(None, gt=0, le=1)
    seed: int | None = None
    for_: str | None = Field(None, alias="for")
    from_: dt.datetime | None = Field(None, alias="from")
    until: dt.datetime | None = None

    @model_validator(mode="after")
    def _one_effect(self) -> RuleSpec:
        chosen = [name for name in EFFECTS if self._has(name)]
        if len(chosen) != 1:
            raise ValueError(
                "give exactly one effect: error, proxy, latency, drop, truncate, non_json, "
                f"delay_event or duplicate_event (got {', '.join(chosen) or 'none'})"
            )
        if self.kind and self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        if self.proxy is not None and self.proxy not in (502, 503, 504):
            raise ValueError("proxy must be 502, 503 or 504")
        if self.param and "=" not in self.param:
            raise ValueError("param must be NAME=VALUE")
        return self

    def _has(self, name: str) -> bool:
        value = {"error": self.error, "proxy": self.proxy, "latency": self.latency,
                 "event_delay": self.delay_event}.get(name)  # fmt: skip
        if name in ("drop", "truncate", "non_json", "event_duplicate"):
            return bool(getattr(self, name if name != "event_duplicate" else "duplicate_event"))
        return value is not None

    def row(self, now: dt.datetime, source: str) -> FaultRule:
        effect = next(name for name in EFFECTS if self._has(name))
        kind = self.kind
        if effect.startswith("event_"):
            if kind not in ("", "event"):
                raise RuleError(f"{effect} applies to event deliveries (kind event), not {kind}")
            kind = "event"
        elif kind == "event" and effect != "latency":
            raise RuleError("event deliveries can only be delayed or duplicated")
        code, status, description = "", 0, ""
        if effect == "error":
            code = self.error or ""
            known = ERRORS.get(code, (400, code))
            status = self.status or known[0]
            description = self.description if self.description is not None else known[1]
        elif effect == "proxy":
            status = self.proxy or 502
        low = high = 0.0
        if effect in ("latency", "event_delay"):
            low, high = milliseconds_range(str(self.latency or self.delay_event))
        name, _, value = self.param.partition("=")
        starts = self.from_
        ends = self.until or (now + dt.timedelta(seconds=seconds(self.for_)) if self.for_ else None)
        if self.for_ and starts is None:
            starts = now
        return FaultRule(
            method=self.method or "*", caller=self.caller, kind=kind, param=name.strip(),
            value=value.strip(), effect=effect, code=code, status=status,
            description=description, latency_min_ms=low, latency_max_ms=high,
            probability=self.probability, seed=self.seed, times=self.times, after=self.after,
            starts_at=_aware(starts), ends_at=_aware(ends), matched=0, fired=0, source=source,
            created_at=now,
        )  # fmt: skip


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def parse(data: dict[str, Any], now: dt.datetime, source: str) -> FaultRule:
    """A rule row from its fields, or RuleError saying what is wrong."""
    try:
        return RuleSpec.model_validate(data).row(now, source)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        raise RuleError(f"{where + ': ' if where else ''}{message}") from exc


def describe(rule: FaultRule) -> dict[str, Any]:
    """A rule as the list and the admin API show it."""
    when = []
    if rule.times is not None:
        when.append(f"the next {rule.times}")
    if rule.after:
        when.append(f"after the first {rule.after}")
    if rule.probability is not None:
        when.append(
            f"p={rule.probability:g}" + (f" seed={rule.seed}" if rule.seed is not None else "")
        )
    if rule.starts_at or rule.ends_at:
        when.append(f"{_iso(rule.starts_at) or '…'} to {_iso(rule.ends_at) or '…'}")
    return {
        "id": rule.id, "method": rule.method, "caller": rule.caller, "kind": rule.kind,
        "param": f"{rule.param}={rule.value}" if rule.param else "", "effect": rule.effect,
        "code": rule.code, "status": rule.status, "description": rule.description,
        "latency_ms": [rule.latency_min_ms, rule.latency_max_ms]
        if rule.effect in ("latency", "event_delay") else None,
        "when": ", ".join(when) or "always", "matched": rule.matched, "fired": rule.fired,
        "source": rule.source,
    }  # fmt: skip


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None
