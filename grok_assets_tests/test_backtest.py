"""Backtest rules checked on tiny hand-built days; every expected number is worked out by hand."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow as pa
import pytest

from grok_assets.backtest import run_backtest
from grok_assets.schemas import (
    BACKTEST_SCHEMA,
    BARS_5M_SCHEMA,
    CANDIDATE_SCHEMA,
    DAILY_BARS_SCHEMA,
    DATA_SOURCES,
    HOLD_UNTIL_CLOSE,
)

DAY = "2025-01-06"
TOKYO = ZoneInfo("Asia/Tokyo")

# ticker: [(start "HH:MM", open, high, low, close, volume), ...]
BARS_5M: dict[str, list[tuple[str, float, float, float, float, int]]] = {
    # Normal day: 1% TP at 09:05, 2% SL at 12:30, 3% TP at 15:25.
    "1001.T": [
        ("09:00", 1000, 1005, 995, 1002, 100),
        ("09:05", 1002, 1015, 1001, 1012, 50),
        ("11:25", 1012, 1018, 1008, 1010, 30),
        ("12:30", 1010, 1012, 978, 985, 40),
        ("15:25", 985, 1035, 984, 1020, 60),
    ],
    # The 09:00 bar reaches both 1% levels and both 2% levels; 3% is never touched.
    "1002.T": [
        ("09:00", 2000, 2050, 1950, 2010, 10),
        ("09:05", 2010, 2030, 2000, 2020, 10),
        ("12:30", 2020, 2040, 2010, 2030, 10),
        ("15:25", 2030, 2050, 2020, 2040, 10),
    ],
    # No morning session and no daily bar: everything falls back to the afternoon bars.
    "1005.T": [
        ("12:30", 800, 804, 790, 796, 20),
        ("15:25", 796, 830, 795, 828, 30),
    ],
    # Limit-up open: one trade at 09:00, then flat zero-volume bars.
    "1006.T": [
        ("09:00", 1500, 1500, 1500, 1500, 5000),
        ("09:05", 1500, 1500, 1500, 1500, 0),
        ("11:25", 1500, 1500, 1500, 1500, 0),
        ("15:25", 1500, 1500, 1500, 1500, 0),
    ],
}

# (ticker, open, high, low, close, volume)
DAILY: list[tuple[str, float, float, float, float, int]] = [
    ("1001.T", 1000, 1035, 978, 1020, 280),
    ("1002.T", 2000, 2050, 1950, 2040, 40),
    ("1003.T", 500, 520, 490, 510, 1000),  # 1d: no 5-minute bars
    ("1006.T", 1500, 1500, 1500, 1500, 5000),
    ("1007.T", 700, 700, 700, 700, 0),  # 1d limit-up, never traded
]

# (ticker, grok_rank); input order deliberately differs from rank order.
CANDIDATES = [
    ("1003.T", 3),
    ("1001.T", 1),
    ("1004.T", 6),  # no bars at all
    ("1002.T", 2),
    ("1006.T", 5),
    ("1005.T", 4),
    ("1007.T", 7),
]

BASE_COLUMNS = ("data_source", "buy_price", "daily_close", "high", "low", "volume")
EXPECTED_BASE = {
    "1001.T": ("5min", 1000.0, 1020.0, 1035.0, 978.0, 280),
    "1002.T": ("5min", 2000.0, 2040.0, 2050.0, 1950.0, 40),
    "1003.T": ("1d", 500.0, 510.0, 520.0, 490.0, 1000),
    "1004.T": ("no_bars", None, None, None, None, None),
    "1005.T": ("5min", 800.0, 828.0, 830.0, 790.0, 50),
    "1006.T": ("5min", 1500.0, 1500.0, 1500.0, 1500.0, 5000),
    "1007.T": ("1d", 700.0, 700.0, 700.0, 700.0, 0),
}

# Phase 1 sells at ``sell_price``; phase 2 at ``daily_close`` (in EXPECTED_BASE).
PHASE_COLUMNS = (
    "sell_price",
    *(
        name
        for n in (1, 2)
        for name in (f"phase{n}_return", f"phase{n}_win", f"profit_per_100_shares_phase{n}")
    ),
)
EXPECTED_PHASES = {
    "1001.T": (1010.0, 0.01, True, 1000.0, 0.02, True, 2000.0),
    "1002.T": (2020.0, 0.01, True, 2000.0, 0.02, True, 4000.0),
    "1003.T": (None, None, None, None, 0.02, True, 1000.0),
    "1004.T": (None, None, None, None, None, None, None),
    "1005.T": (None, None, None, None, 0.035, True, 2800.0),
    "1006.T": (1500.0, 0.0, False, 0.0, 0.0, False, 0.0),
    "1007.T": (None, None, None, None, 0.0, False, 0.0),
}

PHASE3_COLUMNS = tuple(
    name
    for level in (1, 2, 3)
    for name in (
        f"phase3_{level}pct_return",
        f"phase3_{level}pct_win",
        f"phase3_{level}pct_exit_reason",
        f"profit_per_100_shares_phase3_{level}pct",
    )
)
NO_PHASE3 = (None,) * 12
EXPECTED_PHASE3 = {
    "1001.T": (
        *(0.01, True, "profit_take_1.0%", 1000.0),
        *(-0.02, False, "stop_loss_-2.0%", -2000.0),
        *(0.03, True, "profit_take_3.0%", 3000.0),
    ),
    "1002.T": (
        *(-0.01, False, "stop_loss_-1.0%", -2000.0),
        *(-0.02, False, "stop_loss_-2.0%", -4000.0),
        *(0.02, True, "hold_until_close", 4000.0),
    ),
    "1003.T": NO_PHASE3,
    "1004.T": NO_PHASE3,
    "1005.T": (
        *(-0.01, False, "stop_loss_-1.0%", -800.0),
        *(0.02, True, "profit_take_2.0%", 1600.0),
        *(0.03, True, "profit_take_3.0%", 2400.0),
    ),
    "1006.T": (
        *(0.0, False, "hold_until_close", 0.0),
        *(0.0, False, "hold_until_close", 0.0),
        *(0.0, False, "hold_until_close", 0.0),
    ),
    "1007.T": NO_PHASE3,
}

EXTREME_COLUMNS = (
    "morning_high",
    "morning_low",
    "morning_max_gain_pct",
    "morning_max_drawdown_pct",
    "daily_max_gain_pct",
    "daily_max_drawdown_pct",
)
EXPECTED_EXTREMES = {
    "1001.T": (1018.0, 995.0, 1.8, -0.5, 3.5, -2.2),
    "1002.T": (2050.0, 1950.0, 2.5, -2.5, 2.5, -2.5),
    "1003.T": (None, None, None, None, 4.0, -2.0),
    "1004.T": (None, None, None, None, None, None),
    "1005.T": (None, None, None, None, 3.75, -1.25),
    "1006.T": (1500.0, 1500.0, 0.0, 0.0, 0.0, 0.0),
    "1007.T": (None, None, None, None, 0.0, 0.0),
}


def _candidates(rows: list[tuple[str, int]] = CANDIDATES) -> pd.DataFrame:
    records = [
        {
            "date": DAY,
            "ticker": ticker,
            "code": ticker.removesuffix(".T"),
            "stock_name": f"Name {ticker}",
            "reason": "news",
            "category": "theme",
            "sentiment_score": 0.5,
            "policy_link": None,
            "has_mention": rank % 2 == 0,
            "mentioned_by": None,
            "selection_score": 10.0 - rank,
            "grok_rank": rank,
            "selected_time": "08:30",
            "prompt_version": "v1",
            "model": "grok",
        }
        for ticker, rank in rows
    ]
    return pa.Table.from_pylist(records, schema=CANDIDATE_SCHEMA).to_pandas()


def _daily(rows: list[tuple[str, float, float, float, float, int]], day: str = DAY) -> pd.DataFrame:
    names = ("ticker", "open", "high", "low", "close", "volume")
    records = [{"date": day, **dict(zip(names, row, strict=True))} for row in rows]
    return pa.Table.from_pylist(records, schema=DAILY_BARS_SCHEMA).to_pandas()


def _bars_5m(bars: dict[str, list[tuple[Any, ...]]], day: str = DAY) -> pd.DataFrame:
    date = dt.date.fromisoformat(day)
    records = [
        {
            "datetime": dt.datetime.combine(date, dt.time.fromisoformat(start), TOKYO),
            "date": day,
            "ticker": ticker,
            **dict(zip(("open", "high", "low", "close", "volume"), values, strict=True)),
        }
        for ticker, rows in bars.items()
        for start, *values in rows
    ]
    return pa.Table.from_pylist(records, schema=BARS_5M_SCHEMA).to_pandas()


def _assert_values(
    row: dict[str, Any], columns: tuple[str, ...], expected: tuple[Any, ...]
) -> None:
    for column, value in zip(columns, expected, strict=True):
        if value is None or isinstance(value, bool):
            assert row[column] is value, (row["ticker"], column, row[column])
        elif isinstance(value, float):
            assert row[column] == pytest.approx(value), (row["ticker"], column)
        else:
            assert row[column] == value, (row["ticker"], column)


def _rows(table: pa.Table) -> dict[str, dict[str, Any]]:
    return {row["ticker"]: row for row in table.to_pylist()}


@pytest.fixture
def result() -> pa.Table:
    return run_backtest(_candidates(), _daily(DAILY), _bars_5m(BARS_5M), DAY)


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        (BASE_COLUMNS, EXPECTED_BASE),
        (PHASE_COLUMNS, EXPECTED_PHASES),
        (PHASE3_COLUMNS, EXPECTED_PHASE3),
        (EXTREME_COLUMNS, EXPECTED_EXTREMES),
    ],
    ids=["base", "phase1_2", "phase3", "extremes"],
)
def test_values(
    result: pa.Table, columns: tuple[str, ...], expected: dict[str, tuple[Any, ...]]
) -> None:
    rows = _rows(result)
    assert rows.keys() == expected.keys()
    for ticker, values in expected.items():
        _assert_values(rows[ticker], columns, values)


def test_schema_is_exactly_backtest_schema(result: pa.Table) -> None:
    assert result.schema.equals(BACKTEST_SCHEMA)


def test_ordered_by_rank_with_candidate_columns_carried(result: pa.Table) -> None:
    rows = result.to_pylist()
    assert [row["grok_rank"] for row in rows] == [1, 2, 3, 4, 5, 6, 7]
    assert [row["ticker"] for row in rows[:3]] == ["1001.T", "1002.T", "1003.T"]
    first = rows[0]
    assert first["selection_date"] == DAY and first["backtest_date"] == DAY
    assert (first["code"], first["stock_name"], first["has_mention"]) == (
        "1001",
        "Name 1001.T",
        False,
    )
    assert first["selection_score"] == 9.0


def test_null_booleans_are_null_not_false(result: pa.Table) -> None:
    # 1d and no_bars rows have no phase1 win; False would read as a loss.
    assert result.column("phase1_win").to_pylist()[2:4] == [None, None]
    assert result.column("phase1_win").null_count == 4


def test_other_dates_and_tickers_are_ignored() -> None:
    noise_daily = _daily([("1001.T", 9000, 9999, 1, 5000, 1)], day="2025-01-07")
    noise_daily = pd.concat([noise_daily, _daily([("9999.T", 10, 11, 9, 10, 5)])])
    noise_5m = pd.concat(
        [
            _bars_5m({"1001.T": [("11:25", 1, 9999, 1, 1, 1)]}, day="2024-12-30"),
            _bars_5m({"9999.T": [("09:00", 10, 11, 9, 10, 5)]}),
        ]
    )
    daily = pd.concat([_daily(DAILY), noise_daily], ignore_index=True)
    bars = pd.concat([noise_5m, _bars_5m(BARS_5M)], ignore_index=True)
    noisy = run_backtest(_candidates(), daily, bars, DAY)
    clean = run_backtest(_candidates(), _daily(DAILY), _bars_5m(BARS_5M), DAY)
    assert noisy.equals(clean)


def test_morning_is_judged_in_tokyo_time_whatever_the_input_zone() -> None:
    bars = _bars_5m(BARS_5M)
    bars["datetime"] = bars["datetime"].dt.tz_convert("UTC")
    utc = run_backtest(_candidates(), _daily(DAILY), bars, DAY)
    tokyo = run_backtest(_candidates(), _daily(DAILY), _bars_5m(BARS_5M), DAY)
    assert utc.equals(tokyo)


def test_no_candidates_gives_an_empty_table() -> None:
    table = run_backtest(_candidates([]), _daily(DAILY), _bars_5m(BARS_5M), DAY)
    assert table.num_rows == 0 and table.schema.equals(BACKTEST_SCHEMA)


@pytest.mark.parametrize(
    ("argument", "column"),
    [("candidates", "grok_rank"), ("daily_bars", "close"), ("bars_5m", "datetime")],
)
def test_missing_input_column_is_named(argument: str, column: str) -> None:
    inputs = {
        "candidates": _candidates(),
        "daily_bars": _daily(DAILY),
        "bars_5m": _bars_5m(BARS_5M),
    }
    inputs[argument] = inputs[argument].drop(columns=[column])
    with pytest.raises(ValueError, match=f"{argument} is missing required column.*{column}"):
        run_backtest(backtest_date=DAY, **inputs)


def test_gap_through_a_level_exits_exactly_at_the_level() -> None:
    # The first 5m bar opens at 975 against a daily open of 1000: every stop is already
    # breached at the open, yet the documented exit is the stop level itself.
    daily = _daily([("1001.T", 1000, 1000, 970, 990, 20)])
    bars = _bars_5m(
        {"1001.T": [("09:00", 975, 980, 970, 975, 10), ("15:25", 975, 990, 975, 990, 10)]}
    )
    row = run_backtest(_candidates([("1001.T", 1)]), daily, bars, DAY).to_pylist()[0]
    returns = [row[f"phase3_{level}pct_return"] for level in (1, 2, 3)]
    assert returns == pytest.approx([-0.01, -0.02, -0.03])
    assert [row[f"phase3_{level}pct_exit_reason"] for level in (1, 2, 3)] == [
        "stop_loss_-1.0%",
        "stop_loss_-2.0%",
        "stop_loss_-3.0%",
    ]


def test_a_bar_stamped_11_30_is_a_morning_bar() -> None:
    # As the previous pipeline counted it: the morning is the bars stamped 09:00-11:30.
    daily = _daily([("1001.T", 1000, 1040, 990, 1010, 30)])
    bars = _bars_5m(
        {
            "1001.T": [
                ("09:00", 1000, 1005, 995, 1002, 10),
                ("11:30", 1002, 1040, 990, 1030, 10),
                ("12:30", 1030, 1030, 1005, 1010, 10),
            ]
        }
    )
    row = run_backtest(_candidates([("1001.T", 1)]), daily, bars, DAY).to_pylist()[0]
    assert (row["sell_price"], row["morning_high"], row["morning_low"]) == (1030.0, 1040.0, 990.0)


def test_extremes_are_not_floored_at_zero() -> None:
    # Every morning bar trades below the daily open: the best gain is a loss, as the
    # archive's readers have always seen it.
    daily = _daily([("1001.T", 1000, 1000, 980, 985, 20)])
    bars = _bars_5m(
        {"1001.T": [("09:00", 990, 995, 985, 988, 10), ("11:25", 988, 990, 982, 985, 10)]}
    )
    row = run_backtest(_candidates([("1001.T", 1)]), daily, bars, DAY).to_pylist()[0]
    assert row["morning_max_gain_pct"] == pytest.approx(-0.5)
    assert row["morning_max_drawdown_pct"] == pytest.approx(-1.8)


def test_only_the_established_vocabularies_are_written(result: pa.Table) -> None:
    assert set(result.column("data_source").to_pylist()) <= set(DATA_SOURCES)
    reasons = {
        value
        for level in (1, 2, 3)
        for value in result.column(f"phase3_{level}pct_exit_reason").to_pylist()
        if value is not None
    }
    allowed = {HOLD_UNTIL_CLOSE} | {
        word
        for level in (1, 2, 3)
        for word in (f"profit_take_{level}.0%", f"stop_loss_-{level}.0%")
    }
    assert reasons and reasons <= allowed
