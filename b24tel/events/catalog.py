"""The events this server raises, the scope an application needs to bind each, and which
only an application may bind (docs/reference/events.md, "Events")."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EventDef:
    name: str
    scope: str
    # only an application can receive it (never an outgoing webhook), and only the
    # application that owns the line (ONEXTERNALCALL*)
    app_only: bool = False


def _defs() -> dict[str, EventDef]:
    defs = [
        EventDef("ONAPPINSTALL", "basic", app_only=True),
        EventDef("ONAPPUNINSTALL", "basic", app_only=True),
        EventDef("ONOFFLINEEVENT", "basic", app_only=True),
        EventDef("ONEXTERNALCALLSTART", "telephony", app_only=True),
        EventDef("ONEXTERNALCALLBACKSTART", "telephony", app_only=True),
        EventDef("ONVOXIMPLANTCALLINIT", "telephony"),
        EventDef("ONVOXIMPLANTCALLSTART", "telephony"),
        EventDef("ONVOXIMPLANTCALLEND", "telephony"),
    ]
    for entity in ("LEAD", "DEAL", "COMPANY", "CONTACT", "ACTIVITY"):
        defs += [EventDef(f"ONCRM{entity}{act}", "crm") for act in ("ADD", "UPDATE", "DELETE")]
    return {d.name: d for d in defs}


EVENTS = _defs()


def find(name: str) -> EventDef | None:
    return EVENTS.get(name.strip().upper())


def available(scopes: frozenset[str]) -> list[str]:
    """Events an application with these scopes may bind."""
    return [d.name for d in EVENTS.values() if d.scope == "basic" or d.scope in scopes]


def of_scope(scope: str) -> list[str]:
    return [d.name for d in EVENTS.values() if d.scope == scope.strip().lower()]
