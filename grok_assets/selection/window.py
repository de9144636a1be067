"""The window tonight's search covers for trading day N, from the JPX calendar alone.

D1 is the latest trading day before N (its close is the last known price), D2 the
calendar day before N, the evening the selection runs at 23:00 Tokyo. Both follow from
N, never from today: a re-run or backfill of a past day searches the same window, so
nothing posted on N or later reaches N's picks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from grok_assets import trading_calendar
from grok_assets.trading_calendar import TOKYO

CUTOFF = dt.time(23, 0)


@dataclass(frozen=True)
class SearchWindow:
    trading_day: dt.date
    from_date: dt.date  # D1
    to_date: dt.date  # D2

    @property
    def cutoff(self) -> dt.datetime:
        """23:00 Tokyo on D2, the time the selection is made as of."""
        return dt.datetime.combine(self.to_date, CUTOFF, tzinfo=ZoneInfo(TOKYO))


def selection_evening(trading_day: dt.date) -> dt.date:
    """D2: the calendar day before N, whatever day the selection is actually run."""
    return trading_day - dt.timedelta(days=1)


def search_window(trading_day: dt.date) -> SearchWindow:
    return SearchWindow(
        trading_day=trading_day,
        from_date=trading_calendar.previous_trading_day(trading_day),
        to_date=selection_evening(trading_day),
    )
