"""The RecordingStorage contract, run against local disk and against S3 (moto)."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from b24tel.recordings.storage import (
    LocalStorage,
    RecordingStorage,
    S3Config,
    S3Storage,
    open_storage,
)
from tests.conftest import s3_settings


@pytest.fixture
async def storage(
    storage_backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[RecordingStorage]:
    if storage_backend == "local":
        yield LocalStorage(tmp_path / "recordings")
        return
    endpoint = request.getfixturevalue("moto_endpoint")
    opts = s3_settings(endpoint, f"contract-{os.urandom(4).hex()}")
    store = open_storage(
        opts["storage_url"],
        data_dir=str(tmp_path),
        s3={
            "endpoint_url": endpoint,
            "region": "us-east-1",
            "access_key_id": "testing",
            "secret_access_key": "testing",
        },
    )
    assert isinstance(store, S3Storage)
    yield store
    await store.close()


async def chunks(data: bytes, size: int = 65536) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def read(
    storage: RecordingStorage, key: str, start: int = 0, end: int | None = None
) -> bytes:
    return b"".join([c async for c in storage.open(key, start, end)])


async def test_store_open_stat_delete(storage: RecordingStorage) -> None:
    data = os.urandom(300_000)
    assert await storage.store("2026-03/a.mp3", chunks(data)) == len(data)
    assert await read(storage, "2026-03/a.mp3") == data
    info = await storage.stat("2026-03/a.mp3")
    assert info.key == "2026-03/a.mp3" and info.size == len(data)
    assert [o.key async for o in storage.list()] == ["2026-03/a.mp3"]
    await storage.delete("2026-03/a.mp3")
    assert [o async for o in storage.list()] == []


async def test_ranges(storage: RecordingStorage) -> None:
    data = bytes(range(256)) * 40
    await storage.store("k/r.wav", chunks(data))
    assert await read(storage, "k/r.wav", 0, 99) == data[:100]
    assert await read(storage, "k/r.wav", 100) == data[100:]
    assert await read(storage, "k/r.wav", len(data) - 100, len(data) - 1) == data[-100:]
    assert await read(storage, "k/r.wav", 5, 5) == data[5:6]


async def test_missing_is_file_not_found(storage: RecordingStorage) -> None:
    with pytest.raises(FileNotFoundError):
        await storage.stat("nope/x.mp3")
    with pytest.raises(FileNotFoundError):
        await read(storage, "nope/x.mp3")
    with pytest.raises(FileNotFoundError):
        await storage.delete("nope/x.mp3")


async def test_overwrite_and_empty(storage: RecordingStorage) -> None:
    await storage.store("a/b.mp3", chunks(b"first"))
    await storage.store("a/b.mp3", chunks(b"second!"))
    assert await read(storage, "a/b.mp3") == b"second!"
    await storage.store("a/empty.wav", chunks(b""))
    assert (await storage.stat("a/empty.wav")).size == 0


async def test_bad_keys_refused(storage: RecordingStorage) -> None:
    for key in ("", "/abs", "a/../b", "a//b"):
        with pytest.raises(ValueError):
            await storage.store(key, chunks(b"x"))


async def test_failed_stream_leaves_nothing(storage: RecordingStorage) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield os.urandom(9 * 1024 * 1024)  # past one S3 part
        raise RuntimeError("client went away")

    with pytest.raises(RuntimeError):
        await storage.store("a/partial.mp3", broken())
    with pytest.raises(FileNotFoundError):
        await storage.stat("a/partial.mp3")
    if isinstance(storage, S3Storage):
        import datetime as dt

        future = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        assert await storage.stale_uploads(future) == []  # aborted, not left behind


@pytest.mark.slow
async def test_large_object_multipart(storage: RecordingStorage) -> None:
    size = 64 * 1024 * 1024 + 12345
    digest = hashlib.sha256()

    async def generate() -> AsyncIterator[bytes]:
        block = os.urandom(1024 * 1024)
        sent = 0
        while sent < size:
            part = block[: min(len(block), size - sent)]
            digest.update(part)
            sent += len(part)
            yield part

    assert await storage.store("big/large.wav", generate()) == size
    assert (await storage.stat("big/large.wav")).size == size
    check = hashlib.sha256()
    async for chunk in storage.open("big/large.wav"):
        check.update(chunk)
    assert check.hexdigest() == digest.hexdigest()
    tail = await read(storage, "big/large.wav", size - 10)
    assert len(tail) == 10


async def test_concurrent_writers(storage: RecordingStorage) -> None:
    blobs = {f"c/{i}.mp3": os.urandom(200_000 + i) for i in range(8)}
    await asyncio.gather(*(storage.store(k, chunks(v, 4096)) for k, v in blobs.items()))
    for key, data in blobs.items():
        assert await read(storage, key) == data
    assert sorted([o.key async for o in storage.list()]) == sorted(blobs)


def test_open_storage_urls(tmp_path: Path) -> None:
    assert isinstance(open_storage("", data_dir=str(tmp_path)), LocalStorage)
    local = open_storage(f"file://{tmp_path}/rec", data_dir="x")
    assert isinstance(local, LocalStorage) and local.root == tmp_path / "rec"
    s3 = open_storage("s3://bucket/some/prefix", data_dir="x", s3={"region": "eu-west-1"})
    assert isinstance(s3, S3Storage) and s3.config == S3Config(
        "bucket", "some/prefix", region="eu-west-1"
    )
    with pytest.raises(ValueError):
        open_storage("ftp://x/y", data_dir="x")
