"""Freshness checks: is today's data in S3 by its deadline (:mod:`grok_assets.deadlines`)?

Dagster's built-in freshness (``FreshnessPolicy``, the time-partition freshness
checks) judges "the newest partition", which with ``end_offset=2`` is two trading days
ahead, and is not told apart from a backfill of an old day; so the rules are checks of
their own, answered from S3 like every other check. Blocking ERROR checks: in
``freshness_job`` (17:01 and 23:31 Tokyo) a late day fails the run, which is what
makes the run-failure alert say so; in the UI the asset shows the failed check.

``as_of`` judges another instant than now, for a re-run or a test of a past day.
"""

import datetime as dt

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    Config,
    asset_check,
)
from pydantic import Field

from grok_assets import deadlines, layout
from grok_assets.backup.gate import published_selection_date, rows_for_date
from grok_assets.defs.resources import StorageResource
from grok_assets.defs.retries import STEP_RETRY_POLICY, retried_only_when_transient
from grok_assets.trading_calendar import TOKYO_TZ


class FreshnessConfig(Config):
    as_of: str = Field(
        default="", description="ISO 8601 instant with offset to judge at; empty means now"
    )


def judged_at(config: FreshnessConfig) -> dt.datetime:
    if not config.as_of:
        return dt.datetime.now(TOKYO_TZ)
    moment = dt.datetime.fromisoformat(config.as_of)
    if moment.tzinfo is None:
        raise ValueError(f"as_of {config.as_of!r} needs an offset, e.g. +09:00")
    return moment


def archive_freshness(rows: int, due: dt.date, now: dt.datetime) -> AssetCheckResult:
    deadline = deadlines.archive_deadline(due)
    by = f"due by {deadlines.tokyo_minute(deadline)}"
    passed = rows > 0
    description = (
        f"the archive holds {rows} rows for {due}, {by}"
        if passed
        else f"LATE: the archive holds no rows for {due}, {by}; checked "
        f"{deadlines.tokyo_minute(now)}"
    )
    return AssetCheckResult(
        passed=passed,
        severity=AssetCheckSeverity.ERROR,
        description=description,
        metadata={
            "due_date": due.isoformat(),
            "deadline": deadline.isoformat(),
            "checked_at": now.isoformat(),
            "archive_rows": rows,
        },
    )


def selection_freshness(published: str | None, due: dt.date, now: dt.datetime) -> AssetCheckResult:
    deadline = deadlines.selection_deadline(due)
    by = f"due by {deadlines.tokyo_minute(deadline)}"
    # A newer day published early (a manual run) is not late either.
    passed = published is not None and published >= due.isoformat()
    holds = f"{layout.PUBLISHED_SELECTION} holds {published or 'no selection'}"
    description = (
        f"{holds}; {due} was {by}"
        if passed
        else f"LATE: {holds}, not {due}, {by}; checked {deadlines.tokyo_minute(now)}"
    )
    return AssetCheckResult(
        passed=passed,
        severity=AssetCheckSeverity.ERROR,
        description=description,
        metadata={
            "due_date": due.isoformat(),
            "deadline": deadline.isoformat(),
            "checked_at": now.isoformat(),
            "published_date": published or "none published",
        },
    )


@asset_check(
    asset="grok_trending_archive",
    blocking=True,
    retry_policy=STEP_RETRY_POLICY,
    description="The archive holds trading day N by 17:00 Tokyo on N.",
)
def archive_fresh(
    context: AssetCheckExecutionContext, config: FreshnessConfig, storage: StorageResource
) -> AssetCheckResult:
    with retried_only_when_transient(context):
        now = judged_at(config)
        due = deadlines.archive_due(now)
        rows = rows_for_date(storage.store(), layout.ARCHIVE, due.isoformat()) or 0
        return archive_freshness(rows, due, now)


@asset_check(
    asset="grok_trending",
    blocking=True,
    retry_policy=STEP_RETRY_POLICY,
    description="grok_trending.parquet holds trading day N by 23:30 Tokyo on N's eve.",
)
def selection_fresh(
    context: AssetCheckExecutionContext, config: FreshnessConfig, storage: StorageResource
) -> AssetCheckResult:
    with retried_only_when_transient(context):
        now = judged_at(config)
        due = deadlines.selection_due(now)
        return selection_freshness(published_selection_date(storage.store()), due, now)


FRESHNESS_CHECKS = (archive_fresh, selection_fresh)
