"""What every telephony method shares: who acts (the environment), the user a call is for,
the card shown to users (show/hide) — docs/reference/telephony.md."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from b24tel.db.hot import Tx, as_tx
from b24tel.events.sink import EventSink
from b24tel.identity import Caller
from b24tel.telephony import errors
from b24tel.telephony import repository as repo
from b24tel.telephony.models import WEBHOOK_OWNER
from b24tel.users import lookup as users

# the reference's "incoming" call types: 2 incoming, 3 incoming redirected
INCOMING_TYPES = ("2", "3")


@dataclass(frozen=True)
class Env:
    caller: Caller
    now: dt.datetime
    tz: ZoneInfo
    region: str
    events: EventSink

    @property
    def owner(self) -> int:
        """Calls and lines belong to the calling application; every webhook shares one
        owner."""
        return self.caller.app_id if self.caller.app_id is not None else WEBHOOK_OWNER


async def resolve_user(where: AsyncSession | Tx, user_id: int, inner_digits: str | None) -> int:
    """USER_ID, else the active user with the extension USER_PHONE_INNER; raises when
    neither gives one (a nonexistent USER_ID passes here and fails at ``active_user``)."""
    if user_id == 0 and inner_digits:
        user_id = await users.active_by_inner(where, inner_digits) or 0
    if user_id == 0:
        raise errors.user_not_set()
    return user_id


async def require_active(where: AsyncSession | Tx, user_id: int) -> None:
    if not await users.is_active(where, user_id):
        raise errors.user_inactive()


def new_call_id(env: Env, user_id: int, phone: str) -> str:
    """`externalCall.` + 32 hex digits + `.` + unix seconds, as the reference's ids."""
    seed = f"{env.owner}|{user_id}|{phone}|{uuid.uuid4().hex}|{env.now.timestamp()}"
    return f"externalCall.{hashlib.md5(seed.encode()).hexdigest()}.{int(env.now.timestamp())}"


async def set_card(
    session: AsyncSession, env: Env, call_id: str, user_ids: list[int], state: str
) -> bool:
    """show/hide: the card of an open call, for the users given (default: the call's
    user); False when the call is not open."""
    call = await repo.open_call_row(await as_tx(session), call_id)
    if call is None:
        return False
    await repo.set_card(session, call.call_id, user_ids or [call.user_id], state, env.now)
    return True
