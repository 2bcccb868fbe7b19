"""Finding CRM entities by phone number or e-mail: what a call is matched to, what
searchCrmEntities answers, and crm.duplicate.findbycomm (docs/reference/crm.md,
"Duplicates"; docs/reference/telephony.md, "register")."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, String, bindparam, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel import phones
from b24tel.crm import repository as repo
from b24tel.crm.fields import ENTITIES
from b24tel.crm.models import Multifield
from b24tel.db.hot import Query, Tx, as_tx

# searchCrmEntities groups its answer in this order
SEARCH_ORDER = ("CONTACT", "LEAD", "COMPANY")


def normalized_key(type_id: str, value: str, region: str) -> str:
    """The lookup key of a multifield value: a phone's normal form, an e-mail in lower
    case."""
    if type_id == "PHONE":
        return phones.normalize(value, region) or value.strip()
    return value.strip().lower()


@dataclass(frozen=True)
class Match:
    entity_type: str
    entity_id: int
    assigned_by_id: int | None
    name: str
    active: bool
    date_modify: dt.datetime

    @property
    def owner_type_id(self) -> int:
        return ENTITIES[self.entity_type].owner_type_id


def _display(title: str | None, name: str | None, last_name: str | None) -> str:
    """Companies and deals by their title; people by name, a lead without one by its
    title."""
    person = " ".join(p for p in (name, last_name) if p)
    return person or title or ""


def _owners_of_phone_in(type_name: str) -> Select[Any]:
    """The entities of one type with a phone of this normal form, with what a match
    shows — one index lookup on (type_id, normalized) and one by primary key."""
    model = ENTITIES[type_name].model
    table = model.__table__
    c = table.c
    none = literal(None, String())
    owners = select(Multifield.entity_id).where(
        Multifield.type_id == "PHONE",
        Multifield.normalized == bindparam("key"),
        Multifield.entity_type == type_name,
    )
    return select(
        literal(type_name, String()),
        c.id, c.assigned_by_id,
        c.title if "title" in c else none,
        c.name if "name" in c else none,
        c.last_name if "last_name" in c else none,
        c.status_semantic_id if "status_semantic_id" in c else none,
        c.date_modify,
    ).where(c.id.in_(owners))  # fmt: skip


# contacts, leads and companies in one statement: one round trip on PostgreSQL, not three
# (a register's CPU on both sides of the connection is per statement, docs/benchmarks.md,
# "Request throughput, round three — third part")
_OWNERS_OF_PHONE = Query(union_all(*(_owners_of_phone_in(t) for t in SEARCH_ORDER)))


async def search_phone(where: AsyncSession | Tx, number: str, region: str) -> list[Match]:
    """Every contact, lead and company with this number, grouped CONTACT, LEAD, COMPANY,
    best-ranked first within a group."""
    key = phones.normalize(number, region)
    if key is None:
        return []
    tx = await as_tx(where)
    matches: list[Match] = []
    rows = await tx.rows(_OWNERS_OF_PHONE, key=key)
    for type_name, id_, assigned, title, name, last_name, semantic, modified in rows:
        active = not (type_name == "LEAD" and semantic in ("S", "F"))
        display = _display(title, name, last_name)
        matches.append(Match(type_name, id_, assigned, display, active, modified))
    rank = {t: i for i, t in enumerate(SEARCH_ORDER)}
    matches.sort(
        key=lambda m: (rank[m.entity_type], not m.active, -m.date_modify.timestamp(), -m.entity_id)
    )
    return matches


async def find_by_phone(where: AsyncSession | Tx, number: str, region: str) -> list[Match]:
    """The entities a call from ``number`` is matched to: contacts and companies first,
    leads only when neither matched; one per type (the best-ranked: active, most recently
    modified); primary order contact → lead → company. The first element is the primary
    entity."""
    found = await search_phone(where, number, region)
    best: dict[str, Match] = {}
    for m in found:
        best.setdefault(m.entity_type, m)
    if "CONTACT" in best or "COMPANY" in best:
        best.pop("LEAD", None)
    return [best[t] for t in SEARCH_ORDER if t in best]


async def find_duplicates(
    session: AsyncSession,
    type_id: str,
    values: list[str],
    entity_types: list[str],
    region: str,
) -> dict[str, list[int]]:
    keys = sorted({normalized_key(type_id, v, region) for v in values if v.strip()})
    owners = await repo.owners_by_value(session, type_id, keys, entity_types)
    out: dict[str, list[int]] = {}
    for type_name in ("LEAD", "CONTACT", "COMPANY"):
        ids = sorted({i for t, i in owners if t == type_name})
        if ids:
            out[type_name] = ids
    return out
