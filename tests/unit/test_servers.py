"""A server the tests start on an empty data directory begins from a copy of a migrated
database (tests/servers.py): the copy must be what the server's own migration makes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from b24tel.db import migrate
from tests.servers import DATABASE, migrated_database, provide_schema


def definition(sql: str | None) -> list[str]:
    """A schema object's SQL, its lines in order: the migrations that rebuild a table
    (SQLite's batch mode) write its foreign keys in an order that varies between runs."""
    return sorted(line.strip().rstrip(",").strip() for line in (sql or "").splitlines())


def contents(path: Path) -> dict[str, object]:
    """Every schema object's SQL and every table's rows."""
    with sqlite3.connect(path) as conn:
        objects = conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY 2"
        ).fetchall()
        tables = [name for kind, name, _ in objects if kind == "table"]
        schema = [(kind, name, definition(sql)) for kind, name, sql in objects]
        rows = {
            name: conn.execute(f'SELECT * FROM "{name}" ORDER BY 1').fetchall() for name in tables
        }
    conn.close()
    return {"schema": schema, "rows": rows}


def test_the_copy_is_what_a_new_servers_migration_makes(tmp_path: Path) -> None:
    own = tmp_path / DATABASE
    migrate.upgrade(f"sqlite+aiosqlite:///{own}")
    copy = contents(migrated_database())
    assert copy == contents(own)
    assert copy["rows"]["alembic_version"] == [(migrate.head_revision(),)]  # type: ignore[index]


def test_an_empty_data_directory_gets_the_copy(tmp_path: Path) -> None:
    data = tmp_path / "data"
    provide_schema(data, {}, ())
    assert (data / DATABASE).read_bytes() == migrated_database().read_bytes()


def test_a_database_named_elsewhere_or_already_there_is_left_alone(tmp_path: Path) -> None:
    provide_schema(tmp_path / "pg", {"B24TEL_DATABASE_URL": "postgresql://x/y"}, ())
    provide_schema(tmp_path / "file", {}, ("--config", "b24tel.toml"))
    assert not (tmp_path / "pg").exists() and not (tmp_path / "file").exists()
    (tmp_path / "own").mkdir()
    (tmp_path / "own" / DATABASE).write_bytes(b"theirs")
    provide_schema(tmp_path / "own", {}, ())
    assert (tmp_path / "own" / DATABASE).read_bytes() == b"theirs"
