"""The daily backup: trading day N's candidates backtested on N's bars, stored as
``backtest/grok_trending_YYYYMMDD.parquet``. An identical re-run writes nothing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from grok_assets import layout
from grok_assets.backtest import run_backtest
from grok_assets.schemas import BARS_5M_SCHEMA, DAILY_BARS_SCHEMA, conform_candidates
from grok_assets.storage import (
    S3Store,
    StorageError,
    encode_parquet,
    read_parquet,
    read_planned_rows,
)
from grok_assets.storage.parquet import Filters
from grok_assets.upstream import (
    bars_5m_as_project,
    daily_bars_as_project,
    days_filters,
    price_columns_to_read,
)


@dataclass(frozen=True)
class DailyBackupOutcome:
    key: str
    rows: int
    md5: str
    written: bool
    tickers_without_bars: list[str]


def read_bars(
    store: S3Store, relative_key: str, schema: pa.Schema, day: dt.date, tickers: list[str]
) -> pa.Table:
    """One day's bars for the given tickers in ``schema``, fetched by ranged reads of the
    row groups that can hold them rather than the whole (large, external) file. The file
    may be in this project's schema or the previous pipeline's (capitalised columns,
    ``date`` a naive Japan-time timestamp); anything else is refused by name."""
    uri = store.uri(relative_key)

    def plan(found: pa.Schema) -> tuple[list[str] | None, Filters]:
        columns = price_columns_to_read(found.names, schema, uri)
        return columns, [*days_filters(found, "date", [day]), ("ticker", "in", tickers)]

    table = read_planned_rows(store, relative_key, plan)
    if table is None:
        raise StorageError(
            f"{store.uri(relative_key)} does not exist; it is produced outside this pipeline "
            "(for sample data run `grok-assets seed-sample`)",
            bucket=store.bucket,
            key=relative_key,
        )
    bars = (daily_bars_as_project if schema is DAILY_BARS_SCHEMA else bars_5m_as_project)(
        table, uri
    )
    # The filters only narrow the read (a timestamp column is read by its span).
    return bars.filter(pc.equal(bars.column("date"), day.isoformat()))


def write_daily_backup(store: S3Store, day: dt.date) -> DailyBackupOutcome:
    answer_key = layout.candidates_key(day)
    candidates = conform_candidates(read_parquet(store, answer_key), store.uri(answer_key))
    tickers = candidates.column("ticker").to_pylist()
    daily_bars = read_bars(store, layout.PRICES_DAILY, DAILY_BARS_SCHEMA, day, tickers)
    bars_5m = read_bars(store, layout.PRICES_5M, BARS_5M_SCHEMA, day, tickers)
    result = run_backtest(
        candidates.to_pandas(), daily_bars.to_pandas(), bars_5m.to_pandas(), day.isoformat()
    )
    key = layout.daily_backup_key(day)
    info, written = store.put_if_changed(key, encode_parquet(result))
    without_bars = [
        str(row["ticker"])
        for row in result.select(["ticker", "data_source"]).to_pylist()
        if row["data_source"] == "no_bars"
    ]
    return DailyBackupOutcome(key, result.num_rows, info.md5 or "", written, without_bars)
