"""The dashboard: calls per hour (24 h) and per day (30 days), answered against missed, the
busiest numbers and users, recording storage — drawn as SVG on the server (no script)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from b24tel.recordings.models import RecordingFile
from b24tel.telephony.models import Statistic
from b24tel.telephony.outcomes import ANSWERED
from b24tel.web import repository as repo

WIDTH, HEIGHT = 720, 160


@dataclass(frozen=True)
class Figures:
    hourly: Markup
    daily: Markup
    numbers: Markup
    users: Markup
    storage: Markup
    calls_30d: int
    answered_30d: int


def _hour_key(dialect: str) -> Any:
    column = Statistic.call_start_date
    if dialect == "postgresql":
        return func.to_char(column, "YYYY-MM-DD HH24")
    return func.strftime("%Y-%m-%d %H", column)


async def figures(
    s: AsyncSession, now: dt.datetime, tz: ZoneInfo, user_id: int | None, dialect: str
) -> Figures:
    since = now - dt.timedelta(days=30)
    mine = [Statistic.portal_user_id == user_id] if user_id is not None else []
    hour = _hour_key(dialect)
    answered = func.sum(case((Statistic.call_failed_code == ANSWERED, 1), else_=0))
    stmt = (
        select(hour, func.count(), answered)
        .where(Statistic.call_start_date >= since, *mine)
        .group_by(hour)
    )
    per_hour: dict[dt.datetime, tuple[int, int]] = {}
    for key, count, ok in (await s.execute(stmt)).all():
        start = dt.datetime.strptime(key, "%Y-%m-%d %H").replace(tzinfo=dt.UTC)
        per_hour[start] = (int(ok or 0), int(count) - int(ok or 0))
    hourly = _hours(per_hour, now, tz)
    daily = _days(per_hour, now, tz)
    top_numbers = await _top(s, Statistic.phone_number, since, mine)
    top_users = await _top(s, Statistic.portal_user_id, since, mine)
    names = await repo.user_names(s, [u for u, _ in top_users])
    return Figures(
        hourly=bars(hourly, "calls per hour, last 24 hours"),
        daily=bars(daily, "calls per day, last 30 days"),
        numbers=ranking([(str(n), c) for n, c in top_numbers], "busiest numbers"),
        users=ranking(
            [(names.get(int(u or 0), f"User {u}"), c) for u, c in top_users], "busiest users"
        ),
        storage=await _storage(s),
        calls_30d=sum(a + m for a, m in per_hour.values()),
        answered_30d=sum(a for a, _ in per_hour.values()),
    )


def _hours(
    per_hour: dict[dt.datetime, tuple[int, int]], now: dt.datetime, tz: ZoneInfo
) -> list[tuple[str, int, int]]:
    top = now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    out = []
    for back in range(23, -1, -1):
        start = top - dt.timedelta(hours=back)
        ok, missed = per_hour.get(start, (0, 0))
        out.append((start.astimezone(tz).strftime("%H:00"), ok, missed))
    return out


def _days(
    per_hour: dict[dt.datetime, tuple[int, int]], now: dt.datetime, tz: ZoneInfo
) -> list[tuple[str, int, int]]:
    ok_by_day: Counter[dt.date] = Counter()
    missed_by_day: Counter[dt.date] = Counter()
    for start, (ok, missed) in per_hour.items():
        day = start.astimezone(tz).date()
        ok_by_day[day] += ok
        missed_by_day[day] += missed
    today = now.astimezone(tz).date()
    days = [today - dt.timedelta(days=back) for back in range(29, -1, -1)]
    return [(d.strftime("%d.%m"), ok_by_day[d], missed_by_day[d]) for d in days]


async def _top(
    s: AsyncSession, column: Any, since: dt.datetime, mine: list[Any], limit: int = 8
) -> list[tuple[Any, int]]:
    stmt = (
        select(column, func.count())
        .where(Statistic.call_start_date >= since, *mine)
        .group_by(column)
        .order_by(func.count().desc())
        .limit(limit)
    )
    return [(k, int(c)) for k, c in (await s.execute(stmt)).all() if k is not None]


async def _storage(s: AsyncSession) -> Markup:
    live = RecordingFile.deleted_at.is_(None)
    current = func.sum(case((RecordingFile.replaced_at.is_(None), RecordingFile.size), else_=0))
    total = func.sum(RecordingFile.size)
    row = (await s.execute(select(func.count(), current, total).where(live))).one()
    files, now_bytes, all_bytes = int(row[0]), int(row[1] or 0), int(row[2] or 0)
    return ranking(
        [
            (f"current ({files} files in all)", now_bytes),
            ("earlier versions", all_bytes - now_bytes),
        ],
        "recording storage",
        unit=_size,
        width=WIDTH,
    )


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def bars(series: list[tuple[str, int, int]], title: str) -> Markup:
    """Stacked columns: answered (below) and missed (above), a label every few columns."""
    top = max([ok + missed for _, ok, missed in series] + [1])
    step = WIDTH / max(1, len(series))
    label_every = max(1, len(series) // 8)
    out = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT + 20}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for i, (label, ok, missed) in enumerate(series):
        x, w = i * step + 1, max(1.0, step - 2)
        h_ok, h_missed = HEIGHT * ok / top, HEIGHT * missed / top
        tip = escape(f"{label}: {ok} answered, {missed} missed")
        out.append(
            f"<g><title>{tip}</title>"
            f'<rect class="ok" x="{x:.1f}" y="{HEIGHT - h_ok:.1f}" width="{w:.1f}" '
            f'height="{h_ok:.1f}"/><rect class="missed" x="{x:.1f}" '
            f'y="{HEIGHT - h_ok - h_missed:.1f}" width="{w:.1f}" height="{h_missed:.1f}"/>'
            "</g>"
        )
        if i % label_every == 0:
            out.append(f'<text x="{x:.1f}" y="{HEIGHT + 14}">{escape(label)}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def _cut(label: str, room: int) -> str:
    """The label, or as much as fits with an ellipsis (the bar's tooltip has it whole)."""
    return label if len(label) <= room else label[: room - 1] + "…"


def ranking(items: list[tuple[str, int]], title: str, unit: Any = str, width: int = 420) -> Markup:
    """Horizontal bars with their labels (user-supplied text, escaped)."""
    top = max([c for _, c in items] + [1])
    row_h = 24
    height = max(1, len(items)) * row_h
    label_w = 150 if width < WIDTH else 250
    out = [
        f'<svg class="ranking" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    if not items:
        out.append('<text x="0" y="16">no calls yet</text>')
    for i, (label, count) in enumerate(items):
        y, w = i * row_h, max(2.0, (width - label_w - 90) * count / top)
        out.append(
            f"<g><title>{escape(label)}: {escape(unit(count))}</title>"
            f'<text x="0" y="{y + 16}">{escape(_cut(label, label_w // 8))}</text>'
            f'<rect class="ok" x="{label_w}" y="{y + 4}" width="{w:.1f}" height="16"/>'
            f'<text x="{label_w + 6 + w:.1f}" y="{y + 16}">{escape(unit(count))}</text></g>'
        )
    out.append("</svg>")
    return Markup("".join(out))
