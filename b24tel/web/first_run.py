"""The dashboard of a portal without calls: how to connect a PBX — a webhook made on the
spot (its URL shown once, with a copy button), the connectors guide — and a test call that
goes the way a connector's does: register, finish, a short generated recording
(docs/ui.md, "Dashboard")."""

from __future__ import annotations

import base64
import io
import math
import struct
import wave

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import RedirectResponse, Response

from b24tel import errors
from b24tel.db.hot import as_tx
from b24tel.identity import Caller
from b24tel.rest.params import ParseContext
from b24tel.services import EndpointCtx
from b24tel.telephony import finish as finishing
from b24tel.telephony import records
from b24tel.telephony import register as registration
from b24tel.telephony.models import Call
from b24tel.telephony.rules import Env
from b24tel.telephony.schemas import FinishParams, RegisterParams
from b24tel.users import service as users
from b24tel.web.render import HEADERS, Viewer, viewer

CONNECTORS_GUIDE = "https://github.com/b24tel/b24tel/blob/main/docs/connectors.md"
PBX_SCOPES = frozenset({"telephony", "crm", "user"})
TEST_NUMBER = "+7 495 000-00-00"
TONE_SECONDS, RATE = 2, 8000


async def no_calls(s: AsyncSession) -> bool:
    """Whether the portal has never had a call (finished or not)."""
    return (await s.scalar(select(Call.id).limit(1))) is None


async def _admin(ctx: EndpointCtx) -> Viewer:
    me = await viewer(ctx)
    if not me.admin:
        raise errors.access_denied("Only administrators connect a PBX")
    return me


async def make_webhook(ctx: EndpointCtx) -> str:
    """A webhook for the PBX, owned by the administrator who asked; its URL (shown once)."""
    me = await _admin(ctx)
    async with ctx.services.db.transaction() as s:
        hook, code = await users.create_webhook(
            s, ctx.services.clock.now(), user_id=me.user_id, scopes=PBX_SCOPES, title="PBX"
        )
    return f"{ctx.services.address.rstrip('/')}/rest/{hook.user_id}/{code}/"


def tone() -> bytes:
    """Two seconds of a 440 Hz tone, 8 kHz mono 16-bit WAV: a real recording to play."""
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / RATE)))
        for i in range(TONE_SECONDS * RATE)
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(frames)
    return out.getvalue()


async def test_call(ctx: EndpointCtx) -> Response:
    """Register, finish and record a call for the administrator, as a webhook connector
    would; then its page."""
    me = await _admin(ctx)
    services, now = ctx.services, ctx.services.clock.now()
    caller = Caller(me.user_id, "webhook", PBX_SCOPES)
    env = Env(caller, now, services.tz, services.settings.phone_region, services)
    context = ParseContext(services.tz, now).mapping()
    async with services.db.transaction() as s:
        registered = await registration.register(await as_tx(s), env, RegisterParams.model_validate(
            {"USER_ID": me.user_id, "PHONE_NUMBER": TEST_NUMBER, "TYPE": 2, "CRM_CREATE": 0},
            context=context))  # fmt: skip
        call_id = registered["CALL_ID"]
        await finishing.finish(s, env, FinishParams.model_validate(
            {"CALL_ID": call_id, "USER_ID": me.user_id, "DURATION": TONE_SECONDS,
             "STATUS_CODE": "200"}, context=context))  # fmt: skip
    stat = await records.statistic_of(services, call_id)
    content = base64.b64encode(tone())
    stored = await services.recordings.from_base64([content], records.folder(services, stat))
    await records.attach(services, call_id, stored, name="test-call.wav", source="content")
    return RedirectResponse(f"/calls/{call_id}", 303, headers=HEADERS)
