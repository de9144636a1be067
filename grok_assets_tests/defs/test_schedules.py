"""Schedules evaluated at pinned Tokyo instants: the partition they pick, or why they skip."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from dagster import DagsterInstance, ScheduleDefinition, build_schedule_context

from grok_assets.definitions import defs
from grok_assets.defs.checks.calendar import HORIZON_WARNING_DAYS, horizon_result
from grok_assets.defs.partitions import trading_day_partitions
from grok_assets.defs.schedules import backtest_schedule, retention_schedule, selection_schedule
from grok_assets.trading_calendar import last_known_day

TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture(scope="module")
def instance() -> Iterator[DagsterInstance]:
    with DagsterInstance.local_temp() as temp_instance:
        yield temp_instance


def evaluate(
    schedule: ScheduleDefinition, instance: DagsterInstance, when: str
) -> tuple[str | None, str | None]:
    moment = dt.datetime.fromisoformat(when).replace(tzinfo=TOKYO)
    context = build_schedule_context(
        instance=instance,
        scheduled_execution_time=moment,
        repository_def=defs.get_repository_def(),
    )
    result = schedule.evaluate_tick(context)
    requests = list(result.run_requests or [])
    if not requests:
        return None, result.skip_message
    (request,) = requests
    # The key must exist at that very moment, or the run could not be launched.
    assert request.partition_key in trading_day_partitions().get_partition_keys(current_time=moment)
    return request.partition_key, None


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("2026-11-18 23:00", "2026-11-19"),  # ordinary Wednesday evening
        ("2026-11-22 23:00", None),  # Sunday before a Monday holiday
        ("2026-11-23 23:00", "2026-11-24"),  # the holiday evening before Tuesday
        ("2026-11-27 23:00", None),  # Friday: Monday's selection runs Sunday evening
        ("2026-11-29 23:00", "2026-11-30"),  # Sunday before a Monday
        ("2026-04-30 23:00", "2026-05-01"),  # Thursday before Golden Week's Friday
        ("2026-05-01 23:00", None),  # Golden Week: closed until 05-07
        ("2026-05-06 23:00", "2026-05-07"),  # last evening of Golden Week
        ("2025-12-30 23:00", None),  # New Year closure begins
        ("2026-01-04 23:00", "2026-01-05"),  # last evening of the closure
        ("2025-09-14 23:00", None),  # Sunday before Respect for the Aged Day
        ("2025-09-15 23:00", "2025-09-16"),
    ],
)
def test_selection_schedule(instance: DagsterInstance, when: str, expected: str | None) -> None:
    key, skip = evaluate(selection_schedule, instance, when)
    assert key == expected
    if expected is None:
        assert skip is not None and "next JPX trading day" in skip


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("2026-11-20 16:00", "2026-11-20"),  # Friday
        ("2026-11-23 16:00", None),  # Labour Thanksgiving Day (Monday)
        ("2026-11-24 16:00", "2026-11-24"),
        ("2026-05-04 16:00", None),  # Golden Week
        ("2026-01-02 16:00", None),  # New Year closure
        ("2026-09-22 16:00", None),  # Silver Week
        ("2026-01-05 16:00", "2026-01-05"),
    ],
)
def test_backtest_schedule(instance: DagsterInstance, when: str, expected: str | None) -> None:
    key, skip = evaluate(backtest_schedule, instance, when)
    assert key == expected
    if expected is None:
        assert skip is not None and "not a JPX trading day" in skip


def test_schedules_run_in_tokyo_time() -> None:
    for schedule in (backtest_schedule, selection_schedule):
        assert schedule.execution_timezone == "Asia/Tokyo"
    assert backtest_schedule.job_name == "backtest_job"
    assert selection_schedule.job_name == "selection_job"


def test_horizon_check_warns_within_sixty_days() -> None:
    last = last_known_day()
    far = horizon_result(last - dt.timedelta(days=HORIZON_WARNING_DAYS + 1))
    near = horizon_result(last - dt.timedelta(days=HORIZON_WARNING_DAYS - 1))
    assert far.passed
    assert not near.passed
    assert near.severity.value == "WARN"
    assert last.isoformat() in (near.description or "")


def test_retention_runs_every_evening_after_the_selection(instance: DagsterInstance) -> None:
    assert retention_schedule.execution_timezone == "Asia/Tokyo"
    assert retention_schedule.cron_schedule == "30 23 * * *"
    assert retention_schedule.job_name == "retention_job"
    moment = dt.datetime(2026, 11, 22, 23, 30, tzinfo=TOKYO)
    context = build_schedule_context(
        instance=instance, scheduled_execution_time=moment, repository_def=defs.get_repository_def()
    )
    (request,) = list(retention_schedule.evaluate_tick(context).run_requests or [])
    assert request.run_key == "retention-2026-11-22"
