"""The command line imports a command's module only when that command runs: a short command
does not pay for the app, the bridge and the simulator (each command line is a new
process). Every command is still there, with its subcommands from other modules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from b24tel.cli.main import COMMANDS, cli, load

# starts real b24tel processes: left out of the quick run (`-m "not slow"`)
pytestmark = pytest.mark.slow


def _imported_after(*args: str) -> set[str]:
    """The b24tel modules a fresh process has imported after running ``b24tel *args``."""
    code = (
        "import sys\n"
        "from b24tel.cli.main import cli\n"
        "try:\n"
        f"    cli.main({list(args)!r}, standalone_mode=False)\n"
        "finally:\n"
        "    print(' '.join(m for m in sys.modules if m.startswith('b24tel')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    return set(done.stdout.split())


@pytest.mark.parametrize(
    "args",
    [
        ("status", "--help"),
        ("users", "--help"),
        ("config", "docs"),
        ("serve", "--help"),
        ("serve", "--port", "99999"),  # a start refused says why without loading the app
        ("serve", "--workers", "2"),  # SQLite: refused
    ],
)
def test_a_short_command_does_not_import_the_app(args: tuple[str, ...]) -> None:
    imported = _imported_after(*args)
    assert "b24tel.cli.main" in imported
    assert not {"b24tel.app", "b24tel.bridge.mirror", "b24tel.simulate"} & imported


def test_a_users_command_does_not_load_event_delivery(tmp_path: Path) -> None:
    """`users` and `apps` load the event handlers' checks (an HTTP client stack) only for
    an app created with a handler URL."""
    imported = _imported_after("--data-dir", str(tmp_path), "users", "add", "--name", "Anna")
    assert "b24tel.cli.admin" in imported and "b24tel.events.subscriptions" not in imported


def test_a_start_refused_for_its_certificate_does_not_load_the_app(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.pem")
    imported = _imported_after(
        "--data-dir", str(tmp_path), "serve", "--tls-cert", missing, "--tls-key", missing
    )
    assert "b24tel.cli.serve" in imported and "b24tel.app" not in imported
    assert not (tmp_path / "b24tel.db").exists()  # and nothing was created


def _modules_after_building_the_app(data_dir: Path, upstream_url: str) -> set[str]:
    """The modules a fresh process has imported after building the app's services."""
    code = (
        "import sys\n"
        "from b24tel.app import build_services\n"
        "from b24tel.config import Settings\n"
        f"build_services(Settings.load(env={{}}, data_dir={str(data_dir)!r},"
        f" upstream_url={upstream_url!r}))\n"
        "print(' '.join(sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


def test_the_app_imports_the_bridge_client_only_in_bridge_mode(tmp_path: Path) -> None:
    """aiohttp, the bridge's client to the portal, costs about 5 % of the app's import CPU
    and 9 MiB: every `serve` and every command that builds the app would pay it."""
    alone = _modules_after_building_the_app(tmp_path / "alone", "")
    assert "b24tel.app" in alone
    assert not {"aiohttp", "b24tel.bridge.upstream", "b24tel.bridge.worker"} & alone
    bridged = _modules_after_building_the_app(
        tmp_path / "bridged", "https://127.0.0.1:9/rest/1/code/"
    )
    assert {"aiohttp", "b24tel.bridge.upstream", "b24tel.bridge.service"} <= bridged


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_loads_under_its_name(name: str) -> None:
    assert load(name).name == name


def test_help_lists_every_command() -> None:
    out = CliRunner().invoke(cli, ["--help"]).output
    listed = {line.split()[0] for line in out.split("Commands:", 1)[1].splitlines() if line}
    assert listed == {*COMMANDS, "config"}


@pytest.mark.parametrize(
    ("group", "sub"),
    [("users", "password"), ("apps", "install"), ("webhooks", "outgoing")],
)
def test_subcommands_added_by_other_modules_are_there(group: str, sub: str) -> None:
    # a fresh process: in this one, another test may have imported the module already
    done = subprocess.run(
        [sys.executable, "-m", "b24tel", group, sub, "--help"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
