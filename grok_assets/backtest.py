"""Backtest of one day's candidates on that day's price bars.

Rules (one row per candidate, ordered by ``grok_rank``; nothing is ever dropped). Column
names and vocabularies are the archive's established ones (UPSTREAM.md); where this
project's rule differs from the previous pipeline's, both are given.

- Bars are those whose ``date`` equals the backtest date; a bar with any null price is
  treated as missing. 5-minute bar times are taken in Asia/Tokyo (naive times are read
  as Tokyo time); a bar is a *morning* bar when it is stamped 09:00-11:30.
- ``data_source``: ``"5min"`` when the ticker has 5-minute bars, ``"1d"`` when it has
  only a daily bar, ``"no_bars"`` when it has neither (halt, delisting: the row is kept
  with every metric null; the previous pipeline dropped such a ticker).
- ``buy_price`` is the daily open; ``daily_close``/``high``/``low``/``volume`` come from
  the daily bar. Each falls back separately to the 5-minute bars (first open, last close,
  max high, min low, summed volume) when the daily bar lacks it.
- Returns are fractions: ``return = sell / buy_price - 1``, ``win = return > 0``,
  ``profit_per_100_shares_* = (sell - buy_price) * 100`` (one 100-share lot, in yen). All
  three are null when ``buy_price`` is missing or not positive. Null wins are null, not
  False.
- phase 1 sells at ``sell_price``, the close of the last morning bar; null without 5m
  bars or without any morning bar. ``morning_high``/``morning_low`` are the morning
  bars' extremes.
- phase 2 sells at ``daily_close``; computed for ``"5min"`` and ``"1d"``.
- phase 3 (levels 1, 2, 3 %): take-profit at ``buy * (1 + x)``, stop-loss at
  ``buy * (1 - x)``. Bars are scanned in time order from the first bar of the day; the
  first bar whose high reaches TP or low reaches SL decides. The exit price is exactly
  the level, even when a bar opens beyond it. Exit reasons ``profit_take_x.0%``,
  ``stop_loss_-x.0%``, ``hold_until_close``; null without 5m bars.
  *This project*: a bar reaching both levels counts as the stop-loss (the cautious
  reading: within one bar the order of high and low is unknown), and an untouched
  position exits at ``daily_close``. *The previous pipeline* decided both points by
  rules of its own (UPSTREAM.md records its exit words, not those rules); its rows are
  kept as written, and its older rows also hold ``eod_close`` and ``loss_cut_3.0%``.
- ``morning_max_gain_pct``/``morning_max_drawdown_pct`` are the morning max high / min
  low against ``buy_price`` in percent; ``daily_max_*`` use the daily high/low; like
  the previous pipeline's, they are not floored at 0.
- No fill model: the buy is assumed filled at the open even on a limit-up open that then
  never trades. Such a day (open == high == low == close, zero-volume bars) simply gives
  returns of 0, ``win`` False and phase 3 reason ``hold_until_close``.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa

from grok_assets.schemas import (
    BACKTEST_SCHEMA,
    HOLD_UNTIL_CLOSE,
    PHASE3_LEVELS,
    TOKYO,
    stop_loss_reason,
    take_profit_reason,
)
from grok_assets.trading_calendar import parse_date

# The last minute a morning bar may be stamped (the session closes at 11:30).
MORNING_LAST_MINUTE = 11 * 60 + 30

_PRICES = ("open", "high", "low", "close")
_CARRIED = (
    "ticker",
    "code",
    "stock_name",
    "category",
    "reason",
    "grok_rank",
    "selection_score",
    "sentiment_score",
    "policy_link",
    "has_mention",
    "mentioned_by",
    "prompt_version",
    "model",
    "response_id",
    "selected_time",
)
_CANDIDATE_COLUMNS = ("date", *_CARRIED)
_DAILY_COLUMNS = ("date", "ticker", *_PRICES, "volume")
_5M_COLUMNS = ("datetime", *_DAILY_COLUMNS)


def run_backtest(
    candidates: pd.DataFrame,
    daily_bars: pd.DataFrame,
    bars_5m: pd.DataFrame,
    backtest_date: str,
) -> pa.Table:
    """Backtest ``candidates`` on ``backtest_date``; returns a BACKTEST_SCHEMA table."""
    _require_columns(candidates, _CANDIDATE_COLUMNS, "candidates")
    _require_columns(daily_bars, _DAILY_COLUMNS, "daily_bars")
    _require_columns(bars_5m, _5M_COLUMNS, "bars_5m")
    day = parse_date(backtest_date).isoformat()
    tickers = pd.Index(candidates["ticker"].unique(), name="ticker")

    daily = _day_rows(daily_bars, day, tickers, ["ticker"]).set_index("ticker").reindex(tickers)
    metrics = _metrics(tickers, daily, _day_rows(bars_5m, day, tickers, ["ticker", "datetime"]))

    out = candidates.rename(columns={"date": "selection_date"}).assign(backtest_date=day)
    out = out.merge(metrics, left_on="ticker", right_index=True, how="left")
    out = out.sort_values("grok_rank", kind="stable", na_position="last")
    return pa.Table.from_pandas(
        out[BACKTEST_SCHEMA.names], schema=BACKTEST_SCHEMA, preserve_index=False
    )


def _require_columns(frame: pd.DataFrame, columns: Iterable[str], name: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{name} is missing required column(s): {', '.join(missing)}")


def _day_rows(bars: pd.DataFrame, day: str, tickers: pd.Index, key: list[str]) -> pd.DataFrame:
    rows = bars[(bars["date"] == day) & bars["ticker"].isin(tickers)]
    # A repeated bar is a re-download; the later copy is the one to trust.
    return rows.dropna(subset=list(_PRICES)).drop_duplicates(key, keep="last")


def _metrics(tickers: pd.Index, daily: pd.DataFrame, m5: pd.DataFrame) -> pd.DataFrame:
    times = pd.to_datetime(m5["datetime"])
    times = times.dt.tz_convert(TOKYO) if times.dt.tz else times.dt.tz_localize(TOKYO)
    col, slots = pd.factorize(times, sort=True)
    row = tickers.get_indexer(m5["ticker"])
    # One all-null slot when there are no bars keeps argmax and slicing shape-safe.
    width = max(len(slots), 1)

    def grid(field: str) -> np.ndarray:
        values = np.full((len(tickers), width), np.nan)
        values[row, col] = m5[field].to_numpy(dtype=float, na_value=np.nan)
        return values

    o, h, lo, c, v = (grid(field) for field in (*_PRICES, "volume"))
    morning = np.zeros(width, dtype=bool)
    morning[: len(slots)] = slots.hour * 60 + slots.minute <= MORNING_LAST_MINUTE
    has_5m = ~np.isnan(o).all(axis=1)

    def daily_or(field: str, fallback: np.ndarray) -> np.ndarray:
        return np.where(
            daily[field].isna(), fallback, daily[field].to_numpy(dtype=float, na_value=np.nan)
        )

    buy = daily_or("open", _first(o))
    close = daily_or("close", _first(c[:, ::-1]))
    high = daily_or("high", _fmax(h))
    low = daily_or("low", _fmin(lo))
    volume = daily_or("volume", np.where(has_5m, np.nansum(v, axis=1), np.nan))
    base = np.where(buy > 0, buy, np.nan)  # guards every ratio against zero/absent buys

    out: dict[str, object] = {
        "data_source": np.select([has_5m, daily["open"].notna()], ["5min", "1d"], "no_bars"),
        "buy_price": buy,
        "daily_close": close,
        "high": high,
        "low": low,
        "volume": pd.array(volume).astype("Int64"),
    }
    phase1_exit = _first(c[:, morning][:, ::-1])
    out["sell_price"] = phase1_exit
    out |= _trade("phase1", base, phase1_exit)
    out |= _trade("phase2", base, close)
    rows = np.arange(len(tickers))
    for level in PHASE3_LEVELS:
        take, stop = base * (1 + level / 100), base * (1 - level / 100)
        hit_stop = lo <= stop[:, None]
        hit = hit_stop | (h >= take[:, None])
        first_hit = hit.argmax(axis=1)
        touched = hit.any(axis=1)
        stopped = touched & hit_stop[rows, first_hit]
        valid = has_5m & ~np.isnan(base)
        exit_price = np.where(valid, np.select([stopped, touched], [stop, take], close), np.nan)
        reason = np.select(
            [stopped, touched],
            [stop_loss_reason(level), take_profit_reason(level)],
            HOLD_UNTIL_CLOSE,
        )
        out |= _trade(f"phase3_{level}pct", base, exit_price)
        out[f"phase3_{level}pct_exit_reason"] = np.where(valid, reason, None)
    morning_high, morning_low = _fmax(h[:, morning]), _fmin(lo[:, morning])
    out |= {
        "morning_high": morning_high,
        "morning_low": morning_low,
        "morning_max_gain_pct": _pct(morning_high, base),
        "morning_max_drawdown_pct": _pct(morning_low, base),
        "daily_max_gain_pct": _pct(high, base),
        "daily_max_drawdown_pct": _pct(low, base),
    }
    return pd.DataFrame(out, index=tickers)


def _trade(stem: str, base: np.ndarray, sell: np.ndarray) -> dict[str, object]:
    ret = sell / base - 1
    win = pd.array(np.where(np.isnan(ret), None, ret > 0), dtype="boolean")
    return {
        f"{stem}_return": ret,
        f"{stem}_win": win,
        f"profit_per_100_shares_{stem}": (sell - base) * 100,
    }


def _first(values: np.ndarray) -> np.ndarray:
    """First non-null value of each row (null for an all-null or empty row)."""
    if values.shape[1] == 0:
        return np.full(len(values), np.nan)
    return values[np.arange(len(values)), (~np.isnan(values)).argmax(axis=1)]


def _fmax(values: np.ndarray) -> np.ndarray:
    return np.fmax.reduce(values, axis=1, initial=np.nan)


def _fmin(values: np.ndarray) -> np.ndarray:
    return np.fmin.reduce(values, axis=1, initial=np.nan)


def _pct(price: np.ndarray, base: np.ndarray) -> np.ndarray:
    return (price / base - 1) * 100
