"""Tokyo schedules. Each asks the JPX calendar which partition to run, never "the
newest partition key": that key is two trading days ahead by design (``end_offset``).
"""

from __future__ import annotations

import datetime as dt

from dagster import (
    DefaultScheduleStatus,
    RunRequest,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)

from grok_assets import deadlines, trading_calendar
from grok_assets.defs.checks.freshness import FRESHNESS_CHECKS
from grok_assets.defs.jobs import backtest_job, freshness_job, selection_job
from grok_assets.defs.retention import retention_job
from grok_assets.trading_calendar import TOKYO, TOKYO_TZ


def _tokyo_date(context: ScheduleEvaluationContext) -> dt.date:
    return context.scheduled_execution_time.astimezone(TOKYO_TZ).date()


def backtest_request(day: dt.date) -> RunRequest | SkipReason:
    if not trading_calendar.is_trading_day(day):
        return SkipReason(f"{day} is not a JPX trading day: no bars to backtest")
    return RunRequest(run_key=f"backtest-{day}", partition_key=day.isoformat())


def selection_request(evening: dt.date) -> RunRequest | SkipReason:
    target = trading_calendar.next_trading_day(evening)
    if target != evening + dt.timedelta(days=1):
        return SkipReason(
            f"the next JPX trading day is {target}; its selection runs at 23:00 on "
            f"{target - dt.timedelta(days=1)}"
        )
    return RunRequest(run_key=f"selection-{target}", partition_key=target.isoformat())


@schedule(
    name="backtest_schedule",
    job=backtest_job,
    cron_schedule="0 16 * * 1-5",
    execution_timezone=TOKYO,
    default_status=DefaultScheduleStatus.RUNNING,
    description="16:00 Tokyo on each JPX trading day, after the 15:30 close.",
)
def backtest_schedule(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
    return backtest_request(_tokyo_date(context))


@schedule(
    name="selection_schedule",
    job=selection_job,
    # Every evening: the calendar decides whether tomorrow trades, so the Sunday
    # before a Monday and the last evening of a holiday run both select.
    cron_schedule="0 23 * * *",
    execution_timezone=TOKYO,
    default_status=DefaultScheduleStatus.RUNNING,
    description="23:00 Tokyo on the calendar day before each JPX trading day.",
)
def selection_schedule(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
    return selection_request(_tokyo_date(context))


@schedule(
    name="retention_schedule",
    job=retention_job,
    cron_schedule="30 23 * * *",
    execution_timezone=TOKYO,
    default_status=DefaultScheduleStatus.RUNNING,
    description="23:30 Tokyo daily, after the selection.",
)
def retention_schedule(context: ScheduleEvaluationContext) -> RunRequest:
    return RunRequest(run_key=f"retention-{_tokyo_date(context)}")


def freshness_request(moment: dt.datetime) -> RunRequest | SkipReason:
    """At 17:01 on a trading day, and at 23:31 on the eve of one: a deadline has just
    passed. The run judges the deadlines as of ``moment``, so a tick caught up after an
    outage still asks about the day that was due then."""
    local = moment.astimezone(TOKYO_TZ)
    today = local.date()
    if local.time() < deadlines.SELECTION_DEADLINE:
        if not trading_calendar.is_trading_day(today):
            return SkipReason(f"{today} is not a JPX trading day: no archive is due")
    elif not trading_calendar.is_trading_day(today + dt.timedelta(days=1)):
        return SkipReason(f"{today} is not the eve of a JPX trading day: no selection is due")
    config = {"as_of": local.isoformat()}
    return RunRequest(
        run_key=f"freshness-{local:%Y-%m-%dT%H%M}",
        run_config={"ops": {check.node_def.name: {"config": config} for check in FRESHNESS_CHECKS}},
    )


@schedule(
    name="freshness_schedule",
    job=freshness_job,
    # A minute after each deadline of grok_assets.deadlines: 17:00 and 23:30.
    cron_schedule=["1 17 * * *", "31 23 * * *"],
    execution_timezone=TOKYO,
    default_status=DefaultScheduleStatus.RUNNING,
    description="17:01 and 23:31 Tokyo: fails, and so alerts, when a day's data is late.",
)
def freshness_schedule(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
    return freshness_request(context.scheduled_execution_time)
