"""Synthetic backtest archives of a given history length, for benchmarks and cost tests.

Every BACKTEST_SCHEMA column gets realistic random values (prices in whole yen,
returns at full float precision, free-text reasons that do not compress to nothing),
so that the encoded archive is about as large as a real one of the same length. The
values are generated column by column with numpy: a 20-year archive takes well under
a second to build.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from grok_assets import trading_calendar
from grok_assets.backup.archive import DATE_COLUMN, upsert_date
from grok_assets.schemas import (
    BACKTEST_SCHEMA,
    HOLD_UNTIL_CLOSE,
    stop_loss_reason,
    take_profit_reason,
)

ROWS_PER_DAY = 15
TRADING_DAYS_PER_YEAR = 250

_CATEGORIES = np.array(
    ["決算", "防衛", "半導体", "材料株", "エネルギー", "インバウンド", "金融", "AI", "バイオ"]
)
_PHRASES = np.array(
    [
        "決算上振れ期待で買いが先行",
        "自社株買いの発表を好感",
        "政策関連で資金流入が続く",
        "前日の米国ハイテク株高を受けて",
        "出来高急増でモメンタム継続",
        "アナリストが目標株価を引き上げ",
        "新製品の受注が好調と報道",
        "円安進行で輸出採算が改善",
        "信用買い残が減少し需給改善",
        "X上で言及が急増している",
        "テーマ株として物色の対象に",
        "海外投資家の買い越しが続く",
        "業績予想の上方修正を発表",
        "提携発表で思惑買いが入る",
        "25日移動平均線を上抜け",
        "寄り付き後の押し目買いに妙味",
    ]
)
_DATA_SOURCES = np.array(["5min", "1d", "no_bars"])
_ACCOUNTS = np.array(["@kabu_trader", "@market_watch", "@tokyo_daytrade", "@nikkei_flash"])


class HistoryTooLongError(ValueError):
    """The installed exchange calendar does not reach back far enough."""


def history_days(years: int, end: dt.date) -> list[dt.date]:
    """The ``years * 250`` JPX trading days up to and including ``end``.

    Real sessions from the exchange calendar where it reaches; where it does not (it
    starts about 20 years back), earlier weekdays stand in, for benchmarks only.
    """
    wanted = years * TRADING_DAYS_PER_YEAR
    first = trading_calendar.first_known_day()
    days = trading_calendar.trading_days(first, end)[-wanted:]
    day = days[0]
    while len(days) < wanted:
        day -= dt.timedelta(days=1)
        if day.weekday() < 5:
            days.insert(0, day)
    return days


def _text(rng: np.random.Generator, count: int, parts: int) -> np.ndarray:
    """Sentences of ``parts`` random phrases plus a random figure, so no two match."""
    text = rng.choice(_PHRASES, count)
    for _ in range(parts - 1):
        text = np.char.add(np.char.add(text, "、"), rng.choice(_PHRASES, count))
    figures = np.char.mod("(前日比%+.1f%%)", rng.normal(0, 3, count))
    return np.char.add(text, figures)


def _returns(
    rng: np.random.Generator, buy: np.ndarray, sell: np.ndarray, valid: np.ndarray
) -> tuple[pa.Array, pa.Array, pa.Array]:
    ret = sell / buy - 1
    mask = ~valid
    return (
        pa.array(ret, mask=mask),
        pa.array(ret > 0, mask=mask),
        pa.array(np.round((sell - buy) * 100), mask=mask),
    )


def backtest_table(
    days: list[dt.date], *, rows_per_day: int = ROWS_PER_DAY, seed: int = 0
) -> pa.Table:
    """``rows_per_day`` backtest rows for each of ``days``, sorted by (date, rank)."""
    rng = np.random.default_rng(seed)
    n = len(days) * rows_per_day
    iso = np.array([day.isoformat() for day in days])
    previous = np.array(
        [(days[0] - dt.timedelta(days=1)).isoformat(), *iso[:-1]]
    )  # selection is made the evening before
    codes = rng.integers(1300, 9999, n).astype(str)
    source = rng.choice(_DATA_SOURCES, n, p=[0.9, 0.08, 0.02])
    has_5m = source == "5min"
    has_daily = source != "no_bars"
    buy = np.round(np.exp(rng.uniform(np.log(300), np.log(30_000), n)))
    move = rng.normal(0, 0.025, (n, 4))
    close = np.round(buy * (1 + move[:, 0]))
    high = np.maximum(np.maximum(buy, close), np.round(buy * (1 + np.abs(move[:, 1]))))
    low = np.minimum(np.minimum(buy, close), np.round(buy * (1 - np.abs(move[:, 2]))))
    morning = np.round(buy * (1 + move[:, 3]))
    has_mention = rng.random(n) < 0.4

    columns: dict[str, pa.Array] = {
        "selection_date": pa.array(np.repeat(previous, rows_per_day)),
        DATE_COLUMN: pa.array(np.repeat(iso, rows_per_day)),
        "ticker": pa.array(np.char.add(codes, ".T")),
        "code": pa.array(codes),
        "stock_name": pa.array(np.char.add("銘柄", codes)),
        "category": pa.array(rng.choice(_CATEGORIES, n)),
        "reason": pa.array(_text(rng, n, 3)),
        "grok_rank": pa.array(np.tile(np.arange(1, rows_per_day + 1), len(days))),
        "selection_score": pa.array(np.round(rng.uniform(10, 180, n), 1)),
        "sentiment_score": pa.array(np.round(rng.uniform(0.4, 0.95, n), 2)),
        "policy_link": pa.array(rng.choice(np.array(["High", "Med", "Low"]), n)),
        "has_mention": pa.array(has_mention),
        "mentioned_by": pa.array(rng.choice(_ACCOUNTS, n), mask=~has_mention),
        "prompt_version": pa.array(np.full(n, "v1.3")),
        "model": pa.array(np.full(n, "grok-4.3")),
        "response_id": pa.array(np.repeat([f"resp_{day:%Y%m%d}" for day in days], rows_per_day)),
        "selected_time": pa.array(np.full(n, "23:00")),
        "data_source": pa.array(source),
        "buy_price": pa.array(buy, mask=~has_daily),
        "daily_close": pa.array(close, mask=~has_daily),
        "high": pa.array(high, mask=~has_daily),
        "low": pa.array(low, mask=~has_daily),
        "volume": pa.array(rng.integers(10_000, 50_000_000, n), mask=~has_daily),
        "sell_price": pa.array(morning, mask=~has_5m),
    }
    for name, sell, valid in (("phase1", morning, has_5m), ("phase2", close, has_daily)):
        ret, win, profit = _returns(rng, buy, sell, valid)
        columns[f"{name}_return"], columns[f"{name}_win"] = ret, win
        columns[f"profit_per_100_shares_{name}"] = profit
    for level in (1, 2, 3):
        stem = f"phase3_{level}pct"
        reasons = np.array([take_profit_reason(level), stop_loss_reason(level), HOLD_UNTIL_CLOSE])
        reason = rng.choice(reasons, n)
        exit_price = np.select(
            [reason == reasons[0], reason == reasons[1]],
            [buy * (1 + level / 100), buy * (1 - level / 100)],
            close,
        )
        ret, win, profit = _returns(rng, buy, exit_price, has_5m)
        columns[f"{stem}_return"], columns[f"{stem}_win"] = ret, win
        columns[f"{stem}_exit_reason"] = pa.array(reason, mask=~has_5m)
        columns[f"profit_per_100_shares_{stem}"] = profit
    columns["morning_high"] = pa.array(np.maximum(buy, morning), mask=~has_5m)
    columns["morning_low"] = pa.array(np.minimum(buy, morning), mask=~has_5m)
    columns["morning_max_gain_pct"] = pa.array(np.abs(move[:, 1]) * 100, mask=~has_5m)
    columns["morning_max_drawdown_pct"] = pa.array(-np.abs(move[:, 2]) * 100, mask=~has_5m)
    columns["daily_max_gain_pct"] = pa.array((high / buy - 1) * 100, mask=~has_daily)
    columns["daily_max_drawdown_pct"] = pa.array((low / buy - 1) * 100, mask=~has_daily)
    return pa.Table.from_pydict(
        {name: columns[name] for name in BACKTEST_SCHEMA.names}, schema=BACKTEST_SCHEMA
    )


def build_archive(years: int, end: dt.date, *, seed: int = 0) -> tuple[pa.Table, list[dt.date]]:
    """An archive of ``years`` of history ending at ``end``, as the pipeline builds it:
    the last day goes in through ``upsert_date``, so the table is exactly what a daily
    upsert would have produced."""
    days = history_days(years, end)
    table = backtest_table(days, seed=seed)
    last = days[-1].isoformat()
    is_last = np.asarray(table.column(DATE_COLUMN).to_numpy(zero_copy_only=False) == last)
    history = table.filter(pa.array(~is_last))
    archive = upsert_date(history, table.filter(pa.array(is_last)), last)
    return archive, days
