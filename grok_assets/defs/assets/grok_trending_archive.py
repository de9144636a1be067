"""``grok_trending_archive[N]``: N's daily backup upserted into the long-history archive."""

from dagster import AssetDep, AssetExecutionContext, MaterializeResult, MetadataValue, asset

from grok_assets import layout
from grok_assets.backup.upsert import upsert_daily_into_archive
from grok_assets.defs.partitions import partition_date, trading_day_partitions
from grok_assets.defs.resources import StorageResource
from grok_assets.defs.retries import STEP_RETRY_POLICY, retried_only_when_transient


@asset(
    key="grok_trending_archive",
    group_name="grok",
    partitions_def=trading_day_partitions(),
    deps=[AssetDep("grok_trending_daily")],
    kinds={"s3", "parquet"},
    retry_policy=STEP_RETRY_POLICY,
    description="Long-history archive of every backtested day; upserts replace one date only.",
)
def grok_trending_archive(
    context: AssetExecutionContext, storage: StorageResource
) -> MaterializeResult:
    with retried_only_when_transient(context):
        day = partition_date(context.partition_key)
        store = storage.store()
        outcome = upsert_daily_into_archive(store, day.isoformat(), layout.daily_backup_key(day))
    return MaterializeResult(
        metadata={
            "uri": MetadataValue.path(store.uri(layout.ARCHIVE)),
            "archive_rows": outcome.archive_rows,
            "archive_dates": outcome.dates,
            "rows_for_date": outcome.rows_for_date,
            "written": outcome.written,
            "previous_kept_as_generation": outcome.previous_generation or "none",
        }
    )
