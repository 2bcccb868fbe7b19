"""REST handlers: ``disk.file.get`` for recording files (scope `disk`)."""

from __future__ import annotations

from typing import Any

from b24tel.files import download
from b24tel.files.download import live_file
from b24tel.files.schemas import FileGetParams
from b24tel.recordings.links import file_url_for
from b24tel.recordings.models import RecordingFile
from b24tel.rest.registry import Registry
from b24tel.services import Ctx


def file_dict(ctx: Ctx, row: RecordingFile) -> dict[str, Any]:
    """disk.file.get's fields (numbers as strings, as the cloud's disk.file.get),
    plus what b24tel measured: SHA256, CONTENT_TYPE, AUDIO, and the version chain."""
    url = file_url_for(ctx, row.id)
    return {
        "ID": str(row.id),
        "NAME": row.name,
        "CODE": None,
        "STORAGE_ID": "1",
        "TYPE": "file",
        "PARENT_ID": row.folder.replace("-", ""),
        "DELETED_TYPE": "0",
        "GLOBAL_CONTENT_VERSION": "1",
        "FILE_ID": str(row.id),
        "SIZE": str(row.size),
        "CREATE_TIME": ctx.iso(row.created_at),
        "UPDATE_TIME": ctx.iso(row.updated_at),
        "DELETE_TIME": None,
        "CREATED_BY": None if row.owner_id is None else str(row.owner_id),
        "UPDATED_BY": None if row.owner_id is None else str(row.owner_id),
        "DELETED_BY": "0",
        "DOWNLOAD_URL": url,
        "DETAIL_URL": url,
        "FOLDER": row.folder,
        "SHA256": row.sha256,
        "CONTENT_TYPE": row.content_type,
        "AUDIO": {
            "CODEC": row.codec,
            "DURATION": row.duration,
            "CHANNELS": row.channels,
            "SAMPLE_RATE": row.sample_rate,
            "BIT_RATE": row.bit_rate,
        },
        "CALL_ID": row.call_id,
        "REPLACED_BY": row.replaced_by,
        "REPLACED_AT": ctx.iso(row.replaced_at),
    }


def register(registry: Registry) -> None:
    download.register(registry)

    @registry.method("disk.file.get", scope="disk", params=FileGetParams)
    async def file_get(ctx: Ctx, p: FileGetParams) -> dict[str, Any]:
        # the reference answers 400 for a missing file here
        row = await live_file(ctx.services, p.id, missing_status=400)
        return file_dict(ctx, row)
