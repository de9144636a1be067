"""The jobs: 16:00 backtest, 23:00 selection, checks-only verification and freshness
(retention is in :mod:`.retention`). Each names every check it runs; selecting an
asset never brings its checks along unasked. Every step carries the retry policy of
:mod:`.retries` itself, wherever it runs."""

from dagster import AssetSelection, define_asset_job

from grok_assets.defs.checks.backups import (
    archive_contains_target_date,
    daily_backup_exists,
    manifest_matches_s3,
)
from grok_assets.defs.checks.calendar import trading_calendar_horizon
from grok_assets.defs.checks.freshness import FRESHNESS_CHECKS

GATE_CHECKS = (daily_backup_exists, archive_contains_target_date)

# Runs of selection_job carry this tag, however they were launched (schedule, UI,
# CLI); deploy/dagster.yaml limits runs with it to one at a time, so a second
# selection waits in the run queue until the first has finished. A definition tag,
# not only a run tag: `dagster job launch` copies the job's definition tags to the
# run and ignores its run_tags (checked on 1.13.27).
EXCLUSIVE_TAG = "grok/exclusive"
SELECTION_EXCLUSIVE = {EXCLUSIVE_TAG: "selection"}


def _assets(*keys: str) -> AssetSelection:
    return AssetSelection.assets(*keys).without_checks()


backtest_job = define_asset_job(
    name="backtest_job",
    selection=_assets("grok_trending_daily", "grok_trending_archive", "grok_manifest")
    | AssetSelection.checks(*GATE_CHECKS, manifest_matches_s3),
    description="16:00 Tokyo: backtest the day's candidates, back them up, update the manifest.",
)

# The gate checks are selected without their assets: they run against what S3 holds
# now and, being blocking, stop grok_trending in this run when they fail.
selection_job = define_asset_job(
    name="selection_job",
    selection=_assets("grok_candidates", "grok_trending", "grok_manifest")
    | AssetSelection.checks(*GATE_CHECKS, manifest_matches_s3, trading_calendar_horizon),
    tags=SELECTION_EXCLUSIVE,
    description="23:00 Tokyo: ask Grok for the next trading day, publish only behind the gate.",
)

verify_backups_job = define_asset_job(
    name="verify_backups_job",
    selection=AssetSelection.checks(*GATE_CHECKS, manifest_matches_s3, trading_calendar_horizon),
    description="Checks only, against S3: is the published selection backed up?",
)

# Both deadlines in one run: each check judges the newest day whose deadline has
# passed, so either schedule's run tells the whole story of what is late.
freshness_job = define_asset_job(
    name="freshness_job",
    selection=AssetSelection.checks(*FRESHNESS_CHECKS),
    description="17:01 and 23:31 Tokyo: is today's archive, and tonight's selection, in S3?",
)
