"""``grok_candidates[N]``: Grok's raw picks for trading day N, written once, never replaced."""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from grok_assets.defs.partitions import partition_date, trading_day_partitions
from grok_assets.defs.resources import SelectorResource, StorageResource
from grok_assets.defs.retries import STEP_RETRY_POLICY, retried_only_when_transient
from grok_assets.selection.candidates import store_candidates_once


@asset(
    key="grok_candidates",
    group_name="grok",
    partitions_def=trading_day_partitions(),
    kinds={"s3", "parquet"},
    retry_policy=STEP_RETRY_POLICY,
    description="Grok's 10-15 day-trade picks for the trading day (write-once).",
)
def grok_candidates(
    context: AssetExecutionContext, storage: StorageResource, selector: SelectorResource
) -> MaterializeResult:
    with retried_only_when_transient(context):
        day = partition_date(context.partition_key)
        store = storage.store()
        outcome = store_candidates_once(store, day, lambda: selector.select(day, store))
    if not outcome.written:
        context.log.info(f"{store.uri(outcome.key)} was already stored; keeping it")
    return MaterializeResult(
        metadata={
            "uri": MetadataValue.path(store.uri(outcome.key)),
            "rows": outcome.rows,
            "tickers": ", ".join(outcome.tickers),
            "md5": outcome.md5,
            "written": outcome.written,
        }
    )
