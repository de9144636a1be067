"""The code location ``grok_assets.definitions:defs``: the explicit index of everything
Dagster loads."""

from __future__ import annotations

from dagster import Definitions

from grok_assets.defs.assets.grok_candidates import grok_candidates
from grok_assets.defs.assets.grok_manifest import grok_manifest
from grok_assets.defs.assets.grok_trending import grok_trending
from grok_assets.defs.assets.grok_trending_archive import grok_trending_archive
from grok_assets.defs.assets.grok_trending_daily import grok_trending_daily
from grok_assets.defs.assets.prices_5m import prices_5m
from grok_assets.defs.assets.prices_daily import prices_daily
from grok_assets.defs.checks.backups import (
    archive_contains_target_date,
    daily_backup_exists,
    manifest_matches_s3,
)
from grok_assets.defs.checks.calendar import trading_calendar_horizon
from grok_assets.defs.checks.freshness import archive_fresh, selection_fresh
from grok_assets.defs.jobs import backtest_job, freshness_job, selection_job, verify_backups_job
from grok_assets.defs.resources import (
    AlertWebhookResource,
    SelectorResource,
    make_storage_resource,
)
from grok_assets.defs.retention import retention_job
from grok_assets.defs.schedules import (
    backtest_schedule,
    freshness_schedule,
    retention_schedule,
    selection_schedule,
)
from grok_assets.defs.sensors import alert_on_run_failure, calendar_horizon_alert

defs = Definitions(
    assets=[
        prices_daily,
        prices_5m,
        grok_candidates,
        grok_trending_daily,
        grok_trending_archive,
        grok_trending,
        grok_manifest,
    ],
    asset_checks=[
        daily_backup_exists,
        archive_contains_target_date,
        manifest_matches_s3,
        trading_calendar_horizon,
        archive_fresh,
        selection_fresh,
    ],
    jobs=[backtest_job, selection_job, verify_backups_job, freshness_job, retention_job],
    schedules=[backtest_schedule, selection_schedule, freshness_schedule, retention_schedule],
    sensors=[alert_on_run_failure, calendar_horizon_alert],
    resources={
        "storage": make_storage_resource(),
        "selector": SelectorResource(),
        "alert_webhook": AlertWebhookResource(),
    },
)
