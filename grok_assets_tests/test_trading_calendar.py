"""JPX trading days from the XTKS calendar.

Every pinned date below was checked against exchange_calendars 4.13.2 (XTKS).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from grok_assets import trading_calendar
from grok_assets.trading_calendar import (
    CalendarHorizonError,
    NotATradingDayError,
    is_trading_day,
    next_trading_day,
    parse_date,
    previous_trading_day,
    trading_days,
    weekday_closures,
)


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("2026-11-20", "2026-11-24"),  # Friday -> Tuesday over Labor Thanksgiving Monday
        ("2026-11-13", "2026-11-16"),  # plain Friday -> Monday
        ("2025-09-12", "2025-09-16"),  # Friday -> Tuesday over Respect for the Aged Day
        ("2026-05-01", "2026-05-07"),  # Golden Week 2026: May 4-6 closed
        ("2026-04-28", "2026-04-30"),  # Showa Day, Wednesday 2026-04-29
        ("2025-12-30", "2026-01-05"),  # New Year closure Dec 31 - Jan 2, then a weekend
        ("2026-12-30", "2027-01-04"),  # New Year closure 2026/27
        ("2026-09-18", "2026-09-24"),  # Silver Week 2026: Sep 21-23 closed
        ("2027-05-01", "2027-05-06"),  # Golden Week 2027 (Saturday start): May 3-5 closed
    ],
)
def test_next_trading_day(day: str, expected: str) -> None:
    assert next_trading_day(d(day)) == d(expected)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("2026-01-05", "2025-12-30"),
        ("2026-11-24", "2026-11-20"),
        ("2026-05-07", "2026-05-01"),
        ("2026-09-24", "2026-09-18"),
        ("2026-11-16", "2026-11-13"),
    ],
)
def test_previous_trading_day(day: str, expected: str) -> None:
    assert previous_trading_day(d(day)) == d(expected)


@pytest.mark.parametrize(
    "holiday",
    [
        "2025-09-15",  # Respect for the Aged Day (Monday)
        "2025-12-31",
        "2026-01-01",
        "2026-01-02",
        "2026-05-04",
        "2026-05-05",
        "2026-05-06",
        "2026-09-21",
        "2026-09-22",
        "2026-09-23",
        "2026-11-23",  # Labor Thanksgiving Day (Monday)
        "2027-01-11",  # Coming of Age Day 2027
    ],
)
def test_weekday_holidays_do_not_trade(holiday: str) -> None:
    assert d(holiday).weekday() < 5
    assert not is_trading_day(d(holiday))
    with pytest.raises(NotATradingDayError, match=holiday):
        trading_calendar.require_trading_day(d(holiday))


def test_trading_days_in_a_holiday_week() -> None:
    assert trading_days(d("2026-11-20"), d("2026-11-27")) == [
        d("2026-11-20"),
        d("2026-11-24"),
        d("2026-11-25"),
        d("2026-11-26"),
        d("2026-11-27"),
    ]
    assert trading_days(d("2026-09-19"), d("2026-09-23")) == []


def test_weekday_closures_of_2026() -> None:
    closures = weekday_closures(d("2026-01-01"), d("2026-12-31"))
    assert d("2026-11-23") in closures
    assert [day for day in closures if day.month in (5, 9)] == [
        d("2026-05-04"),
        d("2026-05-05"),
        d("2026-05-06"),
        d("2026-09-21"),
        d("2026-09-22"),
        d("2026-09-23"),
    ]
    assert all(day.weekday() < 5 for day in closures)


def test_past_the_horizon_is_an_error_not_a_holiday() -> None:
    last = trading_calendar.last_known_day()
    beyond = last + dt.timedelta(days=1)
    while beyond.weekday() >= 5:
        beyond += dt.timedelta(days=1)
    assert is_trading_day(last)
    with pytest.raises(CalendarHorizonError, match=beyond.isoformat()):
        is_trading_day(beyond)
    with pytest.raises(CalendarHorizonError):
        next_trading_day(last)
    with pytest.raises(CalendarHorizonError):
        trading_days(last, beyond)
    with pytest.raises(CalendarHorizonError):
        weekday_closures(last, beyond + dt.timedelta(days=30))


def test_before_the_calendar_start_is_an_error() -> None:
    first = trading_calendar.first_known_day()
    with pytest.raises(CalendarHorizonError):
        previous_trading_day(first)


@pytest.mark.parametrize(
    "bad",
    ["2026-02-30", "../x", "20261301", "20261", "2026-11-2", "2026/11/24", "", "2026-11-24x"],
)
def test_parse_date_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(bad))):
        parse_date(bad)


@pytest.mark.parametrize("good", ["20261124", "2026-11-24", " 2026-11-24\n"])
def test_parse_date_accepts(good: str) -> None:
    assert parse_date(good) == d("2026-11-24")
