"""When each trading day's data is due, in Tokyo time: the freshness rules.

- The archive must hold day N by 17:00 on N (the 16:00 backtest has an hour).
- ``grok_trending.parquet`` must hold N by 23:30 on N's eve, the calendar day before
  N (the 23:00 selection has half an hour), so Monday's by Sunday 23:30.

Each function answers "which day must be there at ``now``": the newest trading day
whose deadline has passed. Days that do not trade have no deadline, so a Saturday
still expects Friday's archive. Pure: the calendar only, no I/O.
"""

from __future__ import annotations

import datetime as dt

from grok_assets import trading_calendar
from grok_assets.trading_calendar import TOKYO_TZ

ARCHIVE_DEADLINE = dt.time(17, 0)
SELECTION_DEADLINE = dt.time(23, 30)


def _tokyo(now: dt.datetime) -> dt.datetime:
    if now.tzinfo is None:
        raise ValueError(f"{now.isoformat()} has no timezone; deadlines are instants")
    return now.astimezone(TOKYO_TZ)


def _trading_day_on_or_before(day: dt.date) -> dt.date:
    return (
        day if trading_calendar.is_trading_day(day) else trading_calendar.previous_trading_day(day)
    )


def archive_due(now: dt.datetime) -> dt.date:
    """The trading day the archive must hold at ``now``."""
    local = _tokyo(now)
    last = local.date() if local.time() >= ARCHIVE_DEADLINE else local.date() - dt.timedelta(days=1)
    return _trading_day_on_or_before(last)


def archive_deadline(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, ARCHIVE_DEADLINE, tzinfo=TOKYO_TZ)


def selection_due(now: dt.datetime) -> dt.date:
    """The trading day ``grok_trending.parquet`` must hold (at least) at ``now``."""
    local = _tokyo(now)
    last_eve = (
        local.date() if local.time() >= SELECTION_DEADLINE else local.date() - dt.timedelta(days=1)
    )
    return _trading_day_on_or_before(last_eve + dt.timedelta(days=1))


def selection_deadline(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day - dt.timedelta(days=1), SELECTION_DEADLINE, tzinfo=TOKYO_TZ)


def tokyo_minute(moment: dt.datetime) -> str:
    """``2026-11-30 17:01 Tokyo``: how an instant is shown to a person."""
    return _tokyo(moment).strftime("%Y-%m-%d %H:%M Tokyo")
