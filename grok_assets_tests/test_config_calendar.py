"""Settings from the environment, and JPX trading days from the XTKS calendar.

Every pinned date below was checked against exchange_calendars 4.13.2 (XTKS).
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from grok_assets import config, trading_calendar
from grok_assets.config import MissingSettingError
from grok_assets.partitions import partition_date, trading_day_partitions
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

TOKYO = ZoneInfo("Asia/Tokyo")


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


# -- config ------------------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (
        "S3_BUCKET",
        "S3_PREFIX",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "GROK_SELECTOR",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_bucket_names_s3_bucket(clean_env: pytest.MonkeyPatch, value: str | None) -> None:
    if value is not None:
        clean_env.setenv("S3_BUCKET", value)
    with pytest.raises(MissingSettingError, match="S3_BUCKET"):
        config.s3_bucket()
    with pytest.raises(MissingSettingError, match="S3_BUCKET"):
        config.location()


def test_bucket_and_default_prefix(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("S3_BUCKET", "my-bucket")
    location = config.location()
    assert location.bucket == "my-bucket"
    assert location.prefix == "parquet/"
    assert location.uri("manifest.json") == "s3://my-bucket/parquet/manifest.json"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("x", "x/"), ("x/", "x/"), ("/x", "x/"), ("a/b", "a/b/"), ("  parquet  ", "parquet/")],
)
def test_prefix_is_normalised(clean_env: pytest.MonkeyPatch, value: str, expected: str) -> None:
    clean_env.setenv("S3_PREFIX", value)
    assert config.s3_prefix() == expected


def test_region_defaults_to_tokyo(clean_env: pytest.MonkeyPatch) -> None:
    assert config.aws_region() == "ap-northeast-1"
    clean_env.setenv("AWS_DEFAULT_REGION", "us-west-2")
    assert config.aws_region() == "us-west-2"
    clean_env.setenv("AWS_REGION", "eu-central-1")
    assert config.aws_region() == "eu-central-1"


def test_endpoint_url_prefers_the_s3_specific_variable(clean_env: pytest.MonkeyPatch) -> None:
    assert config.endpoint_url() is None
    clean_env.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    assert config.endpoint_url() == "http://127.0.0.1:1"
    clean_env.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:2")
    assert config.endpoint_url() == "http://127.0.0.1:2"


def test_selector_default_and_case(clean_env: pytest.MonkeyPatch) -> None:
    assert config.selector_kind() == "xai"
    clean_env.setenv("GROK_SELECTOR", "Replay")
    assert config.selector_kind() == "replay"


def test_bad_selector_is_refused(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("GROK_SELECTOR", "openai")
    with pytest.raises(MissingSettingError, match="GROK_SELECTOR"):
        config.selector_kind()


# -- trading calendar --------------------------------------------------------------------


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


# -- partitions --------------------------------------------------------------------------


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
