"""The three jobs: 16:00 backtest, 23:00 selection, and checks-only verification."""

from __future__ import annotations

from dagster import AssetCheckKey, AssetSelection, define_asset_job

# Runs are still recorded in the instance; only the console echo of every event is
# silenced, for commands that print their own one-line-per-step report.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}

_DAILY_CHECK = AssetCheckKey.from_user_string("grok_trending_daily:daily_backup_exists")
_ARCHIVE_CHECK = AssetCheckKey.from_user_string(
    "grok_trending_archive:archive_contains_target_date"
)
_MANIFEST_CHECK = AssetCheckKey.from_user_string("grok_manifest:manifest_matches_s3")
# A WARN check: it reports, it never fails a run.
_HORIZON_CHECK = AssetCheckKey.from_user_string("grok_candidates:trading_calendar_horizon")

backtest_job = define_asset_job(
    name="backtest_job",
    selection=AssetSelection.assets("grok_trending_daily", "grok_trending_archive", "grok_manifest")
    | AssetSelection.checks(_DAILY_CHECK, _ARCHIVE_CHECK, _MANIFEST_CHECK),
    description="16:00 Tokyo: backtest the day's candidates, back them up, update the manifest.",
)

# The gate checks are selected without their assets: they run against what S3 holds
# now and, being blocking, stop grok_trending in this run when they fail.
selection_job = define_asset_job(
    name="selection_job",
    selection=AssetSelection.assets("grok_candidates", "grok_trending", "grok_manifest")
    | AssetSelection.checks(_DAILY_CHECK, _ARCHIVE_CHECK),
    description="23:00 Tokyo: ask Grok for the next trading day, publish only behind the gate.",
)

verify_backups_job = define_asset_job(
    name="verify_backups_job",
    selection=AssetSelection.checks(_DAILY_CHECK, _ARCHIVE_CHECK, _MANIFEST_CHECK, _HORIZON_CHECK),
    description="Checks only, against S3: is the published selection backed up?",
)
