"""Blocking asset checks: the first layer of the backup gate.

Each reads S3 only. Their target is the selection published now (the ``date`` in
``grok_trending.parquet``), not the partition being run: what must be safe before a
new selection is published is the one it would replace.
"""

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    asset_check,
)

from grok_assets import keys
from grok_assets.gate import BackupStatus, backup_status, published_backup_status
from grok_assets.manifest import ManifestError, audit_manifest, is_tracked
from grok_assets.resources import StorageResource

PUBLISHED_SELECTION_ASSET = AssetKey("grok_trending")


def republishes_published_day(context: AssetCheckExecutionContext, status: BackupStatus) -> bool:
    """A selection run for the day that is already published replaces nothing, so it
    has nothing to protect: re-running the 23:00 job must stay a clean no-op.

    ``grok_trending`` still re-verifies before writing, so a publication that would
    change the published bytes is refused by the asset itself.
    """
    run_assets = context.op_execution_context.job_def.asset_layer.selected_asset_keys
    return (
        status.target_date is not None
        and PUBLISHED_SELECTION_ASSET in run_assets
        and context.run.tags.get("dagster/partition") == status.target_date
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
    run_assets = context.op_execution_context.job_def.asset_layer.selected_asset_keys
    partition = context.run.tags.get("dagster/partition")
    if partition and context.check_specs[0].asset_key in run_assets:
        return backup_status(store, partition)
    return published_backup_status(store)


def _gate_result(
    context: AssetCheckExecutionContext, status: BackupStatus, passed: bool
) -> AssetCheckResult:
    description = "; ".join(status.findings())
    if not passed and republishes_published_day(context, status):
        passed = True
        description = (
            f"{status.target_date} is already the published selection; this run replaces "
            f"nothing ({description})"
        )
    return AssetCheckResult(
        passed=passed,
        severity=AssetCheckSeverity.ERROR,
        description=description,
        metadata=_status_metadata(status),
    )


def _status_metadata(status: BackupStatus) -> dict[str, object]:
    return {
        "target_date": status.target_date or "none published",
        "nothing_to_protect": status.nothing_to_protect,
        "daily_key": status.daily_key or "",
        "daily_rows": status.daily_rows if status.daily_rows is not None else -1,
        "archive_rows": status.archive_rows,
        "findings": MetadataValue.md("\n".join(f"- {line}" for line in status.findings())),
    }


@asset_check(
    asset="grok_trending_daily",
    blocking=True,
    description="The published selection's daily backup file exists in S3 and holds rows.",
)
def daily_backup_exists(
    context: AssetCheckExecutionContext, storage: StorageResource
) -> AssetCheckResult:
    status = target_status(context, storage)
    return _gate_result(context, status, status.daily_backup_exists)


@asset_check(
    asset="grok_trending_archive",
    blocking=True,
    description="The archive in S3 holds rows for the published selection's date.",
)
def archive_contains_target_date(
    context: AssetCheckExecutionContext, storage: StorageResource
) -> AssetCheckResult:
    status = target_status(context, storage)
    return _gate_result(context, status, status.archive_contains_target_date)


@asset_check(
    asset="grok_manifest",
    blocking=True,
    description="Every file manifest.json lists exists in S3 with the listed size and MD5.",
)
def manifest_matches_s3(storage: StorageResource) -> AssetCheckResult:
    store = storage.store()
    try:
        manifest, findings = audit_manifest(store)
    except ManifestError as error:
        return AssetCheckResult(
            passed=False, severity=AssetCheckSeverity.ERROR, description=str(error)
        )
    if manifest is None:
        tracked = [info.key for info in store.list() if is_tracked(info.key)]
        return AssetCheckResult(
            passed=not tracked,
            severity=AssetCheckSeverity.ERROR,
            description=(
                f"{store.uri(keys.MANIFEST)} is missing while {len(tracked)} tracked files exist"
                if tracked
                else "no manifest and no tracked files yet: nothing to verify"
            ),
        )
    lines = [f"{finding.key}: {finding.problem}" for finding in findings]
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


ALL_CHECKS = [daily_backup_exists, archive_contains_target_date, manifest_matches_s3]
