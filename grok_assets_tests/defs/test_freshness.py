"""Freshness: the schedule's run at 17:01 and 23:31 Tokyo judges the day due then against
S3, and fails (so it alerts) when that day is late.

Starting state (cloned per test): the cycle ran for Mon 2026-11-16 and Tue 11-17, so
the archive holds both days and the published selection is 11-17's.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from dagster import DagsterInstance, RunRequest, SkipReason, build_schedule_context

from grok_assets.definitions import defs
from grok_assets.defs.schedules import freshness_schedule
from grok_assets.storage import S3Store
from grok_assets.trading_calendar import TOKYO_TZ
from grok_assets_tests.support.pipeline import Pipeline, failed_checks, passed_checks

HOLDS_1117 = re.compile(r"the archive holds [1-9]\d* rows for 2026-11-17, due by")


def tick(when: str) -> RunRequest | SkipReason:
    moment = dt.datetime.fromisoformat(when).replace(tzinfo=TOKYO_TZ)
    with DagsterInstance.ephemeral() as instance:
        context = build_schedule_context(
            instance=instance,
            scheduled_execution_time=moment,
            repository_def=defs.get_repository_def(),
        )
        result = freshness_schedule.evaluate_tick(context)
    if result.skip_message:
        return SkipReason(result.skip_message)
    (request,) = result.run_requests or []
    return request


def judged(pipeline: Pipeline, when: str) -> tuple[bool, dict[str, str]]:
    """The freshness run the schedule launches at ``when``: its outcome, and each
    check's description."""
    request = tick(when)
    assert isinstance(request, RunRequest), request
    result = pipeline.run("freshness_job", run_config=dict(request.run_config))
    found = {e.check_name: e.description or "" for e in result.get_asset_check_evaluations()}
    assert set(found) == {"archive_fresh", "selection_fresh"}
    return result.success, found


def test_the_day_is_fresh_after_its_backtest_and_selection(
    two_days: S3Store, pipeline: Pipeline
) -> None:
    request = tick("2026-11-17 17:01")
    assert isinstance(request, RunRequest)
    result = pipeline.run("freshness_job", run_config=dict(request.run_config))
    assert result.success
    assert passed_checks(result) == ["archive_fresh", "selection_fresh"]
    archive = next(
        e for e in result.get_asset_check_evaluations() if e.check_name == "archive_fresh"
    )
    assert archive.metadata["due_date"].value == "2026-11-17"
    assert HOLDS_1117.search(archive.description or "")


def test_an_archive_missing_at_17_fails_the_run(two_days: S3Store, pipeline: Pipeline) -> None:
    ok, said = judged(pipeline, "2026-11-18 17:01")
    assert not ok
    assert said["archive_fresh"].startswith("LATE: the archive holds no rows for 2026-11-18")
    assert "due by 2026-11-18 17:00 Tokyo" in said["archive_fresh"]
    # The selection for 11-18 was due at 23:30 the evening before, and never came.
    assert "LATE: grok_trending.parquet holds 2026-11-17, not 2026-11-18" in said["selection_fresh"]


def test_a_selection_missing_at_2331_on_its_eve_fails_the_run(
    two_days: S3Store, pipeline: Pipeline
) -> None:
    ok, said = judged(pipeline, "2026-11-17 23:31")
    assert not ok
    assert HOLDS_1117.search(said["archive_fresh"])
    assert said["selection_fresh"].startswith("LATE: grok_trending.parquet holds 2026-11-17")
    assert "due by 2026-11-17 23:30 Tokyo" in said["selection_fresh"]


def test_the_selection_is_fresh_once_published(two_days: S3Store, pipeline: Pipeline) -> None:
    assert pipeline.run("selection_job", dt.date(2026, 11, 18)).success
    request = tick("2026-11-17 23:31")
    assert isinstance(request, RunRequest)
    result = pipeline.run("freshness_job", run_config=dict(request.run_config))
    assert result.success, failed_checks(result)


@pytest.mark.parametrize(
    ("when", "why"),
    [
        ("2026-11-23 17:01", "2026-11-23 is not a JPX trading day: no archive is due"),
        ("2026-11-21 17:01", "2026-11-21 is not a JPX trading day"),
        ("2026-11-22 23:31", "not the eve of a JPX trading day"),  # Monday is a holiday
        ("2026-11-27 23:31", "not the eve of a JPX trading day"),  # Friday night
    ],
)
def test_no_deadline_no_run(when: str, why: str) -> None:
    skipped = tick(when)
    assert isinstance(skipped, SkipReason)
    assert why in (skipped.skip_message or "")


def test_each_run_judges_the_instant_it_was_scheduled_for() -> None:
    # A tick caught up after an outage asks about the day that was due at the tick.
    request = tick("2026-11-23 23:31")
    assert isinstance(request, RunRequest)
    assert request.run_key == "freshness-2026-11-23T2331"
    ops = request.run_config["ops"]
    assert {op["config"]["as_of"] for op in ops.values()} == {"2026-11-23T23:31:00+09:00"}
    assert freshness_schedule.cron_schedule == ["1 17 * * *", "31 23 * * *"]
    assert freshness_schedule.execution_timezone == "Asia/Tokyo"
