"""``grok_trending[N]``: N's candidates published as ``grok_trending.parquet``.

This is the one overwrite in the pipeline, so it re-verifies the gate itself right
before writing: blocking checks only hold within one run, and a user may
materialize this asset alone from the UI.
"""

from dagster import (
    AssetDep,
    AssetExecutionContext,
    AutomationCondition,
    Failure,
    MaterializeResult,
    MetadataValue,
    TimeWindowPartitionMapping,
    asset,
)

from grok_assets import keys
from grok_assets.gate import backup_status, published_selection_date
from grok_assets.partitions import partition_date, trading_day_partitions
from grok_assets.resources import StorageResource
from grok_assets.schemas import CANDIDATE_SCHEMA
from grok_assets.storage import PreconditionFailedError, S3Store, encode_parquet, md5_hex

# The selection published for N replaces the one for the previous trading day, whose
# backup is what the gate protects. Depending on both backup assets is what lets each
# blocking check on them stop this asset within a run.
_PREVIOUS_TRADING_DAY = TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)


def publish_selection(store: S3Store, date: str, candidates_key: str) -> dict[str, object]:
    """Publish the day's candidates, refusing while the published selection is unbacked."""
    candidates = store.read_parquet(candidates_key, CANDIDATE_SCHEMA)
    data = encode_parquet(candidates)
    current = store.head(keys.PUBLISHED_SELECTION)
    if current is not None and current.md5 == md5_hex(data):
        return {"written": False, "previous_date": date, "md5": current.md5}
    previous_date = published_selection_date(store)
    if previous_date is not None and previous_date > date:
        raise Failure(
            description=(
                f"{store.uri(keys.PUBLISHED_SELECTION)} already holds {previous_date}, newer than "
                f"{date}; publishing an older selection would hide the newer one"
            )
        )
    status = backup_status(store, previous_date)
    if not status.passed:
        raise Failure(
            description=(
                f"gate closed: {store.uri(keys.PUBLISHED_SELECTION)} holds {previous_date}, which "
                f"is not backed up ({'; '.join(status.findings())}); it was left untouched. "
                f"Run backtest_job for {previous_date} or `grok-assets restore --date "
                f"{(previous_date or '').replace('-', '')}`"
            ),
            metadata={"target_date": previous_date or "", "findings": status.findings()},
        )
    try:
        # Conditioned on the version the gate just inspected, so a selection published
        # by someone else in between is never overwritten unchecked.
        if current is None:
            info = store.put_bytes(keys.PUBLISHED_SELECTION, data, if_none_match=True)
        else:
            info = store.put_bytes(keys.PUBLISHED_SELECTION, data, if_match=current.etag)
    except PreconditionFailedError as error:
        raise Failure(
            description=f"{error}; another run published meanwhile, nothing was overwritten"
        ) from None
    return {"written": True, "previous_date": previous_date or "", "md5": info.md5 or ""}


@asset(
    key="grok_trending",
    group_name="grok",
    partitions_def=trading_day_partitions(),
    deps=[
        AssetDep("grok_candidates"),
        AssetDep("grok_trending_daily", partition_mapping=_PREVIOUS_TRADING_DAY),
        AssetDep("grok_trending_archive", partition_mapping=_PREVIOUS_TRADING_DAY),
    ],
    kinds={"s3", "parquet"},
    automation_condition=AutomationCondition.all_deps_blocking_checks_passed(),
    description="The selection consumers read; replaced only once the previous one is backed up.",
)
def grok_trending(context: AssetExecutionContext, storage: StorageResource) -> MaterializeResult:
    day = partition_date(context.partition_key)
    store = storage.store()
    outcome = publish_selection(store, day.isoformat(), keys.candidates_key(day))
    return MaterializeResult(
        metadata={
            "uri": MetadataValue.path(store.uri(keys.PUBLISHED_SELECTION)),
            "date": day.isoformat(),
            "replaced_date": str(outcome["previous_date"]),
            "written": bool(outcome["written"]),
            "md5": str(outcome["md5"]),
        }
    )
