"""``grok_trending_daily[N]``: N's candidates backtested on N's bars, as the daily backup."""

from dagster import AssetDep, AssetExecutionContext, MaterializeResult, MetadataValue, asset

from grok_assets.backup.daily import write_daily_backup
from grok_assets.defs.partitions import partition_date, trading_day_partitions
from grok_assets.defs.resources import StorageResource
from grok_assets.defs.retries import STEP_RETRY_POLICY, retried_only_when_transient


@asset(
    key="grok_trending_daily",
    group_name="grok",
    partitions_def=trading_day_partitions(),
    deps=[AssetDep("grok_candidates"), AssetDep("prices_daily"), AssetDep("prices_5m")],
    kinds={"s3", "parquet", "pandas"},
    retry_policy=STEP_RETRY_POLICY,
    description="Backtest of the day's candidates on the day's bars; the daily backup file.",
)
def grok_trending_daily(
    context: AssetExecutionContext, storage: StorageResource
) -> MaterializeResult:
    with retried_only_when_transient(context):
        store = storage.store()
        outcome = write_daily_backup(store, partition_date(context.partition_key))
    return MaterializeResult(
        metadata={
            "uri": MetadataValue.path(store.uri(outcome.key)),
            "rows": outcome.rows,
            "md5": outcome.md5,
            "written": outcome.written,
            "tickers_without_bars": ", ".join(outcome.tickers_without_bars) or "none",
        }
    )
