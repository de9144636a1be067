"""Blocking asset checks: the first layer of the backup gate.

Each reads S3 only. Their target is the selection published now (the ``date`` in
``grok_trending.parquet``), not the partition being run: what must be safe before a
new selection is published is the one it would replace.
"""

from dataclasses import dataclass

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    asset_check,
)

from grok_assets.backup.gate import BackupStatus, backup_status, published_backup_status
from grok_assets.backup.manifest import ManifestError, audit_manifest
from grok_assets.defs.resources import StorageResource
from grok_assets.defs.retries import STEP_RETRY_POLICY, retried_only_when_transient

PUBLISHED_SELECTION_ASSET = AssetKey("grok_trending")


@dataclass(frozen=True)
class RunScope:
    """What the run a check executes in materializes, and for which partition."""

    assets: frozenset[AssetKey]
    partition: str | None

    @classmethod
    def of(cls, context: AssetCheckExecutionContext) -> "RunScope":
        job = context.op_execution_context.job_def
        return cls(
            frozenset(job.asset_layer.selected_asset_keys),
            context.run.tags.get("dagster/partition"),
        )


def target_status(context: AssetCheckExecutionContext, storage: StorageResource) -> BackupStatus:
    """The backup the check is about.

    In a run that materializes the checked asset for day P (the 16:00 backtest, or a
    re-run of an older day), the check verifies that run's own work: P's backup. Anywhere
    else (the 23:00 selection, the checks-only job) it guards the published selection.
    Otherwise re-running day N-1's backtest after N is published, but before N's own
    backtest, would be blocked from archiving N-1 for a reason that has nothing to do
    with it.
    """
    store = storage.store()
    scope = RunScope.of(context)
    if scope.partition and context.check_specs[0].asset_key in scope.assets:
        return backup_status(store, scope.partition)
    return published_backup_status(store)


def republishes_published_day(scope: RunScope, status: BackupStatus) -> bool:
    """A selection run for the day that is already published replaces nothing, so it
    has nothing to protect: re-running the 23:00 job must stay a clean no-op.

    ``grok_trending`` still re-verifies before writing, so a publication that would
    change the published bytes is refused by the asset itself.
    """
    return (
        status.target_date is not None
        and PUBLISHED_SELECTION_ASSET in scope.assets
        and scope.partition == status.target_date
    )


def _gate_result(
    context: AssetCheckExecutionContext, status: BackupStatus, passed: bool
) -> AssetCheckResult:
    description = "; ".join(status.findings())
    if not passed and republishes_published_day(RunScope.of(context), status):
        passed = True
        description = (
            f"{status.target_date} is already the published selection; this run replaces "
            f"nothing ({description})"
        )
    return AssetCheckResult(
        passed=passed,
        severity=AssetCheckSeverity.ERROR,
        description=description,
        metadata={
            "target_date": status.target_date or "none published",
            "nothing_to_protect": status.nothing_to_protect,
            "daily_key": status.daily_key or "",
            "daily_rows": status.daily_rows if status.daily_rows is not None else -1,
            "archive_rows": status.archive_rows,
            "findings": MetadataValue.md("\n".join(f"- {line}" for line in status.findings())),
        },
    )


@asset_check(
    asset="grok_trending_daily",
    blocking=True,
    retry_policy=STEP_RETRY_POLICY,
    description="The published selection's daily backup file exists in S3 and holds rows.",
)
def daily_backup_exists(
    context: AssetCheckExecutionContext, storage: StorageResource
) -> AssetCheckResult:
    with retried_only_when_transient(context):
        status = target_status(context, storage)
        return _gate_result(context, status, status.daily_backup_exists)


@asset_check(
    asset="grok_trending_archive",
    blocking=True,
    retry_policy=STEP_RETRY_POLICY,
    description="The archive in S3 holds rows for the published selection's date.",
)
def archive_contains_target_date(
    context: AssetCheckExecutionContext, storage: StorageResource
) -> AssetCheckResult:
    with retried_only_when_transient(context):
        status = target_status(context, storage)
        return _gate_result(context, status, status.archive_contains_target_date)


@asset_check(
    asset="grok_manifest",
    blocking=True,
    retry_policy=STEP_RETRY_POLICY,
    description="Every file manifest.json lists exists in S3 with the listed size and MD5.",
)
def manifest_matches_s3(
    context: AssetCheckExecutionContext, storage: StorageResource
) -> AssetCheckResult:
    with retried_only_when_transient(context):
        store = storage.store()
        try:
            manifest, findings = audit_manifest(store)
        except ManifestError as error:
            return AssetCheckResult(
                passed=False, severity=AssetCheckSeverity.ERROR, description=str(error)
            )
    lines = [f"{finding.key}: {finding.problem}" for finding in findings]
    if manifest is None:
        return AssetCheckResult(
            passed=not findings,
            severity=AssetCheckSeverity.ERROR,
            description="; ".join(lines)
            or "no manifest and no tracked files yet: nothing to verify",
        )
    return AssetCheckResult(
        passed=not findings,
        severity=AssetCheckSeverity.ERROR,
        description="; ".join(lines) or f"all {len(manifest['files'])} listed files match S3",
        metadata={
            "files_listed": len(manifest["files"]),
            "mismatches": len(findings),
            "last_updated": str(manifest.get("last_updated", "")),
        },
    )
