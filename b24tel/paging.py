"""Pages of list methods: 50 rows at an offset, and what the envelope hoists
(docs/reference/protocol.md, "Lists")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PAGE_SIZE = 50


@dataclass
class ListResult:
    """What a list method returns; the envelope hoists ``next`` and ``total``."""

    items: list[Any]
    total: int | None  # None: counting was switched off with start=-1
    next: int | None = None

    @classmethod
    def page(cls, items: list[Any], total: int | None, start: int) -> ListResult:
        if total is None:
            return cls(items, None, None)
        nxt = start + len(items)
        return cls(items, total, nxt if nxt < total else None)
