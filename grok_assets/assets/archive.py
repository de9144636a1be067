"""``grok_trending_archive[N]``: N's daily backup upserted into the long-history archive.

The upsert is a compare-and-swap on the archive's ETag: a concurrent writer makes
this one start over from the fresh archive instead of overwriting its rows.
"""

from dagster import AssetDep, AssetExecutionContext, MaterializeResult, MetadataValue, asset

from grok_assets import keys
from grok_assets.archive import row_counts_by_date, upsert_date
from grok_assets.partitions import partition_date, trading_day_partitions
from grok_assets.resources import StorageResource
from grok_assets.schemas import BACKTEST_SCHEMA
from grok_assets.storage import S3Store, encode_parquet


def upsert_daily_into_archive(store: S3Store, date: str, daily_key: str) -> dict[str, int | bool]:
    """Replace ``date``'s archive rows with the daily backup's; returns what changed."""
    rows = store.read_parquet(daily_key, BACKTEST_SCHEMA)
    outcome: dict[str, int | bool] = {"written": False}

    def update(current: bytes | None) -> bytes | None:
        archive = store.decode_parquet(keys.ARCHIVE, current) if current is not None else None
        merged = upsert_date(archive, rows, date)
        outcome["archive_rows"] = merged.num_rows
        outcome["dates"] = len(row_counts_by_date(merged))
        if archive is not None and merged.equals(archive):
            return None
        outcome["written"] = True
        return encode_parquet(merged)

    store.compare_and_swap(keys.ARCHIVE, update)
    outcome["rows_for_date"] = rows.num_rows
    return outcome


@asset(
    key="grok_trending_archive",
    group_name="grok",
    partitions_def=trading_day_partitions(),
    deps=[AssetDep("grok_trending_daily")],
    kinds={"s3", "parquet"},
    description="Long-history archive of every backtested day; upserts replace one date only.",
)
def grok_trending_archive(
    context: AssetExecutionContext, storage: StorageResource
) -> MaterializeResult:
    day = partition_date(context.partition_key)
    store = storage.store()
    outcome = upsert_daily_into_archive(store, day.isoformat(), keys.daily_backup_key(day))
    return MaterializeResult(
        metadata={
            "uri": MetadataValue.path(store.uri(keys.ARCHIVE)),
            "archive_rows": outcome["archive_rows"],
            "archive_dates": outcome["dates"],
            "rows_for_date": outcome["rows_for_date"],
            "written": outcome["written"],
        }
    )
