"""Compiled SQL shared by every engine of one process.

SQLAlchemy compiles each statement to SQL once per engine: its cache is the engine's own,
and the ORM's per-mapper caches (the INSERT and UPDATE of a flush) key each compiled
statement by the dialect *object*. A process that opens its database more than once — the
test suite builds an app per test and runs commands in its own process — compiled
everything again each time: 14 compiles in an ordinary API test, about a millisecond each.
A server opens its database once, and keeps it.

Two things make the compiled SQL outlive an engine:

- ``SharedStatements``: dialects of the same kind (class, and the server version they found
  on connecting) are equal, so cache keys made with one hit with another. The SQL a dialect
  compiles depends on nothing else it holds (b24tel gives every engine the same options).
- ``STATEMENTS``: one compiled-statement cache for all engines, given to each as its
  ``compiled_cache`` execution option.

``b24tel/db/hot.py`` already compiles its prebuilt statements once per dialect name."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.util import LRUCache

# SQLite's and PostgreSQL's statements side by side (the test suite runs both in one
# process); SQLAlchemy's own default is 500 per engine
STATEMENTS: Any = LRUCache(1000)

ASYNCPG = "postgresql+b24tel_asyncpg"


class SharedStatements:
    """Equal to any dialect of its class that found the same server version."""

    server_version_info: Any

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and (
            getattr(other, "server_version_info", None) == self.server_version_info
        )

    def __hash__(self) -> int:
        return hash(type(self))


class AsyncpgDialect(SharedStatements, PGDialect_asyncpg):
    """The stock ``postgresql+asyncpg`` dialect, sharing its compiled statements."""

    supports_statement_cache = True


registry.register(ASYNCPG.replace("+", "."), __name__, "AsyncpgDialect")
