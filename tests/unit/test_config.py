"""The settings registry and its generated documentation."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from b24tel.cli.config_docs import render_docs
from b24tel.config import Settings, SettingsError
from b24tel.config_values import spool_dir

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_every_setting_is_documented_and_docs_are_current() -> None:
    for f in dataclasses.fields(Settings):
        assert f.metadata.get("help"), f"setting {f.name} has no help text"
    assert DOCS.read_text(encoding="utf-8") == render_docs(), (
        "docs/configuration.md is out of date: run `b24tel config docs --out docs/configuration.md`"
    )


def test_precedence_toml_env_override(tmp_path: Path) -> None:
    toml = tmp_path / "b.toml"
    toml.write_text('port = 9000\ntimezone = "Europe/Berlin"\nrate_limit = "standard"\n')
    s = Settings.load(env={"B24TEL_PORT": "9100"}, config_file=toml)
    assert (s.port, s.timezone, s.rate_limit_params) == (9100, "Europe/Berlin", (50, 2.0))
    assert Settings.load(env={"B24TEL_PORT": "9100"}, config_file=toml, port=9200).port == 9200


def test_default_database_is_sqlite_in_data_dir(tmp_path: Path) -> None:
    s = Settings.load(env={}, data_dir=str(tmp_path))
    assert s.effective_database_url == f"sqlite+aiosqlite:///{tmp_path.resolve()}/b24tel.db"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"B24TEL_PORT": "eighty"}, "port"),
        ({"B24TEL_RATE_LIMIT": "lots"}, "rate_limit"),
        ({"B24TEL_TIMEZONE": "Mars/Base"}, "timezone"),
        ({"B24TEL_TLS_CERT": "x.pem"}, "tls_key"),
    ],
)
def test_bad_values_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.load(env=env)


def test_unknown_toml_key_is_refused(tmp_path: Path) -> None:
    toml = tmp_path / "b.toml"
    toml.write_text("prot = 1\n")
    with pytest.raises(SettingsError, match="unknown setting"):
        Settings.load(env={}, config_file=toml)


def test_s3_storage_without_the_extra_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """boto3 is the optional ``s3`` extra: a missing one is a clear settings error at
    start, and the backend refuses the same way when built directly."""
    from b24tel.recordings.storage import open_storage

    monkeypatch.setitem(sys.modules, "boto3", None)  # as if the extra were not installed
    with pytest.raises(SettingsError, match=r"pip install 'b24tel\[s3\]'"):
        Settings.load(env={"B24TEL_STORAGE_URL": "s3://bucket/prefix"}, data_dir=str(tmp_path))
    with pytest.raises(ValueError, match=r"pip install 'b24tel\[s3\]'"):
        open_storage("s3://bucket/prefix", data_dir=str(tmp_path))


def test_package_ships_its_type_information_and_migrations() -> None:
    """``py.typed`` and the migrations are package data, so an installed b24tel type-checks
    and can upgrade its schema."""
    import tomllib

    root = Path(__file__).resolve().parents[2]
    meta = tomllib.loads((root / "pyproject.toml").read_text())
    shipped = meta["tool"]["setuptools"]["package-data"]["b24tel"]
    assert "py.typed" in shipped and (root / "b24tel" / "py.typed").exists()
    assert "db/migrations/versions/*.py" in shipped
    assert "boto3" not in " ".join(meta["project"]["dependencies"])
    assert meta["project"]["optional-dependencies"]["s3"] == ["boto3>=1.34"]


def test_the_spool_directory_is_one_object_per_data_directory(tmp_path: Path) -> None:
    """Every REST request names it: built once, not joined and resolved each time."""
    first = spool_dir(str(tmp_path))
    assert first == tmp_path.resolve() / "tmp"
    assert spool_dir(str(tmp_path)) is first
