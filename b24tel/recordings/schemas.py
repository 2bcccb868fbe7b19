"""Params of the recording file methods."""

from __future__ import annotations

from typing import Any

from b24tel.rest.params import LegacyParams


class FileGetParams(LegacyParams):
    id: Any = None
