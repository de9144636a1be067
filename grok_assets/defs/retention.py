"""``retention_job``: the 7-day retention, run by the daemon after the 23:00 selection."""

from dagster import (
    AssetMaterialization,
    Config,
    Failure,
    MetadataValue,
    OpExecutionContext,
    job,
    op,
)
from pydantic import Field

from grok_assets import layout, trading_calendar
from grok_assets.backup.retention import DEFAULT_DAYS, apply_retention, plan_retention
from grok_assets.defs.resources import StorageResource
from grok_assets.defs.retries import STEP_RETRY_POLICY, retried_only_when_transient


class RetentionConfig(Config):
    as_of: str = Field(default="", description="YYYY-MM-DD; empty means today in Asia/Tokyo")
    days: int = Field(default=DEFAULT_DAYS, description="keep files dated within this window")


@op(
    description="Delete old daily backups and candidates the archive holds exactly.",
    retry_policy=STEP_RETRY_POLICY,
)
def apply_retention_window(
    context: OpExecutionContext, config: RetentionConfig, storage: StorageResource
) -> None:
    with retried_only_when_transient(context):
        store = storage.store()
        as_of = (
            trading_calendar.parse_date(config.as_of)
            if config.as_of
            else trading_calendar.today_in_tokyo()
        )
        plan = plan_retention(store, as_of, config.days)
        context.log.info(plan.header())
        # Retried whole after a transient failure: a plan made again from S3 as it is
        # then deletes only what is still there and still safe to delete.
        outcome = apply_retention(store, plan)
    for line in outcome.lines():
        context.log.info(line)
    if outcome.manifest_updated:
        context.log_event(
            AssetMaterialization(
                asset_key="grok_manifest",
                description="manifest.json updated after retention deletions",
                metadata={"uri": MetadataValue.path(store.uri(layout.MANIFEST))},
            )
        )
    if outcome.kept:
        # Kept files are safe, but each one is a backup the archive does not vouch
        # for: the operator must look.
        raise Failure(
            description=f"{len(outcome.kept)} old file(s) kept: the archive does not hold "
            "exactly their rows",
            metadata={"kept": MetadataValue.md("\n".join(f"- {i.line()}" for i in outcome.kept))},
            allow_retries=False,
        )


@job(description="7-day retention of daily backups and candidate files, never losing data.")
def retention_job() -> None:
    apply_retention_window()
