"""telephony.externalCall.attachRecord (docs/reference/telephony.md, "attachRecord"): base64
content, a RECORD_URL the server downloads once, or an upload URL for the two-step upload.

All three put the bytes through the recording store (streamed, inspected) and then, in one
transaction, point the statistic row and the call activity at the new file; the replaced
file stays as an earlier version."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from b24tel.crm import calls as crm_calls
from b24tel.errors import link_denied
from b24tel.events.sink import crm_changed
from b24tel.identity import Caller
from b24tel.recordings.errors import FetchError, IngestError, NotARecording
from b24tel.recordings.fetcher import file_name_from_url
from b24tel.recordings.service import StoredRecording, folder_of
from b24tel.rest.spool import LargeValue
from b24tel.services import Ctx, Services
from b24tel.telephony import errors
from b24tel.telephony import repository as repo
from b24tel.telephony.models import Statistic
from b24tel.telephony.schemas import AttachRecordParams
from b24tel.wire import links

# FILE_CONTENT (and the base64 half of a [name, base64] pair) may be streamed from the body
LAZY = frozenset({("FILE_CONTENT",), ("FILE_CONTENT", 1)})
UPLOAD_PREFIX = "telephony|"
FORMATS = ("wav", "mp3")


def extension(name: str) -> str:
    """Text after the last dot of the base name, case kept (the check is case-sensitive)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[1] if "." in base else ""


async def statistic_of(services: Services, call_id: str) -> Statistic:
    async with services.db.hot(readonly=True) as tx:
        stat = await repo.statistic_row(tx, call_id)
    if stat is None:
        raise errors.not_in_statistic()
    return stat


async def attach(
    services: Services,
    call_id: str,
    stored: StoredRecording,
    *,
    name: str,
    source: str,
    url: str | None = None,
) -> int:
    """Commit the file and point the call at it; undo the store when that fails."""
    store = services.recordings
    try:
        async with services.db.hot() as tx:
            stat = await repo.statistic_row(tx, call_id, lock=True)
            if stat is None:
                raise errors.not_in_statistic()
            row = await store.add_file(
                tx,
                stored,
                name=name,
                owner_id=stat.portal_user_id,
                folder=stored.key.split("/", 1)[0],
                call_id=call_id,
                source=source,
                source_url=url,
            )
            await store.mark_replaced(tx, stat.record_file_id, row)
            await tx.run(repo.STAT_RECORD, record_file_id=row.id, call_record_url=url, by=stat.id)
            activity_id = await crm_calls.set_recording(tx, stat.crm_activity_id, call_id, row.id)
            if activity_id is not None:
                await crm_changed(services, tx, "ACTIVITY", "UPDATE", activity_id,
                                  stat.portal_user_id)  # fmt: skip
            return row.id
    except BaseException:
        await store.discard(stored)
        raise


def folder(services: Services, stat: Statistic) -> str:
    return folder_of(stat.call_start_date, services.tz)


async def attach_record(ctx: Ctx, p: AttachRecordParams) -> dict[str, Any]:
    services = ctx.services
    if p.record_url is not None:
        return await attach_record_url(services, p.call_id, p.record_url, p.filename or "")
    if p.filename is None:
        raise errors.no_url_or_name()
    stat = await statistic_of(services, p.call_id)
    if p.file_content is None:
        return {"uploadUrl": upload_url(ctx, stat.call_id), "fieldName": "file"}
    if not p.filename:
        raise errors.file_name_empty()
    if extension(p.filename) not in FORMATS:
        raise errors.wrong_extension()
    chunks: Iterable[bytes]
    if isinstance(p.file_content, LargeValue):
        chunks = p.file_content.iter_bytes()
    else:
        if p.file_content in ("", "false"):
            raise errors.content_empty()
        chunks = [p.file_content.encode("utf-8", "replace")]
    try:
        stored = await services.recordings.from_base64(chunks, folder(services, stat))
    except (IngestError, NotARecording) as exc:
        raise errors.recording_refused(str(exc)) from exc
    file_id = await attach(services, stat.call_id, stored, name=p.filename, source="content")
    return {"FILE_ID": file_id}


async def attach_record_url(
    services: Services, call_id: str, url: str, filename: str = ""
) -> dict[str, Any]:
    stat = await statistic_of(services, call_id)
    name = (
        filename.replace("\\", "/").rsplit("/", 1)[-1]
        or file_name_from_url(url)
        or url.split("?", 1)[0]
    )
    where = folder(services, stat)
    try:
        stored = await services.fetcher.fetch_into(
            url, lambda chunks: services.recordings.from_stream(chunks, where)
        )
    except (FetchError, IngestError, NotARecording) as exc:
        raise errors.recording_refused(str(exc)) from exc
    file_id = await attach(
        services, stat.call_id, stored, name=name or "record.mp3", source="url", url=url
    )
    return {"FILE_ID": file_id}


# --- upload URLs ----------------------------------------------------------------------------


def binding(caller: Caller) -> dict[str, Any]:
    """Who may use an upload link: the same webhook, or the same application and user."""
    if caller.kind == "webhook":
        return {"k": "w", "w": caller.webhook_id}
    return {"k": "o", "a": caller.app_id, "u": caller.user_id}


def upload_url(ctx: Ctx, call_id: str) -> str:
    """The reference's URL shapes, with our signed, expiring token."""
    services = ctx.services
    claims = {
        "c": call_id,
        "exp": int(services.clock.time()) + services.settings.upload_url_ttl,
        **binding(ctx.caller),
    }
    token = UPLOAD_PREFIX + links.sign(services.secret, "upload", claims)
    return upload_link(ctx.caller, ctx.rest_url, token)


def upload_link(caller: Caller, rest_url: str, token: str) -> str:
    """An upload link of the reference's shape for this caller (a bridge hands these out
    in place of the portal's too)."""
    token = quote(token, safe="|")
    if caller.kind == "webhook":
        user, code = caller.auth_values
        return f"{rest_url}{user}/{code}/upload/?token={token}"
    return f"{rest_url}upload.json?auth={quote(caller.auth_values[0])}&token={token}"


def check_upload_token(services: Services, caller: Caller, token: str) -> str:
    """The call the token grants an upload to; ACCESS_DENIED for a foreign or forged token,
    LINK_EXPIRED for an old one."""
    claims = links.verify(
        services.secret, "upload", token.removeprefix(UPLOAD_PREFIX), services.clock.time()
    )
    if any(claims.get(k) != v for k, v in binding(caller).items()) or not claims.get("c"):
        raise link_denied()
    return str(claims["c"])
