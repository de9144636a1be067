"""``grok_candidates[N]``: Grok's picks for trading day N and their evidence, written
once, never replaced, and only when the answer rests on tonight's search."""

from datetime import date
from typing import Any

from dagster import AssetExecutionContext, Failure, MaterializeResult, MetadataValue, asset

from grok_assets import layout
from grok_assets.alerts.kinds import FailureKind
from grok_assets.defs.partitions import partition_date, trading_day_partitions
from grok_assets.defs.resources import SelectorResource, StorageResource
from grok_assets.defs.retries import FAILURE_KIND, STEP_RETRY_POLICY, retried_only_when_transient
from grok_assets.selection.answer import ModelAnswerError
from grok_assets.selection.candidates import ASKED, store_candidates_once
from grok_assets.selection.grounding import GroundingError
from grok_assets.storage import S3Store


def _refusal(
    context: AssetExecutionContext, store: S3Store, day: date, refused: ModelAnswerError
) -> Failure:
    # An invalid or ungrounded answer is an answer, not an outage: asking again repeats
    # a paid search and would not be checked any differently.
    dropped = refused.dropped if isinstance(refused, GroundingError) else ()
    for pick in dropped:
        context.log.warning(f"dropped {pick.reason}")
    evidence, candidates = layout.answer_key(day), layout.candidates_key(day)
    return Failure(
        description=(
            f"{type(refused).__name__}: {refused}. Nothing was written: neither "
            f"{store.uri(evidence)} nor {store.uri(candidates)}"
        ),
        metadata={
            "dropped_picks": len(dropped),
            FAILURE_KIND: FailureKind.INVALID_ANSWER.value,
            "error": type(refused).__name__,
        },
        allow_retries=False,
    )


@asset(
    key="grok_candidates",
    group_name="grok",
    partitions_def=trading_day_partitions(),
    kinds={"s3", "parquet"},
    retry_policy=STEP_RETRY_POLICY,
    description=(
        "Grok's 10-15 day-trade picks for the trading day, each grounded in tonight's X "
        "posts and news (write-once), with the answer's evidence in grok/answers/."
    ),
)
def grok_candidates(
    context: AssetExecutionContext, storage: StorageResource, selector: SelectorResource
) -> MaterializeResult:
    with retried_only_when_transient(context):
        day = partition_date(context.partition_key)
        store = storage.store()
        try:
            outcome = store_candidates_once(store, day, lambda: selector.select(day, store))
        except ModelAnswerError as refused:
            raise _refusal(context, store, day, refused) from refused
        for reason in outcome.dropped:
            context.log.warning(f"dropped {reason}")
    if not outcome.written:
        context.log.info(f"{store.uri(outcome.key)} was already stored; keeping it")
    elif outcome.how != ASKED:
        context.log.info(f"candidates {outcome.how} {store.uri(outcome.evidence_key)}")
    metadata: dict[str, Any] = {
        "uri": MetadataValue.path(store.uri(outcome.key)),
        "evidence": MetadataValue.path(store.uri(outcome.evidence_key)),
        "rows": outcome.rows,
        "tickers": ", ".join(outcome.tickers),
        "md5": outcome.md5,
        "written": outcome.written,
    }
    if outcome.summary is not None:
        metadata |= outcome.summary.metadata()
    return MaterializeResult(metadata=metadata)
