"""One partition per JPX trading day, keyed ``YYYY-MM-DD`` in Asia/Tokyo.

``end_offset=2`` makes the next trading day's key exist at 23:00 the evening before
even across a holiday Monday (checked: with 1 it may not). The partitions end where
the installed exchange calendar ends, so a day the calendar cannot vouch for never
becomes a partition.
"""

from __future__ import annotations

import datetime as dt
import functools

from dagster import TimeWindowPartitionsDefinition

from grok_assets import trading_calendar
from grok_assets.trading_calendar import TOKYO

PARTITION_KEY_FORMAT = "%Y-%m-%d"


@functools.lru_cache(maxsize=1)
def trading_day_partitions() -> TimeWindowPartitionsDefinition:
    start = dt.date.fromisoformat(trading_calendar.PARTITIONS_START)
    last = trading_calendar.last_known_day()
    closures = trading_calendar.weekday_closures(start, last)
    return TimeWindowPartitionsDefinition(
        cron_schedule="0 0 * * 1-5",
        start=start.isoformat(),
        end=(last + dt.timedelta(days=1)).isoformat(),
        fmt=PARTITION_KEY_FORMAT,
        timezone=TOKYO,
        end_offset=2,
        exclusions=[dt.datetime.combine(day, dt.time()) for day in closures],
    )


def partition_date(partition_key: str) -> dt.date:
    """The trading day a partition key names, refusing anything that is not one."""
    day = trading_calendar.parse_date(partition_key)
    if partition_key != day.isoformat():
        raise ValueError(f"partition key {partition_key!r} is not in YYYY-MM-DD form")
    return trading_calendar.require_trading_day(day)
