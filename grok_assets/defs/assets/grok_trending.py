"""``grok_trending[N]``: N's candidates published as ``grok_trending.parquet``, behind the gate."""

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

from grok_assets import layout
from grok_assets.alerts.kinds import FailureKind
from grok_assets.backup.publish import GateClosedError, PublishConflictError, publish_selection
from grok_assets.defs.partitions import partition_date, trading_day_partitions
from grok_assets.defs.resources import StorageResource
from grok_assets.defs.retries import FAILURE_KIND, STEP_RETRY_POLICY, retried_only_when_transient

# The selection published for N replaces the one for the previous trading day, whose
# backup is what the gate protects. Depending on both backup assets is what lets each
# blocking check on them stop this asset within a run.
_PREVIOUS_TRADING_DAY = TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)


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
    retry_policy=STEP_RETRY_POLICY,
    automation_condition=AutomationCondition.all_deps_blocking_checks_passed(),
    description="The selection consumers read; replaced only once the previous one is backed up.",
)
def grok_trending(context: AssetExecutionContext, storage: StorageResource) -> MaterializeResult:
    with retried_only_when_transient(context):
        day = partition_date(context.partition_key)
        store = storage.store()
        try:
            outcome = publish_selection(store, day)
        except GateClosedError as closed:
            # Retrying cannot open the gate: only a backtest run or a restore can.
            raise Failure(
                description=str(closed),
                metadata={
                    FAILURE_KIND: FailureKind.GATE_CLOSED.value,
                    "target_date": closed.published_date or "",
                    "findings": closed.findings,
                },
                allow_retries=False,
            ) from None
        except PublishConflictError as conflict:
            raise Failure(
                description=str(conflict),
                metadata={FAILURE_KIND: FailureKind.PUBLISH_CONFLICT.value},
                allow_retries=False,
            ) from None
    return MaterializeResult(
        metadata={
            "uri": MetadataValue.path(store.uri(layout.PUBLISHED_SELECTION)),
            "date": day.isoformat(),
            "replaced_date": outcome.replaced_date or "",
            "written": outcome.written,
            "md5": outcome.md5,
        }
    )
