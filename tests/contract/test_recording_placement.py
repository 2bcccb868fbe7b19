"""Where a staged recording is put in place: on local disk, on the worker thread that
staged it (one hand-off per ingest); on S3, by the event loop as before."""

from __future__ import annotations

import base64
import hashlib
import threading
from pathlib import Path

import pytest

from b24tel.clock import Clock
from b24tel.recordings.errors import StoreError
from b24tel.recordings.service import Recordings
from b24tel.recordings.storage import LocalStorage
from tests.conftest import FIXTURES

FIXTURE = FIXTURES / "call-8k-mono.wav"


class PlacedOnThread(LocalStorage):
    """Local storage that refuses the event loop's store and stat: what is stored must
    have been placed on the staging thread."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.placed_on: list[int] = []

    def place_here(self, key: str, path: Path) -> int | None:
        self.placed_on.append(threading.get_ident())
        return super().place_here(key, path)

    async def store_file(self, key: str, path: Path) -> int:
        raise AssertionError("stored from the event loop")

    async def stat(self, key: str) -> object:  # type: ignore[override]
        raise AssertionError("measured from the event loop")


def _recordings(storage: LocalStorage) -> Recordings:
    return Recordings(storage, storage.tmp, Clock())


async def test_local_storage_places_a_base64_recording_on_the_staging_thread(
    tmp_path: Path,
) -> None:
    data = FIXTURE.read_bytes()
    storage = PlacedOnThread(tmp_path / "recordings")
    stored = await _recordings(storage).from_base64([base64.b64encode(data)], "2026-03")
    assert storage.placed_on and storage.placed_on[0] != threading.get_ident()
    assert stored.size == len(data) and stored.key.startswith("2026-03/")
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert storage.path(stored.key).read_bytes() == data
    assert list(storage.tmp.iterdir()) == []  # the staging file became the object


class NotPlaced(LocalStorage):
    """A backend that cannot place here (as S3): the event loop stores it."""

    def place_here(self, key: str, path: Path) -> int | None:
        return None


async def test_a_backend_that_cannot_place_here_stores_from_the_event_loop(
    tmp_path: Path,
) -> None:
    data = FIXTURE.read_bytes()
    storage = NotPlaced(tmp_path / "recordings")
    stored = await _recordings(storage).from_base64([base64.b64encode(data)], "2026-03")
    assert (await storage.stat(stored.key)).size == len(data)
    assert storage.path(stored.key).read_bytes() == data


class ShortPlaced(LocalStorage):
    """A placement that reports fewer bytes than were staged."""

    def place_here(self, key: str, path: Path) -> int | None:
        size = super().place_here(key, path)
        return None if size is None else size - 1


async def test_a_short_placement_is_refused_and_removed(tmp_path: Path) -> None:
    storage = ShortPlaced(tmp_path / "recordings")
    with pytest.raises(StoreError):
        await _recordings(storage).from_base64([base64.b64encode(FIXTURE.read_bytes())], "2026-03")
    assert [o async for o in storage.list()] == []
