"""The alert sensors, evaluated as the daemon evaluates them, over real failed runs of
the code location's jobs, posting to a loopback server that speaks Slack's webhook
protocol: what reaches a person, once, and that a webhook that is down changes no
run's outcome.

Starting state (cloned per test): the cycle ran for Mon 2026-11-16 and Tue 11-17.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from dagster import (
    AssetCheckEvaluation,
    AssetCheckSeverity,
    AssetKey,
    DagsterInstance,
    DagsterRunStatus,
    build_sensor_context,
)

from grok_assets import layout, trading_calendar
from grok_assets.definitions import defs
from grok_assets.defs.checks.calendar import horizon_result
from grok_assets.defs.resources import AlertWebhookResource
from grok_assets.defs.sensors import NOT_CONFIGURED, alert_on_run_failure, calendar_horizon_alert
from grok_assets.dev.s3_server import free_port
from grok_assets.storage import S3Store
from grok_assets_tests.support.pipeline import Pipeline
from grok_assets_tests.support.slack_server import FakeSlack

DAY_2, DAY_3 = dt.date(2026, 11, 17), dt.date(2026, 11, 18)


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    # Persistent, like production: the sensor reads the run's events back from it.
    with DagsterInstance.local_temp() as temporary:
        yield temporary


class Sensor:
    """``alert_on_run_failure`` ticking as the daemon ticks it, cursor carried over."""

    def __init__(self, instance: DagsterInstance, webhook: AlertWebhookResource) -> None:
        self.instance = instance
        self.webhook = webhook
        self.cursor: str | None = None
        self.tick()  # the first tick only starts watching from now

    def tick(self) -> Any:
        context = build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            repository_def=defs.get_repository_def(),
            resources={"alert_webhook": self.webhook},
        )
        result = alert_on_run_failure.evaluate_tick(context)
        self.cursor = result.cursor
        return result


def test_a_blocked_selection_reaches_a_person_as_one_message_with_its_fix(
    two_days: S3Store, pipeline: Pipeline, instance: DagsterInstance, slack: FakeSlack
) -> None:
    sensor = Sensor(instance, AlertWebhookResource(url=slack.url()))
    two_days.delete(layout.daily_backup_key(DAY_2))  # 11-17 is published, now unbacked

    run = pipeline.run("selection_job", DAY_3, instance=instance)
    assert not run.success
    result = sensor.tick()

    assert [reaction.error for reaction in result.dagster_run_reactions] == [None]
    (message,) = slack.messages
    lines = message.splitlines()
    assert lines[0] == (
        ":no_entry: *selection_job for 2026-11-18 is BLOCKED by the backup gate: nothing "
        "was published*"
    )
    assert lines[1] == f"job selection_job, partition 2026-11-18, run {run.run_id[:8]}"
    assert (
        "daily_backup_exists (grok_trending_daily): daily backup "
        "backtest/grok_trending_20261117.parquet is missing" in message
    )
    assert (
        "Fix: rebuild its daily backup from the archive: `grok-assets restore --date 20261117`"
        in message
    )
    assert (
        "Then: select again: `dagster job launch -w deploy/workspace.yaml -j selection_job"
        in message
    )
    assert "Traceback" not in message and "Stack Trace" not in message
    assert "DagsterAssetCheckFailedError" not in message
    # Once: the next tick has nothing new to say.
    sensor.tick()
    assert len(slack.messages) == 1


def test_an_invalid_model_answer_is_reported_with_what_was_wrong(
    two_days: S3Store, pipeline: Pipeline, instance: DagsterInstance, slack: FakeSlack
) -> None:
    sensor = Sensor(instance, AlertWebhookResource(url=slack.url()))
    two_days.put_bytes(layout.replay_answer_key(DAY_3), b'[{"code": "7203"}]')

    assert not pipeline.run("selection_job", DAY_3, instance=instance).success
    sensor.tick()

    (message,) = slack.messages
    assert (
        "the model's answer for 2026-11-18 is not a valid selection; nothing was written" in message
    )
    assert "ModelAnswerError" in message
    assert "ask again: `dagster job launch" in message


def test_a_late_archive_is_reported_by_the_freshness_run(
    two_days: S3Store, pipeline: Pipeline, instance: DagsterInstance, slack: FakeSlack
) -> None:
    sensor = Sensor(instance, AlertWebhookResource(url=slack.url()))
    config = {"as_of": "2026-11-18T17:01:00+09:00"}
    run_config = {"ops": {"grok_trending_archive_archive_fresh": {"config": config}}}
    run_config["ops"]["grok_trending_selection_fresh"] = {"config": config}

    assert not pipeline.run("freshness_job", instance=instance, run_config=run_config).success
    sensor.tick()

    (message,) = slack.messages
    assert message.startswith(":alarm_clock: *LATE: the archive does not hold 2026-11-18*")
    assert 'backtest_job --tags \'{"dagster/partition": "2026-11-18"}\'' in message


def test_a_successful_run_is_not_reported(
    two_days: S3Store, pipeline: Pipeline, instance: DagsterInstance, slack: FakeSlack
) -> None:
    sensor = Sensor(instance, AlertWebhookResource(url=slack.url()))
    assert pipeline.run("selection_job", DAY_3, instance=instance).success
    sensor.tick()
    assert slack.received == []


def test_a_webhook_that_is_down_fails_the_tick_not_the_run(
    two_days: S3Store, pipeline: Pipeline, instance: DagsterInstance
) -> None:
    down = f"http://127.0.0.1:{free_port()}/services/T0GROK000/B0GROK000/secrettoken1234"
    sensor = Sensor(instance, AlertWebhookResource(url=down))
    two_days.delete(layout.daily_backup_key(DAY_2))
    failed = pipeline.run("selection_job", DAY_3, instance=instance)

    result = sensor.tick()

    (reaction,) = result.dagster_run_reactions
    assert reaction.error is not None
    assert "could not be reached: connection refused" in reaction.error.to_string()
    assert "secrettoken1234" not in reaction.error.to_string()
    # The run is what it was, and a successful run stays successful.
    assert instance.get_run_by_id(failed.run_id).status == DagsterRunStatus.FAILURE
    ok = pipeline.run("backtest_job", DAY_2, instance=instance)  # rebuilds the backup
    assert ok.success
    sensor.tick()
    assert instance.get_run_by_id(ok.run_id).status == DagsterRunStatus.SUCCESS


def test_without_a_webhook_nothing_is_sent_and_the_tick_says_why(
    two_days: S3Store, pipeline: Pipeline, instance: DagsterInstance, slack: FakeSlack
) -> None:
    # No URL configured and none in GROK_ALERT_WEBHOOK_URL (the tests' environment has none).
    sensor = Sensor(instance, AlertWebhookResource())
    two_days.delete(layout.daily_backup_key(DAY_2))
    assert not pipeline.run("selection_job", DAY_3, instance=instance).success
    result = sensor.tick()
    assert result.skip_message == NOT_CONFIGURED
    assert slack.received == []


# -- the calendar-horizon warning ----------------------------------------------------


def record_horizon_check(instance: DagsterInstance, days_ahead: int) -> None:
    """The check's result as it would be with the calendar's last session that close."""
    result = horizon_result(trading_calendar.last_known_day() - dt.timedelta(days=days_ahead))
    instance.report_runless_asset_event(
        AssetCheckEvaluation(
            asset_key=AssetKey("grok_candidates"),
            check_name="trading_calendar_horizon",
            passed=bool(result.passed),
            severity=AssetCheckSeverity.WARN,
            description=result.description,
            metadata=result.metadata,
        )
    )


def horizon_tick(instance: DagsterInstance, slack: FakeSlack, cursor: str | None) -> Any:
    context = build_sensor_context(
        instance=instance,
        cursor=cursor,
        repository_def=defs.get_repository_def(),
        resources={"alert_webhook": AlertWebhookResource(url=slack.url())},
    )
    return calendar_horizon_alert.evaluate_tick(context)


def test_the_calendar_warning_is_sent_at_most_once_a_day(
    instance: DagsterInstance, slack: FakeSlack
) -> None:
    record_horizon_check(instance, days_ahead=45)
    today = trading_calendar.today_in_tokyo()

    first = horizon_tick(instance, slack, cursor=None)
    again = horizon_tick(instance, slack, cursor=first.cursor)
    record_horizon_check(instance, days_ahead=44)  # the 23:00 run warns again the same day
    same_day = horizon_tick(instance, slack, cursor=again.cursor or first.cursor)

    assert first.cursor == today.isoformat()
    assert len(slack.messages) == 1
    assert "already sent today" in (again.skip_message or "")
    assert "already sent today" in (same_day.skip_message or "")
    (message,) = slack.messages
    assert "*The JPX calendar is running out (last known session" in message
    assert "only 45 days ahead" in message
    # The next day it is said again, while it still stands.
    yesterday = (today - dt.timedelta(days=1)).isoformat()
    horizon_tick(instance, slack, cursor=yesterday)
    assert len(slack.messages) == 2


def test_no_calendar_warning_while_the_calendar_reaches_far_enough(
    instance: DagsterInstance, slack: FakeSlack
) -> None:
    record_horizon_check(instance, days_ahead=300)
    result = horizon_tick(instance, slack, cursor=None)
    assert "did not warn" in (result.skip_message or "")
    assert slack.received == []
