"""telephony.externalCall.attachRecord and its two-step upload (behavior.md §3.3, §3.4).

All three modes put the bytes through the recording store (streamed, inspected) and then,
in one transaction, point the statistic row and the call activity at the new file; the
replaced file stays as an earlier version."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from b24tel.crm import activity_service
from b24tel.recordings import links
from b24tel.recordings.audio import NotARecording
from b24tel.recordings.fetcher import FetchError, file_name_from_url
from b24tel.recordings.ingest import IngestError
from b24tel.recordings.service import StoredRecording, folder_of
from b24tel.rest.context import CallContext, Caller
from b24tel.rest.params import opt_str
from b24tel.rest.spool import LargeValue
from b24tel.services import Services
from b24tel.telephony import errors as texts
from b24tel.telephony import repository as repo
from b24tel.telephony.errors import Errors
from b24tel.telephony.models import Statistic
from b24tel.telephony.service import Env

# FILE_CONTENT (and the base64 half of a [name, base64] pair) may be streamed from the body
LAZY = frozenset({("FILE_CONTENT",), ("FILE_CONTENT", 1)})
UPLOAD_PREFIX = "telephony|"


def extension(name: str) -> str:
    """Text after the last dot of the base name, case kept (the check is case-sensitive)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[1] if "." in base else ""


async def statistic_of(services: Services, errors: Errors, call_id: str) -> Statistic:
    async with services.db.transaction(readonly=True) as s:
        stat = await repo.statistic(s, call_id)
    if stat is None:
        raise errors(texts.NOT_IN_STATISTIC)
    return stat


async def attach(
    services: Services,
    errors: Errors,
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
        async with services.db.transaction() as s:
            stat = await repo.statistic(s, call_id, lock=True)
            if stat is None:
                raise errors(texts.NOT_IN_STATISTIC)
            row = await store.add_file(
                s,
                stored,
                name=name,
                owner_id=stat.portal_user_id,
                folder=stored.key.split("/", 1)[0],
                call_id=call_id,
                source=source,
                source_url=url,
            )
            await store.mark_replaced(s, stat.record_file_id, row)
            stat.record_file_id, stat.call_record_url = row.id, url
            await activity_service.set_recording(s, stat.crm_activity_id, call_id, row.id)
            return row.id
    except BaseException:
        await store.discard(stored)
        raise


def _folder(services: Services, stat: Statistic) -> str:
    return folder_of(stat.call_start_date, services.tz)


async def attach_record(ctx: CallContext, env: Env, p: Any) -> dict[str, Any]:
    services, errors = ctx.services, env.errors
    call_id = opt_str(p.CALL_ID) if isinstance(p.CALL_ID, str | int) else ""
    if p.RECORD_URL is not None:
        return await attach_record_url(
            services, errors, call_id or "", opt_str(p.RECORD_URL) or "", opt_str(p.FILENAME) or ""
        )
    if p.FILENAME is None:
        raise errors(texts.NO_URL_OR_NAME)
    stat = await statistic_of(services, errors, call_id or "")
    if p.FILE_CONTENT is None:
        return {"uploadUrl": upload_url(ctx, stat.call_id), "fieldName": "file"}
    filename = opt_str(p.FILENAME) or ""
    if not filename:
        raise errors(texts.FILE_NAME_EMPTY)
    if extension(filename) not in ("wav", "mp3"):
        raise errors(texts.WRONG_EXTENSION)
    content = p.FILE_CONTENT
    if isinstance(content, list | dict):  # [name, base64]: the pair's name is only a temp name
        values = list(content.values()) if isinstance(content, dict) else content
        content = values[1] if len(values) > 1 else None
    if isinstance(content, LargeValue):
        chunks: Any = content.iter_bytes()
    else:
        text = opt_str(content) or ""
        if text in ("", "false"):
            raise errors(texts.CONTENT_EMPTY)
        chunks = [text.encode("utf-8", "replace")]
    try:
        stored = await services.recordings.from_base64(chunks, _folder(services, stat))
    except (IngestError, NotARecording) as exc:
        raise errors(str(exc)) from exc
    file_id = await attach(services, errors, stat.call_id, stored, name=filename, source="content")
    return {"FILE_ID": file_id}


async def attach_record_url(
    services: Services, errors: Errors, call_id: str, url: str, filename: str = ""
) -> dict[str, Any]:
    stat = await statistic_of(services, errors, call_id)
    name = (
        filename.replace("\\", "/").rsplit("/", 1)[-1]
        or file_name_from_url(url)
        or url.split("?", 1)[0]
    )
    folder = _folder(services, stat)
    try:
        stored = await services.fetcher.fetch_into(
            url, lambda chunks: services.recordings.from_stream(chunks, folder)
        )
    except (FetchError, IngestError, NotARecording) as exc:
        raise errors(str(exc)) from exc
    file_id = await attach(
        services, errors, stat.call_id, stored, name=name or "record.mp3", source="url", url=url
    )
    return {"FILE_ID": file_id}


# --- upload URLs ----------------------------------------------------------------------------


def _binding(caller: Caller) -> dict[str, Any]:
    """Who may use an upload link: the same webhook, or the same application and user."""
    if caller.kind == "webhook":
        return {"k": "w", "w": caller.webhook_id}
    return {"k": "o", "a": caller.app_id, "u": caller.user_id}


def upload_url(ctx: CallContext, call_id: str) -> str:
    """The reference's URL shapes (behavior.md §3.4), with our signed, expiring token."""
    services = ctx.services
    claims = {
        "c": call_id,
        "exp": int(services.clock.time()) + services.settings.upload_url_ttl,
        **_binding(ctx.caller),
    }
    token = quote(UPLOAD_PREFIX + links.sign(services.secret, "upload", claims), safe="|")
    caller = ctx.caller
    if caller.kind == "webhook":
        user, code = caller.auth_values
        return f"{ctx.rest_url}{user}/{code}/upload/?token={token}"
    return f"{ctx.rest_url}upload.json?auth={quote(caller.auth_values[0])}&token={token}"


def check_upload_token(services: Services, caller: Caller, token: str) -> str:
    """The call the token grants an upload to; ACCESS_DENIED for a foreign or forged token,
    LINK_EXPIRED for an old one."""
    claims = links.verify(
        services.secret, "upload", token.removeprefix(UPLOAD_PREFIX), services.clock.time()
    )
    if any(claims.get(k) != v for k, v in _binding(caller).items()) or not claims.get("c"):
        raise links.LinkError("ACCESS_DENIED", "Access denied! Link check failed", 403)
    return str(claims["c"])
