"""One partition per JPX trading day: the partitions and the calendar agree.

Every pinned date below was checked against exchange_calendars 4.13.2 (XTKS).
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from grok_assets.defs.partitions import partition_date, trading_day_partitions
from grok_assets.trading_calendar import NotATradingDayError, next_trading_day, trading_days

TOKYO = ZoneInfo("Asia/Tokyo")


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def keys_at(moment: dt.datetime) -> list[str]:
    return trading_day_partitions().get_partition_keys(current_time=moment)


def test_holiday_weekdays_are_not_partition_keys() -> None:
    keys = set(keys_at(dt.datetime(2027, 1, 15, 12, tzinfo=TOKYO)))
    for holiday in ("2025-09-15", "2025-12-31", "2026-01-02", "2026-05-05", "2026-11-23"):
        assert holiday not in keys
    assert {"2025-09-16", "2026-05-07", "2026-11-24", "2027-01-04"} <= keys
    # Exactly the trading days: the partitions and the calendar agree.
    in_range = {key for key in keys if "2025-01-01" <= key <= "2026-12-31"}
    expected = {day.isoformat() for day in trading_days(d("2025-01-01"), d("2026-12-31"))}
    assert in_range == expected


@pytest.mark.parametrize(
    ("moment", "next_day"),
    [
        (dt.datetime(2026, 11, 22, 23, tzinfo=TOKYO), "2026-11-24"),  # Sunday, holiday Monday
        (dt.datetime(2026, 11, 23, 23, tzinfo=TOKYO), "2026-11-24"),  # the holiday itself
        (dt.datetime(2026, 4, 30, 23, tzinfo=TOKYO), "2026-05-01"),  # Thursday before GW
        (dt.datetime(2026, 5, 6, 23, tzinfo=TOKYO), "2026-05-07"),  # last day of GW
        (dt.datetime(2025, 12, 30, 23, tzinfo=TOKYO), "2026-01-05"),  # New Year closure
        (dt.datetime(2026, 9, 20, 23, tzinfo=TOKYO), "2026-09-24"),  # Silver Week
        (dt.datetime(2026, 11, 19, 23, tzinfo=TOKYO), "2026-11-20"),  # Thursday
    ],
)
def test_next_trading_days_key_exists_at_23_00_the_evening_before(
    moment: dt.datetime, next_day: str
) -> None:
    keys = keys_at(moment)
    assert next_day in keys
    # The newest key is that day's or, after a holiday, the one after: never further.
    assert keys[-1] in (next_day, next_trading_day(d(next_day)).isoformat())
    assert partition_date(next_day) == d(next_day)


def test_partition_date_refuses_non_trading_days_and_other_formats() -> None:
    with pytest.raises(NotATradingDayError):
        partition_date("2026-11-23")
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        partition_date("20261124")
