"""A bucket as the previous pipeline left it, built from the facts in ``UPSTREAM.md``.

The archive of 41 columns in their order (``company_name`` and ``category``, renamed
``stock_name`` and ``categories`` from 2025-11-28 on, ``market_cap`` mostly null), written
by pandas 3 (``large_string``), with the oddities of its history: the rows of
2025-10-29..31 carry the evening before as ``selection_date``, older exit reasons
``eod_close`` and ``loss_cut_3.0%``, null phase 3 without 5-minute bars. Daily backups
of the same rows, by pandas 2 (``string``) and by pandas 3, those of October with a
``date32`` ``backtest_date``. The published selection of 30 columns with list-typed
``categories`` and ``mentioned_by``. The manifest in its format, listing other pipelines'
root-level files, absent ones too. Capitalised price files with a naive Japan-time
``date``. Nothing carries MD5 metadata: boto3 uploaded it all plainly.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from grok_assets import layout, trading_calendar
from grok_assets.dev.sample_data import SAMPLE_UNIVERSE, sample_5m_bars, sample_daily_bars

FIRST_DAY = dt.date(2025, 10, 29)
# The previous pipeline's last backtested and published day; this project's first day
# is the next trading day.
LAST_DAY = dt.date(2025, 12, 1)
RENAMED_ON = dt.date(2025, 11, 28)
ROWS_PER_DAY = 8
PROMPT_VERSION = "v1_1_web_search"

ARCHIVE_COLUMNS = [
    "selection_date",
    "backtest_date",
    "ticker",
    "company_name",
    "category",
    "reason",
    "grok_rank",
    "selection_score",
    "buy_price",
    "sell_price",
    "daily_close",
    "high",
    "low",
    "volume",
    "phase1_return",
    "phase1_win",
    "profit_per_100_shares_phase1",
    "phase2_return",
    "phase2_win",
    "profit_per_100_shares_phase2",
    *(
        name
        for level in (1, 2, 3)
        for name in (
            f"phase3_{level}pct_return",
            f"phase3_{level}pct_win",
            f"phase3_{level}pct_exit_reason",
            f"profit_per_100_shares_phase3_{level}pct",
        )
    ),
    "prompt_version",
    "data_source",
    "morning_high",
    "morning_low",
    "morning_max_gain_pct",
    "morning_max_drawdown_pct",
    "daily_max_gain_pct",
    "daily_max_drawdown_pct",
    "market_cap",
]
_INT = {"grok_rank", "volume"}
_BOOL = {"phase1_win", "phase2_win", *(f"phase3_{level}pct_win" for level in (1, 2, 3))}
_TEXT = {
    "selection_date",
    "backtest_date",
    "ticker",
    "company_name",
    "stock_name",
    "category",
    "categories",
    "reason",
    "prompt_version",
    "data_source",
    *(f"phase3_{level}pct_exit_reason" for level in (1, 2, 3)),
}
SELECTION_COLUMNS = [
    "ticker",
    "code",
    "stock_name",
    "market",
    "sectors",
    "series",
    "topixnewindexseries",
    "categories",
    "tags",
    "reason",
    "date",
    "Close",
    "change_pct",
    "Volume",
    "vol_ratio",
    "atr14_pct",
    "rsi14",
    "score",
    "key_signal",
    "source",
    "selected_time",
    "updated_at",
    "sentiment_score",
    "policy_link",
    "has_mention",
    "mentioned_by",
    "selection_score",
    "prompt_version",
    "grok_rank",
    "selection_rank",
]
# Other pipelines' root-level files the previous manifest lists; the absent ones it
# lists with ``exists: false``.
OTHER_FILES = {"meta.parquet": True, "all_stocks.parquet": True, "scalping_entry.parquet": False}
TOP_LEVEL = {
    "generated_at": "2025-12-01T16:30:21.844499",
    "update_flag": "2025-12-01",
    "grok_update_flag": False,
    "grok_last_update_date": "2025-12-01",
    "grok_last_update_time": None,
}


@dataclass(frozen=True)
class UpstreamBucket:
    """What was written, to check the project against."""

    days: list[dt.date]
    archive: pa.Table
    daily_keys: list[str]
    selection: pa.Table
    manifest: dict[str, Any]


def _string_type(pandas_3: bool) -> pa.DataType:
    return pa.large_string() if pandas_3 else pa.string()


def _archive_rows(days: list[dt.date], rng: np.random.Generator) -> pa.Table:
    columns: dict[str, list[Any]] = {name: [] for name in [*ARCHIVE_COLUMNS, "stock_name"]}
    columns["categories"] = []
    universe = list(SAMPLE_UNIVERSE)
    for day in days:
        picks = rng.choice(len(universe), ROWS_PER_DAY, replace=False)
        selection_day = day - dt.timedelta(days=1) if day <= dt.date(2025, 10, 31) else day
        renamed = day >= RENAMED_ON
        for rank, index in enumerate(picks, start=1):
            code, name = universe[index]
            has_5m = rng.random() > 0.15
            buy = float(np.round(rng.uniform(500, 20_000)))
            sell = float(np.round(buy * (1 + rng.normal(0, 0.02)))) if has_5m else None
            close = float(np.round(buy * (1 + rng.normal(0, 0.03))))
            high, low = max(buy, close) * 1.01, min(buy, close) * 0.99
            row: dict[str, Any] = {
                "selection_date": selection_day.isoformat(),
                "backtest_date": day.isoformat(),
                "ticker": f"{code}.T",
                "company_name": None if renamed else name,
                "stock_name": name if renamed else None,
                "category": None if renamed else str(rng.choice(["決算", "防衛", "", "材料株"])),
                "categories": str(rng.choice(["半導体", "決算", ""])) if renamed else None,
                "reason": f"X で話題 {code}",
                "grok_rank": rank,
                "selection_score": float(np.round(rng.uniform(10, 180), 1)),
                "buy_price": buy,
                "sell_price": sell,
                "daily_close": close,
                "high": high,
                "low": low,
                "volume": int(rng.integers(10_000, 5_000_000)),
                "phase1_return": None if sell is None else (sell - buy) / buy,
                "phase1_win": None if sell is None else sell > buy,
                "profit_per_100_shares_phase1": None if sell is None else (sell - buy) * 100,
                "phase2_return": (close - buy) / buy,
                "phase2_win": close > buy,
                "profit_per_100_shares_phase2": (close - buy) * 100,
                "prompt_version": PROMPT_VERSION,
                "data_source": "5min" if has_5m else "1d",
                "morning_high": high if has_5m else None,
                "morning_low": low if has_5m else None,
                "morning_max_gain_pct": (high / buy - 1) * 100 if has_5m else None,
                "morning_max_drawdown_pct": (low / buy - 1) * 100 if has_5m else None,
                "daily_max_gain_pct": (high / buy - 1) * 100,
                "daily_max_drawdown_pct": (low / buy - 1) * 100,
                "market_cap": float(rng.uniform(1e10, 1e13)) if rank == 1 else None,
            }
            for level in (1, 2, 3):
                older = day < dt.date(2025, 11, 10)
                words = (
                    ["eod_close", f"loss_cut_{level}.0%"]
                    if older
                    else ["hold_until_close", f"stop_loss_-{level}.0%"]
                ) + [f"profit_take_{level}.0%"]
                exit_return = None if not has_5m else float(rng.normal(0, level / 100))
                row |= {
                    f"phase3_{level}pct_return": exit_return,
                    f"phase3_{level}pct_win": None if exit_return is None else exit_return > 0,
                    f"phase3_{level}pct_exit_reason": str(rng.choice(words)) if has_5m else None,
                    f"profit_per_100_shares_phase3_{level}pct": (
                        None if exit_return is None else exit_return * buy * 100
                    ),
                }
            for name in columns:
                columns[name].append(row[name])
    order = [*ARCHIVE_COLUMNS]
    # The renamed columns were appended by the concat that first met them.
    order += ["stock_name", "categories"]
    return pa.table({name: columns[name] for name in order})


def _typed(table: pa.Table, *, pandas_3: bool, date32: bool = False) -> pa.Table:
    """As pandas 2 (``string``) or pandas 3 (``large_string``) wrote it."""
    fields = []
    for name in table.schema.names:
        if name == "backtest_date" and date32:
            fields.append(pa.field(name, pa.date32()))
        elif name in _INT:
            fields.append(pa.field(name, pa.int64()))
        elif name in _BOOL:
            fields.append(pa.field(name, pa.bool_()))
        elif name in _TEXT:
            fields.append(pa.field(name, _string_type(pandas_3)))
        else:
            fields.append(pa.field(name, pa.float64()))
    if date32:
        days = [dt.date.fromisoformat(value) for value in table.column("backtest_date").to_pylist()]
        table = table.set_column(
            table.schema.get_field_index("backtest_date"), "backtest_date", pa.array(days)
        )
    return table.cast(pa.schema(fields))


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    # Snappy, one row group, as pandas' to_parquet(index=False) wrote it.
    pq.write_table(table, sink, compression="snappy", row_group_size=max(table.num_rows, 1))
    return sink.getvalue()


def _selection(day: dt.date, archive_day: pa.Table) -> pa.Table:
    rows = archive_day.to_pylist()
    count = len(rows)
    nulls = [None] * count
    category = [row["categories"] or row["category"] or "" for row in rows]
    score = [row["selection_score"] for row in rows]
    ranks = [row["grok_rank"] for row in rows]
    columns: dict[str, Any] = {
        "ticker": [row["ticker"] for row in rows],
        "code": [row["ticker"].removesuffix(".T") for row in rows],
        "stock_name": [row["stock_name"] or row["company_name"] for row in rows],
        "market": nulls,
        "sectors": nulls,
        "series": nulls,
        "topixnewindexseries": nulls,
        "categories": [["GROK"]] * count,
        "tags": [
            f"{cat},{value:.1f}" + (",⭐Top5" if rank <= 5 else "")
            for cat, value, rank in zip(category, score, ranks, strict=True)
        ],
        "reason": [row["reason"] for row in rows],
        "date": [day.isoformat()] * count,
        **{name: nulls for name in ("Close", "change_pct", "Volume", "vol_ratio", "atr14_pct")},
        **{name: nulls for name in ("rsi14", "score", "key_signal")},
        "source": ["grok"] * count,
        "selected_time": ["23:00"] * count,
        "updated_at": [f"{day - dt.timedelta(days=1)}T23:00:41.512210"] * count,
        "sentiment_score": [0.6] * count,
        "policy_link": ["Med"] * count,
        "has_mention": [True] * count,
        "mentioned_by": [["@kabu_watch", "@nikkei"]] * count,
        "selection_score": score,
        "prompt_version": [PROMPT_VERSION] * count,
        "grok_rank": ranks,
        "selection_rank": ranks,
    }
    types = {
        "categories": pa.list_(pa.string()),
        "mentioned_by": pa.list_(pa.string()),
        "has_mention": pa.bool_(),
        "grok_rank": pa.int64(),
        "selection_rank": pa.int64(),
        "selection_score": pa.float64(),
        "sentiment_score": pa.float64(),
    }
    fields = [
        pa.field(name, types.get(name, pa.large_string() if name not in _NULLS else pa.null()))
        for name in SELECTION_COLUMNS
    ]
    return pa.table(columns, schema=pa.schema(fields))


_NULLS = {
    "market",
    "sectors",
    "series",
    "topixnewindexseries",
    "Close",
    "change_pct",
    "Volume",
    "vol_ratio",
    "atr14_pct",
    "rsi14",
    "score",
    "key_signal",
}


def _previous_prices(daily: pa.Table, bars_5m: pa.Table) -> tuple[pa.Table, pa.Table]:
    """Sample bars in the previous pipeline's price schema: capitalised, ``date`` a naive
    Japan-time timestamp (the bar start for 5-minute bars)."""

    def capitalised(table: pa.Table, stamps: pa.Array) -> pa.Table:
        return pa.table(
            {
                "date": stamps,
                "ticker": table.column("ticker").cast(pa.large_string()),
                "Open": table.column("open"),
                "High": table.column("high"),
                "Low": table.column("low"),
                "Close": table.column("close"),
                "Volume": table.column("volume"),
            }
        )

    day_stamps = pa.array(
        [dt.datetime.fromisoformat(day) for day in daily.column("date").to_pylist()],
        pa.timestamp("ns"),
    )
    bar_stamps = bars_5m.column("datetime").cast(pa.timestamp("ns", tz="Asia/Tokyo"))
    naive = pa.array(
        [moment.replace(tzinfo=None) for moment in bar_stamps.to_pylist()], pa.timestamp("ns")
    )
    return capitalised(daily, day_stamps), capitalised(bars_5m, naive)


def build_upstream_bucket(
    store: Any, *, through: dt.date | None = None, seed: int = 3
) -> UpstreamBucket:
    """Write the previous pipeline's objects into ``store``'s bucket and prefix with the
    plain boto3 client (no MD5 metadata, no conditional writes), as it wrote them.
    Price files cover the history and the days up to ``through`` (default: three
    trading days after LAST_DAY)."""
    rng = np.random.default_rng(seed)
    days = trading_calendar.trading_days(FIRST_DAY, LAST_DAY)
    archive = _archive_rows(days, rng)

    def put(relative_key: str, data: bytes) -> None:
        store.client.put_object(
            Bucket=store.bucket, Key=store.location.key(relative_key), Body=data
        )

    put(layout.ARCHIVE, _parquet(_typed(archive, pandas_3=True)))
    daily_keys = []
    for index, day in enumerate(days):
        rows = archive.filter(pc.equal(archive.column("backtest_date"), day.isoformat()))
        rows = rows.drop_columns(["market_cap"])  # added by another script: archive only
        typed = _typed(rows, pandas_3=index % 2 == 1, date32=day.month == 10)
        key = layout.daily_backup_key(day)
        put(key, _parquet(typed))
        daily_keys.append(key)

    last_rows = archive.filter(pc.equal(archive.column("backtest_date"), LAST_DAY.isoformat()))
    selection = _selection(LAST_DAY, last_rows)
    put(layout.PUBLISHED_SELECTION, _parquet(selection))

    end = through or trading_calendar.trading_days(LAST_DAY, LAST_DAY + dt.timedelta(days=10))[3]
    price_days = trading_calendar.trading_days(FIRST_DAY, end)
    daily_bars, bars_5m = _previous_prices(
        sample_daily_bars(price_days), sample_5m_bars(price_days)
    )
    put(layout.PRICES_DAILY, _parquet(daily_bars))
    put(layout.PRICES_5M, _parquet(bars_5m))

    files: dict[str, Any] = {}
    for name, exists in OTHER_FILES.items():
        if exists:
            table = pa.table({"ticker": ["7203.T", "6758.T"], "value": [1.0, 2.0]})
            data = _parquet(table)
            put(name, data)
            files[name] = {
                "exists": True,
                "size_bytes": len(data),
                "row_count": 2,
                "columns": ["ticker", "value"],
                "updated_at": "2025-12-01T00:14:01.145495",
            }
        else:
            files[name] = {"exists": False}
    for name, table in (
        (layout.PRICES_DAILY, daily_bars),
        (layout.PRICES_5M, bars_5m),
        (layout.PUBLISHED_SELECTION, selection),
    ):
        files[name] = {
            "exists": True,
            "size_bytes": None,
            "row_count": table.num_rows,
            "columns": table.schema.names,
            "updated_at": "2025-12-01T16:30:20.000000",
        }
    manifest = {**TOP_LEVEL, "files": files}
    put(layout.MANIFEST, json.dumps(manifest).encode())
    return UpstreamBucket(days, archive, daily_keys, selection, manifest)
