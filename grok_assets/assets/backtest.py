"""``grok_trending_daily[N]``: N's candidates backtested on N's bars, as the daily backup."""

import datetime as dt

import pyarrow as pa
from dagster import AssetDep, AssetExecutionContext, MaterializeResult, MetadataValue, asset

from grok_assets import keys
from grok_assets.backtest import run_backtest
from grok_assets.partitions import partition_date, trading_day_partitions
from grok_assets.resources import StorageResource
from grok_assets.schemas import BARS_5M_SCHEMA, CANDIDATE_SCHEMA, DAILY_BARS_SCHEMA
from grok_assets.storage import S3Store, StorageError, encode_parquet


def read_bars(
    store: S3Store, relative_key: str, schema: pa.Schema, day: dt.date, tickers: list[str]
) -> pa.Table:
    """One day's bars for the given tickers, fetched by ranged reads of the row groups
    that can hold them rather than the whole (large, external) file."""
    uri = store.uri(relative_key)
    table = store.read_parquet_rows(
        relative_key,
        columns=schema.names,
        filters=[("date", "==", day.isoformat()), ("ticker", "in", tickers)],
    )
    if table is None:
        raise StorageError(
            f"{uri} does not exist; it is produced outside this pipeline "
            "(for sample data run `grok-assets seed-sample`)",
            bucket=store.bucket,
            key=relative_key,
        )
    return table


@asset(
    key="grok_trending_daily",
    group_name="grok",
    partitions_def=trading_day_partitions(),
    deps=[AssetDep("grok_candidates"), AssetDep("prices_daily"), AssetDep("prices_5m")],
    kinds={"s3", "parquet", "pandas"},
    description="Backtest of the day's candidates on the day's bars; the daily backup file.",
)
def grok_trending_daily(
    context: AssetExecutionContext, storage: StorageResource
) -> MaterializeResult:
    day = partition_date(context.partition_key)
    store = storage.store()
    candidates = store.read_parquet(keys.candidates_key(day), CANDIDATE_SCHEMA)
    tickers = candidates.column("ticker").to_pylist()
    daily_bars = read_bars(store, keys.PRICES_DAILY, DAILY_BARS_SCHEMA, day, tickers)
    bars_5m = read_bars(store, keys.PRICES_5M, BARS_5M_SCHEMA, day, tickers)
    result = run_backtest(
        candidates.to_pandas(), daily_bars.to_pandas(), bars_5m.to_pandas(), day.isoformat()
    )
    key = keys.daily_backup_key(day)
    data = encode_parquet(result)
    info, written = store.put_if_changed(key, data)
    without_bars = [
        str(row["ticker"])
        for row in result.select(["ticker", "data_source"]).to_pylist()
        if row["data_source"] == "no_bars"
    ]
    return MaterializeResult(
        metadata={
            "uri": MetadataValue.path(store.uri(key)),
            "rows": result.num_rows,
            "md5": info.md5 or "",
            "written": written,
            "tickers_without_bars": ", ".join(without_bars) or "none",
        }
    )
