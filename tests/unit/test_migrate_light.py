"""The schema check of every command-line run reads the database's revision and the newest
script without Alembic (``b24tel.db.migrate``): the same answers as Alembic's, and Alembic
is not imported for them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from b24tel.db import migrate


def test_the_newest_script_is_alembics_head() -> None:
    alembic_head = ScriptDirectory.from_config(
        migrate.alembic_config("sqlite://")
    ).get_current_head()
    assert migrate.head_revision() == alembic_head is not None


def test_two_heads_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "a.py").write_text('revision = "a"\ndown_revision = None\n')
    (versions / "b.py").write_text('revision: str = "b"\ndown_revision = "a"\n')
    (versions / "c.py").write_text('revision = "c"\ndown_revision: str | None = "a"\n')
    monkeypatch.setattr(migrate, "MIGRATIONS", tmp_path)
    with pytest.raises(RuntimeError, match="more than one head"):
        migrate.head_revision()
    (versions / "d.py").write_text('revision = "d"\ndown_revision = ("b", "c")\n')
    assert migrate.head_revision() == "d"


@pytest.mark.parametrize("revision", [None, "0003", "head"])
def test_the_database_revision_is_alembics(tmp_path: Path, revision: str | None) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/b24tel.db"
    if revision is not None:
        migrate.upgrade(url, revision)
    with create_engine(f"sqlite:///{tmp_path}/b24tel.db").connect() as conn:
        expected = MigrationContext.configure(conn).get_current_revision()
    assert migrate.current(url) == expected
    assert expected == {None: None, "0003": "0003", "head": migrate.head_revision()}[revision]


def test_the_check_does_not_import_alembic(tmp_path: Path) -> None:
    """Nor does an upgrade of a database already at the newest revision (each start of
    `b24tel serve` on SQLite)."""
    url = f"sqlite+aiosqlite:///{tmp_path}/b24tel.db"
    migrate.upgrade(url)
    code = (
        "import sys\n"
        "from b24tel.db import migrate\n"
        f"migrate.upgrade({url!r})\n"
        f"assert migrate.current({url!r}) == migrate.head_revision()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout
