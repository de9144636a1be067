"""``grok_candidates[N]``: Grok's raw picks for trading day N, written once, never replaced.

Keeping the answer immutable is what breaks the selection -> backtest -> gate ->
selection loop: a held-back publication still leaves its answer in S3.
"""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from grok_assets import keys
from grok_assets.partitions import partition_date, trading_day_partitions
from grok_assets.resources import SelectorResource, StorageResource
from grok_assets.schemas import CANDIDATE_SCHEMA
from grok_assets.storage import PreconditionFailedError


@asset(
    key="grok_candidates",
    group_name="grok",
    partitions_def=trading_day_partitions(),
    kinds={"s3", "parquet"},
    description="Grok's 10-15 day-trade picks for the trading day (write-once).",
)
def grok_candidates(
    context: AssetExecutionContext, storage: StorageResource, selector: SelectorResource
) -> MaterializeResult:
    day = partition_date(context.partition_key)
    store = storage.store()
    key = keys.candidates_key(day)
    written = False
    if store.head(key) is None:
        # Asking the model only when no answer is stored keeps re-runs idempotent
        # and spares an API call.
        answer = selector.select(day, store)
        try:
            store.write_parquet(key, answer, if_none_match=True)
            written = True
        except PreconditionFailedError:
            context.log.info(f"{store.uri(key)} was written by another run; keeping it")
    data, info = store.get_bytes(key)
    table = store.decode_parquet(key, data, CANDIDATE_SCHEMA)
    return MaterializeResult(
        metadata={
            "uri": MetadataValue.path(store.uri(key)),
            "rows": len(table),
            "tickers": ", ".join(table.column("ticker").to_pylist()),
            "md5": info.md5 or "",
            "written": written,
        }
    )
