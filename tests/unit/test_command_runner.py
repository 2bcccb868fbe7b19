"""tests/commands.b24tel: a command run in the test's process sees what a new process
started by the test would, and leaves the test's environment as it was."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from b24tel.db import migrate
from tests.commands import b24tel


def test_a_command_runs_on_its_data_directory(tmp_path: Path) -> None:
    migrate.upgrade(f"sqlite+aiosqlite:///{tmp_path / 'b24tel.db'}")
    added = b24tel(tmp_path, "users", "add", "--name", "Dora", "--inner-number", "102")
    assert added.code == 0, added.stderr
    listed = b24tel(tmp_path, "users", "list")
    assert listed.code == 0 and "Dora" in listed.stdout and "102" in listed.stdout


def test_the_environment_is_the_one_a_new_process_gets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a setting of the test's own process is not the command's; the ones given are
    monkeypatch.setenv("B24TEL_DATA_DIR", str(tmp_path / "elsewhere"))
    shown = b24tel(None, "status", env={"B24TEL_DATA_DIR": str(tmp_path / "given")})
    assert str(tmp_path / "given") in shown.stdout + shown.stderr
    assert "elsewhere" not in shown.stdout + shown.stderr
    assert os.environ["B24TEL_DATA_DIR"] == str(tmp_path / "elsewhere")


def test_a_failure_comes_back_with_its_message(tmp_path: Path) -> None:
    failed = b24tel(tmp_path, "users", "list")  # no database here
    assert failed.code == 1 and "no b24tel database" in failed.stderr


def test_the_server_keeps_a_process_of_its_own(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="process of its own"):
        b24tel(tmp_path, "serve", "--port", "0")
