"""Synthetic sample bars (schemas, labelling, determinism and daily/5m consistency) and
recorded answers."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence

import pandas as pd
import pyarrow as pa
import pytest

from grok_assets.dev.sample_data import (
    SAMPLE_LABEL,
    SAMPLE_MARK,
    SAMPLE_MODEL,
    SAMPLE_TICKERS,
    SAMPLE_UNIVERSE,
    sample_5m_bars,
    sample_answer,
    sample_daily_bars,
    sample_picks,
)
from grok_assets.schemas import BARS_5M_SCHEMA, DAILY_BARS_SCHEMA
from grok_assets.selection import grounding
from grok_assets.selection.selector import selection_from

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


# -- recorded answers ------------------------------------------------------------------------

ANSWER_DATE = "2025-06-02"
NAMED = [(str(1300 + i), f"サンプル{i}") for i in range(30)]


def test_sample_answer_is_a_recorded_response_that_passes_the_grounding_rule() -> None:
    text = sample_answer(ANSWER_DATE, NAMED)
    assert text == sample_answer(ANSWER_DATE, NAMED)
    assert text != sample_answer(ANSWER_DATE, NAMED, seed=1)
    assert text != sample_answer("2025-06-03", NAMED)
    body = json.loads(text)
    assert body["object"] == "response" and body["model"] == SAMPLE_MODEL
    # The real rule, not a shortcut: search ran, every pick's evidence is cited.
    document = {"trading_date": ANSWER_DATE, "source": "replay", "response": body}
    selection = selection_from(document, where="s3://b/grok/replay/20250602.json")
    assert selection.table.num_rows == 12 and selection.dropped == ()
    assert all(SAMPLE_MARK in r for r in selection.table.column("reason").to_pylist())
    assert set(selection.table.column("model").to_pylist()) == {SAMPLE_MODEL}
    usage = grounding.search_usage(body)
    assert usage.per_tool() == {"x_search": 2, "web_search": 1}
    assert grounding.cost_usd(body) is not None
    # Quoted under the author's handle, cited as xAI cites posts.
    first = sample_picks(ANSWER_DATE, NAMED)[0]["evidence_urls"][0]
    assert first.startswith("https://x.com/sample_") and "/status/" in first
    assert any(c.startswith("https://x.com/i/status/") for c in grounding.citation_urls(body))
    with pytest.raises(ValueError, match="at least 12"):
        sample_answer(ANSWER_DATE, NAMED[:11])


def test_sample_evidence_points_nowhere_real() -> None:
    picks = sample_picks(ANSWER_DATE, NAMED)
    for pick in picks:
        post, article = pick["evidence_urls"]
        assert post.split("/")[3].startswith("sample_")
        assert article.startswith("https://example.com/sample-news/")
