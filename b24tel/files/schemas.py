"""Params of the recording file methods."""

from __future__ import annotations

from b24tel.rest.params import LegacyParams, OptInt


class FileGetParams(LegacyParams):
    id: OptInt = None
