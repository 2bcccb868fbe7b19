"""Where recording bytes live: the ``RecordingStorage`` interface and its two backends.

Both backends keep the same contract (tests/contract runs one test class against each):
store a stream atomically, open all or a byte range, stat, delete, list. A missing object is
``FileNotFoundError``. Memory stays bounded: data moves in chunks, never as one object.
"""

from __future__ import annotations

import asyncio
import builtins
import datetime as dt
import os
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from b24tel.config import S3_EXTRA_MISSING
from b24tel.recordings.partfiles import PartFile

CHUNK = 1024 * 1024
S3_PART = 8 * 1024 * 1024  # multipart part size (S3 needs at least 5 MiB but the last)


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    modified: dt.datetime


class RecordingStorage(ABC):
    """Blob storage for recordings, keyed by relative paths like ``2026-03/<uuid>.mp3``."""

    name = "storage"

    @abstractmethod
    async def store(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        """Write the whole stream under ``key``; the object appears only complete.
        Returns the number of bytes written."""

    async def store_file(self, key: str, path: Path) -> int:
        """Store a local file (the staged recording); backends may move it instead."""
        return await self.store(key, _file_chunks(path))

    def place_here(self, key: str, path: Path) -> int | None:
        """On the staging thread: move a staged file under ``key``, return the size stored
        there; None: the event loop stores it (``store_file``)."""
        return None

    @abstractmethod
    def open(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Bytes ``start`` … ``end`` (inclusive; None = to the end)."""

    @abstractmethod
    async def stat(self, key: str) -> ObjectInfo: ...

    @abstractmethod
    async def delete(self, key: str) -> None: ...

    @abstractmethod
    def list(self, prefix: str = "") -> AsyncIterator[ObjectInfo]: ...

    async def close(self) -> None:
        return None


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as fh:
        while chunk := await asyncio.to_thread(fh.read, CHUNK):
            yield chunk


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"invalid storage key {key!r}")
    return key


# --- local disk -----------------------------------------------------------------------------


class LocalStorage(RecordingStorage):
    """Files under a root directory. A write goes to ``.tmp/`` first, is fsynced, then
    renamed into place, so a crash never leaves a partial object under its key."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / ".tmp"

    def path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def _temp(self) -> Path:
        self.tmp.mkdir(parents=True, exist_ok=True)
        return self.tmp / f"{uuid.uuid4().hex}.part"

    async def store(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        target, temp = self.path(key), self._temp()
        size = 0
        part = PartFile(temp)  # held while written (partfiles: gc tells it from debris)
        try:
            async for chunk in chunks:
                await asyncio.to_thread(part.fh.write, chunk)
                size += len(chunk)
            await asyncio.to_thread(_fsync, part.fh)
            part.fh.close()
            await asyncio.to_thread(self._publish, temp, target)
        finally:
            temp.unlink(missing_ok=True)
            part.release()
        return size

    async def store_file(self, key: str, path: Path) -> int:
        size = await asyncio.to_thread(self.place_here, key, path)
        return size if size is not None else await super().store_file(key, path)

    def place_here(self, key: str, path: Path) -> int | None:
        target = self.path(key)
        try:
            # same file system: a rename is the whole copy
            self._publish(path, target)
            return target.stat().st_size
        except OSError:
            return None  # another file system: copied instead

    def _publish(self, temp: Path, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temp, target)
        _fsync_dir(target.parent)

    async def open(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        path = self.path(key)
        fh = await asyncio.to_thread(path.open, "rb")  # FileNotFoundError when missing
        try:
            fh.seek(start)
            remaining = None if end is None else end - start + 1
            while remaining is None or remaining > 0:
                size = CHUNK if remaining is None else min(CHUNK, remaining)
                chunk = await asyncio.to_thread(fh.read, size)
                if not chunk:
                    break
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk
        finally:
            fh.close()

    async def stat(self, key: str) -> ObjectInfo:
        st = await asyncio.to_thread(self.path(key).stat)
        return ObjectInfo(key, st.st_size, dt.datetime.fromtimestamp(st.st_mtime, dt.UTC))

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.path(key).unlink)

    async def list(self, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        def scan() -> list[ObjectInfo]:
            out = []
            for dirpath, dirnames, filenames in os.walk(self.root):
                dirnames[:] = [
                    d for d in dirnames if not (d == ".tmp" and dirpath == str(self.root))
                ]
                for name in filenames:
                    full = Path(dirpath) / name
                    key = full.relative_to(self.root).as_posix()
                    if key.startswith(prefix):
                        st = full.stat()
                        out.append(
                            ObjectInfo(
                                key, st.st_size, dt.datetime.fromtimestamp(st.st_mtime, dt.UTC)
                            )
                        )
            return sorted(out, key=lambda o: o.key)

        for info in await asyncio.to_thread(scan):
            yield info

    def temp_files(self) -> builtins.list[tuple[Path, dt.datetime]]:
        """Leftovers of interrupted writes (for gc)."""
        if not self.tmp.is_dir():
            return []
        return [
            (p, dt.datetime.fromtimestamp(p.stat().st_mtime, dt.UTC)) for p in self.tmp.iterdir()
        ]


def _fsync(fh: Any) -> None:
    fh.flush()
    os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- S3-compatible object storage -----------------------------------------------------------


@dataclass(frozen=True)
class S3Config:
    bucket: str
    prefix: str
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None


class S3Storage(RecordingStorage):
    """AWS S3, MinIO, Ceph… through boto3 (run in threads). Small objects are one PUT;
    large ones a multipart upload that is completed only after the last part arrived and
    aborted otherwise — a partial object is never visible."""

    name = "s3"

    def __init__(self, config: S3Config) -> None:
        try:
            import boto3
            from botocore.config import Config
        except ImportError as exc:  # the optional extra is not installed
            raise ValueError(S3_EXTRA_MISSING) from exc

        self.config = config
        self.bucket = config.bucket
        self.prefix = config.prefix.strip("/")
        self.client = boto3.session.Session().client(
            "s3",
            endpoint_url=config.endpoint_url or None,
            region_name=config.region or None,
            aws_access_key_id=config.access_key_id or None,
            aws_secret_access_key=config.secret_access_key or None,
            config=Config(retries={"max_attempts": 3, "mode": "standard"}, max_pool_connections=32),
        )

    def _key(self, key: str) -> str:
        _check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _relative(self, full: str) -> str:
        return full[len(self.prefix) + 1 :] if self.prefix else full

    async def _call(self, name: str, **kwargs: Any) -> Any:
        return await asyncio.to_thread(getattr(self.client, name), **kwargs)

    async def store(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        full = self._key(key)
        buffer = bytearray()
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        size = 0
        try:
            async for chunk in chunks:
                buffer += chunk
                size += len(chunk)
                while len(buffer) >= S3_PART:
                    if upload_id is None:
                        upload_id = (
                            await self._call(
                                "create_multipart_upload", Bucket=self.bucket, Key=full
                            )
                        )["UploadId"]
                    part, buffer = bytes(buffer[:S3_PART]), buffer[S3_PART:]
                    parts.append(await self._part(full, upload_id, len(parts) + 1, part))
            if upload_id is None:
                await self._call("put_object", Bucket=self.bucket, Key=full, Body=bytes(buffer))
                return size
            if buffer:
                parts.append(await self._part(full, upload_id, len(parts) + 1, bytes(buffer)))
            await self._call(
                "complete_multipart_upload",
                Bucket=self.bucket,
                Key=full,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
            return size
        except BaseException:
            if upload_id is not None:
                await asyncio.shield(
                    self._call(
                        "abort_multipart_upload", Bucket=self.bucket, Key=full, UploadId=upload_id
                    )
                )
            raise

    async def _part(self, full: str, upload_id: str, number: int, data: bytes) -> dict[str, Any]:
        response = await self._call(
            "upload_part",
            Bucket=self.bucket,
            Key=full,
            UploadId=upload_id,
            PartNumber=number,
            Body=data,
        )
        return {"ETag": response["ETag"], "PartNumber": number}

    async def open(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(key)}
        if start or end is not None:
            kwargs["Range"] = f"bytes={start}-{'' if end is None else end}"
        try:
            response = await self._call("get_object", **kwargs)
        except self.client.exceptions.NoSuchKey as exc:
            raise FileNotFoundError(key) from exc
        except self.client.exceptions.ClientError as exc:
            if _status(exc) in (404, 416):
                raise FileNotFoundError(key) from exc
            raise
        body = response["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, CHUNK):
                yield chunk
        finally:
            body.close()

    async def stat(self, key: str) -> ObjectInfo:
        try:
            head = await self._call("head_object", Bucket=self.bucket, Key=self._key(key))
        except self.client.exceptions.ClientError as exc:
            if _status(exc) == 404:
                raise FileNotFoundError(key) from exc
            raise
        return ObjectInfo(key, int(head["ContentLength"]), head["LastModified"])

    async def delete(self, key: str) -> None:
        await self.stat(key)  # S3 deletes silently; the contract wants FileNotFoundError
        await self._call("delete_object", Bucket=self.bucket, Key=self._key(key))

    async def list(self, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        token: str | None = None
        full_prefix = self._key(prefix) if prefix else (f"{self.prefix}/" if self.prefix else "")
        while True:
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": full_prefix}
            if token:
                kwargs["ContinuationToken"] = token
            page = await self._call("list_objects_v2", **kwargs)
            for item in page.get("Contents", []):
                yield ObjectInfo(
                    self._relative(item["Key"]), int(item["Size"]), item["LastModified"]
                )
            if not page.get("IsTruncated"):
                return
            token = page["NextContinuationToken"]

    async def stale_uploads(self, older_than: dt.datetime) -> builtins.list[tuple[str, str]]:
        """Multipart uploads an interrupted write left behind (key, upload id)."""
        page = await self._call(
            "list_multipart_uploads",
            Bucket=self.bucket,
            Prefix=f"{self.prefix}/" if self.prefix else "",
        )
        return [
            (u["Key"], u["UploadId"])
            for u in page.get("Uploads", [])
            if u["Initiated"] < older_than
        ]

    async def abort_upload(self, full_key: str, upload_id: str) -> None:
        await self._call(
            "abort_multipart_upload", Bucket=self.bucket, Key=full_key, UploadId=upload_id
        )

    async def ensure_bucket(self) -> None:
        try:
            await self._call("head_bucket", Bucket=self.bucket)
        except self.client.exceptions.ClientError:
            await self._call("create_bucket", Bucket=self.bucket)


def _status(exc: Any) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def open_storage(url: str, *, data_dir: str, s3: dict[str, str] | None = None) -> RecordingStorage:
    """The backend for ``storage_url``: ``file:///path`` (default ``<data_dir>/recordings``)
    or ``s3://bucket/prefix``."""
    if not url:
        return LocalStorage(Path(data_dir).resolve() / "recordings")
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalStorage(Path(unquote(parsed.netloc + parsed.path)).resolve())
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ValueError("storage_url s3://bucket/prefix needs a bucket")
        return S3Storage(S3Config(parsed.netloc, parsed.path.strip("/"), **(s3 or {})))
    raise ValueError(f"unsupported storage_url {url!r} (use file:///path or s3://bucket/prefix)")
