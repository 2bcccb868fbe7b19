"""Per-process copies of rows the hot path reads on every call and that change rarely
(users by id and inner number, external lines, live event bindings), kept right across
processes — the CLI, another instance — without a time-to-live.

Every table a copy comes from has triggers (migration 0017) that bump its group's row in
``cache_versions`` in the writing transaction. A hot unit of work (``Database.hot``) reads
those versions once, with its first cached lookup, and uses a copy only when this process's
copies are of the version it read; otherwise they are dropped. So a change committed by
any process is seen by the next unit of work that starts after the commit.

Values read on a miss are kept only once the unit has committed (``Caches.commit``, an
after-commit hook) and only if the copies are still of the version the unit read: a unit
rolled back keeps nothing, and a unit that wrote a cached table itself — its trigger moved
the version past the one it read — has what it kept dropped by the next unit. A version
read before a row is always at most the row's: a copy is never older than its version.
Units of work that are not hot (the ORM's, ``as_tx``) read the database directly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, mapped_column

from b24tel.db.base import Base, BigInt
from b24tel.db.hot import Query, Tx

T = TypeVar("T")

# tx.info keys: this process's copies (set by Database.hot), the versions this unit read,
# the values it read on a miss
CACHES = "b24tel.caches"
_SEEN = "b24tel.caches.seen"
_FILLS = "b24tel.caches.fills"

# group → the tables whose changes invalidate it (the triggers of migration 0017)
GROUPS = {
    "users": ("users",),
    "lines": ("tel_external_lines",),
    "bindings": ("event_bindings", "apps", "outgoing_webhooks"),
}


class CacheVersion(Base):
    __tablename__ = "cache_versions"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(BigInt, default=0)


_VERSIONS = Query(select(CacheVersion.name, CacheVersion.version))


class Caches:
    MAX_ENTRIES = 10_000  # per group; past it the group starts again empty

    def __init__(self) -> None:
        self._versions: dict[str, int] = {}
        self._entries: dict[str, dict[Hashable, Any]] = {}

    async def _seen(self, tx: Tx) -> dict[str, int]:
        seen: dict[str, int] | None = tx.info.get(_SEEN)
        if seen is None:
            seen = tx.info[_SEEN] = {str(n): int(v) for n, v in await tx.rows(_VERSIONS)}
            for name in GROUPS:
                if self._versions.get(name) != seen.get(name):
                    self._entries.pop(name, None)
                    self._versions.pop(name, None)
                    if name in seen:
                        self._versions[name] = seen[name]
        return seen

    async def get(
        self, tx: Tx, group: str, key: Hashable, load: Callable[[], Awaitable[T]], keep_none: bool
    ) -> T:
        version = (await self._seen(tx)).get(group)
        if version is not None and self._versions.get(group) == version:
            entries = self._entries.get(group)
            if entries is not None and key in entries:
                return entries[key]  # type: ignore[no-any-return]
        value = await load()
        if version is not None and (value is not None or keep_none):
            tx.info.setdefault(_FILLS, []).append((group, version, key, value))
        return value

    def commit(self, info: dict[str, Any]) -> None:
        """After a unit of work has committed: keep what it read, if still current."""
        for group, version, key, value in info.get(_FILLS, ()):
            if self._versions.get(group) != version:
                continue
            entries = self._entries.setdefault(group, {})
            if len(entries) >= self.MAX_ENTRIES:
                entries.clear()
            entries[key] = value

    def __len__(self) -> int:
        return sum(len(e) for e in self._entries.values())


async def cached(
    tx: Tx,
    group: str,
    key: Hashable,
    load: Callable[[], Awaitable[T]],
    *,
    keep_none: bool = False,
) -> T:
    """``load()``'s value, from this process's copy of ``group`` when it is current.
    ``keep_none``: a None found is kept too (a negative answer, right until the next
    change like any other)."""
    caches: Caches | None = tx.info.get(CACHES)
    if caches is None:
        return await load()
    return await caches.get(tx, group, key, load, keep_none)
