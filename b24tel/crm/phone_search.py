"""Finding CRM entities by phone number or e-mail: what a call is matched to, what
searchCrmEntities answers, and crm.duplicate.findbycomm (docs/reference/crm.md,
"Duplicates"; docs/reference/telephony.md, "register")."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from b24tel import phones
from b24tel.crm import repository as repo
from b24tel.crm.fields import ENTITIES
from b24tel.crm.models import Company, CrmRow, Deal, Lead

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


def display_name(obj: CrmRow) -> str:
    if isinstance(obj, Company | Deal):
        return obj.title or ""
    person = " ".join(p for p in (obj.name, obj.last_name) if p)
    return person or (obj.title if isinstance(obj, Lead) else None) or ""


async def search_phone(session: AsyncSession, number: str, region: str) -> list[Match]:
    """Every contact, lead and company with this number, grouped CONTACT, LEAD, COMPANY,
    best-ranked first within a group."""
    key = phones.normalize(number, region)
    if key is None:
        return []
    owners = await repo.owners_by_value(session, "PHONE", [key], SEARCH_ORDER)
    matches: list[Match] = []
    for type_name in SEARCH_ORDER:
        entity = ENTITIES[type_name]
        ids = [i for t, i in owners if t == type_name]
        for obj in await repo.get_many(session, entity, ids):
            active = not (isinstance(obj, Lead) and obj.status_semantic_id in ("S", "F"))
            matches.append(
                Match(
                    type_name,
                    obj.id,
                    obj.assigned_by_id,
                    display_name(obj),
                    active,
                    obj.date_modify,
                )
            )
    rank = {t: i for i, t in enumerate(SEARCH_ORDER)}
    matches.sort(
        key=lambda m: (rank[m.entity_type], not m.active, -m.date_modify.timestamp(), -m.entity_id)
    )
    return matches


async def find_by_phone(session: AsyncSession, number: str, region: str) -> list[Match]:
    """The entities a call from ``number`` is matched to: contacts and companies first,
    leads only when neither matched; one per type (the best-ranked: active, most recently
    modified); primary order contact → lead → company. The first element is the primary
    entity."""
    found = await search_phone(session, number, region)
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
