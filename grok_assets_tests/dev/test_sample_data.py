"""Synthetic sample bars: schemas, labelling, determinism and daily/5m consistency."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import pandas as pd
import pyarrow as pa
import pytest

from grok_assets.dev.sample_data import (
    SAMPLE_LABEL,
    SAMPLE_TICKERS,
    SAMPLE_UNIVERSE,
    sample_5m_bars,
    sample_daily_bars,
)
from grok_assets.schemas import BARS_5M_SCHEMA, DAILY_BARS_SCHEMA

DAYS = [dt.date(2025, 1, 6), dt.date(2025, 1, 7), dt.date(2025, 1, 8)]


@pytest.fixture(scope="module")
def daily() -> pd.DataFrame:
    return sample_daily_bars(DAYS).to_pandas()


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return sample_5m_bars(DAYS).to_pandas()


def test_universe_is_real_looking_and_unique() -> None:
    codes = [code for code, _ in SAMPLE_UNIVERSE]
    assert len(codes) == len(set(codes)) >= 20
    assert all(len(code) == 4 and code.isdigit() for code in codes)
    assert ("7203", "Toyota Motor") in SAMPLE_UNIVERSE
    assert SAMPLE_TICKERS[0] == "7203.T"


@pytest.mark.parametrize(
    ("make", "schema"),
    [(sample_daily_bars, DAILY_BARS_SCHEMA), (sample_5m_bars, BARS_5M_SCHEMA)],
)
def test_schema_and_label(make: Callable[[Sequence[dt.date]], pa.Table], schema: pa.Schema) -> None:
    table = make(DAYS)
    assert table.schema.equals(schema)
    assert table.schema.metadata == {b"grok_assets.sample": SAMPLE_LABEL.encode()}
    empty = make([])
    assert empty.num_rows == 0 and empty.schema.equals(schema)


def test_every_ticker_every_day(daily: pd.DataFrame, bars: pd.DataFrame) -> None:
    assert len(daily) == len(DAYS) * len(SAMPLE_TICKERS)
    assert set(daily["date"]) == {day.isoformat() for day in DAYS}
    assert daily.groupby("date")["ticker"].apply(set).map(len).eq(len(SAMPLE_TICKERS)).all()
    assert bars.groupby(["date", "ticker"]).size().eq(66).all()


def test_deterministic_per_seed() -> None:
    assert sample_5m_bars(DAYS, seed=3).equals(sample_5m_bars(DAYS, seed=3))
    assert not sample_daily_bars(DAYS, seed=3).equals(sample_daily_bars(DAYS, seed=4))


def test_a_day_does_not_depend_on_the_other_days_requested(daily: pd.DataFrame) -> None:
    alone = sample_daily_bars([DAYS[1]]).to_pandas()
    reversed_request = sample_daily_bars([DAYS[2], DAYS[1], DAYS[0]]).to_pandas()
    in_range = daily[daily["date"] == DAYS[1].isoformat()].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone, in_range)
    pd.testing.assert_frame_equal(reversed_request, daily)


def test_bar_times_are_the_tse_sessions_in_tokyo(bars: pd.DataFrame) -> None:
    one = bars[(bars["ticker"] == "7203.T") & (bars["date"] == "2025-01-07")]
    times = one["datetime"].dt.strftime("%H:%M").tolist()
    assert times[0] == "09:00" and times[29] == "11:25"
    assert times[30] == "12:30" and times[-1] == "15:25"
    assert (one["datetime"].diff().dropna() >= pd.Timedelta(minutes=5)).all()
    assert (one["datetime"].dt.strftime("%Y-%m-%d") == one["date"]).all()
    assert str(bars["datetime"].dt.tz) == "Asia/Tokyo"


def test_daily_bars_aggregate_the_5m_bars(daily: pd.DataFrame, bars: pd.DataFrame) -> None:
    grouped = bars.sort_values("datetime").groupby(["date", "ticker"])
    aggregated = grouped.agg(
        open=("open", "first"),
        high=("high", "max"),
        low=("low", "min"),
        close=("close", "last"),
        volume=("volume", "sum"),
    )
    expected = daily.set_index(["date", "ticker"]).loc[aggregated.index]
    pd.testing.assert_frame_equal(aggregated, expected)


def test_prices_are_whole_yen_and_bars_coherent(bars: pd.DataFrame) -> None:
    prices = bars[["open", "high", "low", "close"]]
    assert (prices == prices.round()).all().all() and (prices >= 1).all().all()
    assert (bars["high"] >= prices.max(axis=1)).all()
    assert (bars["low"] <= prices.min(axis=1)).all()
    assert (bars["volume"] > 0).all()
