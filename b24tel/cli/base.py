"""What every command shares: settings from the group options, a database to work on."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from b24tel.config import Settings, SettingsError
from b24tel.db.engine import Database

T = TypeVar("T")


class Ctx:
    def __init__(self, config: str | None, data_dir: str | None) -> None:
        self.config = config
        self.data_dir = data_dir

    def settings(self, **overrides: Any) -> Settings:
        try:
            return Settings.load(config_file=self.config, data_dir=self.data_dir, **overrides)
        except (SettingsError, OSError) as exc:
            raise click.ClickException(str(exc)) from exc


def run_db(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    async def main() -> T:
        db = Database(settings.effective_database_url)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(main())
