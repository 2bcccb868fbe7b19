"""telephony.call.attachTranscription (docs/reference/telephony.md, "attachTranscription"):
a transcript for a finished call; an earlier one stays, unlinked."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from b24tel.telephony import errors
from b24tel.telephony import repository as repo
from b24tel.telephony.models import Transcript, TranscriptLine
from b24tel.telephony.schemas import TranscriptionParams
from b24tel.wire.php import opt_str, php_int

SIDES = ("Client", "User")


def _lines(messages: dict[str, Any] | list[Any]) -> list[dict[str, Any]]:
    items = messages.items() if isinstance(messages, dict) else enumerate(messages)
    out = []
    for key, message in items:
        prefix = f"MESSAGES[{key}]"
        if not isinstance(message, dict):
            # the reference crashes with a bare 500 here; we say what is wrong
            raise errors.message_problem(f"{prefix} should be an array")
        if message.get("SIDE") not in SIDES:
            raise errors.message_problem(f"{prefix}[SIDE] should be either Client or User")
        start, stop = php_int(message.get("START_TIME")), php_int(message.get("STOP_TIME"))
        if start < 0:
            raise errors.message_problem(f"{prefix}[START_TIME] should be greater or equal to zero")
        if stop <= 0:
            raise errors.message_problem(f"{prefix}[STOP_TIME] should be greater than zero")
        text = message.get("MESSAGE")
        if text is None or text == "" or text is False:
            raise errors.message_problem(f"{prefix}[MESSAGE] is empty")
        out.append(
            {
                "side": message["SIDE"],
                "start_time": start,
                "stop_time": stop,
                "message": opt_str(text) or "",
            }
        )
    return out


async def attach_transcription(
    session: AsyncSession, now: dt.datetime, p: TranscriptionParams
) -> dict[str, int]:
    if p.call_id is None:
        raise errors.call_id_not_set()
    if p.messages is None:
        raise errors.messages_not_array()
    lines = _lines(p.messages)
    stat = await repo.statistic(session, p.call_id)
    if stat is None:
        raise errors.transcript_call_not_found(p.call_id)
    transcript = Transcript(
        call_id=p.call_id,
        created_at=now,
        cost=Decimal(str(p.cost)) if p.cost else None,
        cost_currency=p.cost_currency if p.cost else None,
    )
    await repo.add(session, transcript)
    for line in lines:
        session.add(TranscriptLine(transcript_id=transcript.id, **line))
    stat.transcript_id, stat.transcript_pending = transcript.id, "N"
    await session.flush()
    return {"TRANSCRIPT_ID": transcript.id}
