"""telephony.externalCall.searchCrmEntities (docs/reference/telephony.md,
"searchCrmEntities"): the CRM entities with a number, and who is responsible for them."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from b24tel.crm import phone_search
from b24tel.telephony import errors
from b24tel.telephony.rules import Env
from b24tel.users import lookup as users


async def search_crm_entities(session: AsyncSession, env: Env, number: str) -> list[dict[str, Any]]:
    if not number:
        raise errors.phone_empty()
    out = []
    for match in await phone_search.search_phone(session, number, env.region):
        user = await users.user(session, match.assigned_by_id) if match.assigned_by_id else None
        out.append(
            {
                "CRM_ENTITY_TYPE": match.entity_type,
                "CRM_ENTITY_ID": match.entity_id,
                "ASSIGNED_BY_ID": match.assigned_by_id,
                "NAME": match.name,
                "ASSIGNED_BY": {
                    "ID": str(match.assigned_by_id) if match.assigned_by_id else None,
                    # no time tracking module here
                    "TIMEMAN_STATUS": "NOT_INSTALLED",
                    "USER_PHONE_INNER": user.uf_phone_inner if user else None,
                    "WORK_PHONE": (user.work_phone or None) if user else None,
                    "PERSONAL_PHONE": (user.personal_phone or None) if user else None,
                    "PERSONAL_MOBILE": (user.personal_mobile or None) if user else None,
                },
            }
        )
    return out
