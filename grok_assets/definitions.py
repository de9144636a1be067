"""The code location: ``grok_assets.definitions:defs``."""

from __future__ import annotations

from dagster import Definitions

from grok_assets.assets.archive import grok_trending_archive
from grok_assets.assets.backtest import grok_trending_daily
from grok_assets.assets.candidates import grok_candidates
from grok_assets.assets.manifest import grok_manifest
from grok_assets.assets.prices import prices_5m, prices_daily
from grok_assets.assets.trending import grok_trending
from grok_assets.calendar_checks import trading_calendar_horizon
from grok_assets.checks import ALL_CHECKS
from grok_assets.jobs import backtest_job, selection_job, verify_backups_job
from grok_assets.resources import SelectorResource, make_storage_resource
from grok_assets.retention_job import retention_job, retention_schedule
from grok_assets.schedules import backtest_schedule, selection_schedule

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
    asset_checks=[*ALL_CHECKS, trading_calendar_horizon],
    jobs=[backtest_job, selection_job, verify_backups_job, retention_job],
    schedules=[backtest_schedule, selection_schedule, retention_schedule],
    resources={"storage": make_storage_resource(), "selector": SelectorResource()},
)
