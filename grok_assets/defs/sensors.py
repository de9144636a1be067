"""Sensors: failures and warnings reach a person through the alert webhook.

``alert_on_run_failure`` reads a failed run's events into a
:class:`~grok_assets.alerts.failure.RunFailure`; :mod:`grok_assets.alerts` says what
the message is and posts it. ``calendar_horizon_alert`` repeats the calendar-horizon
warning at most once a Tokyo day while it stands. Both run in the daemon, after the
run they report on has ended, so an alert that cannot be delivered fails the sensor's
tick (shown in the UI and the daemon's log) and never the run.
"""

from collections import Counter
from collections.abc import Mapping

from dagster import (
    AssetCheckKey,
    AssetCheckSeverity,
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    DefaultSensorStatus,
    RunFailureSensorContext,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    run_failure_sensor,
    sensor,
)
from dagster._core.definitions.asset_checks.asset_check_evaluation import AssetCheckEvaluation
from dagster._utils.error import SerializableErrorInfo

from grok_assets import trading_calendar
from grok_assets.alerts.failure import FailedCheck, FailedStep, RunFailure, Value
from grok_assets.alerts.messages import compose_failure_alert, compose_horizon_alert
from grok_assets.defs.resources import AlertWebhookResource
from grok_assets.defs.retries import FAILURE_KIND

HORIZON_CHECK = AssetCheckKey(AssetKey("grok_candidates"), "trading_calendar_horizon")
# A blocking check that failed makes its step fail with this error; the check's own
# evaluation says more, so the step is not reported twice.
_CHECK_FAILED = "DagsterAssetCheckFailedError"
NOT_CONFIGURED = "GROK_ALERT_WEBHOOK_URL is not set: alerts are not sent"


def _plain(metadata: Mapping[str, object]) -> dict[str, Value]:
    plain: dict[str, Value] = {}
    for name, entry in metadata.items():
        value = getattr(entry, "value", entry)
        plain[name] = value if isinstance(value, str | int | float | bool | None) else str(value)
    return plain


def _said(error: SerializableErrorInfo | None) -> tuple[str, str]:
    """(class, message) of the innermost error, without Dagster's wrappers or a stack."""
    if error is None:
        return "", ""
    while error.cause is not None:
        error = error.cause
    message = error.message.strip()
    # "grok_assets.storage.errors.StorageError: ..." -> "StorageError: ..."
    head, sep, rest = message.partition(": ")
    if sep and head.endswith(error.cls_name):
        message = f"{error.cls_name}: {rest}"
    return error.cls_name, message


def failed_checks(instance: DagsterInstance, run_id: str) -> list[FailedCheck]:
    records = instance.get_records_for_run(
        run_id=run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    found = []
    for record in records:
        event = record.event_log_entry.dagster_event
        evaluation = event.asset_check_evaluation_data if event is not None else None
        if (
            evaluation is None
            or evaluation.passed
            # WARN checks (the calendar horizon) do not fail runs; they have a sensor.
            or evaluation.severity != AssetCheckSeverity.ERROR
        ):
            continue
        found.append(
            FailedCheck(
                asset=evaluation.asset_key.to_user_string(),
                check=evaluation.check_name,
                description=evaluation.description or "",
                metadata=_plain(evaluation.metadata),
            )
        )
    return found


def run_failure_from(context: RunFailureSensorContext) -> RunFailure:
    run = context.dagster_run
    retries = Counter(
        record.event_log_entry.step_key
        for record in context.instance.get_records_for_run(
            run_id=run.run_id, of_type=DagsterEventType.STEP_UP_FOR_RETRY
        ).records
    )
    steps = []
    for event in context.get_step_failure_events():
        data = event.step_failure_data
        error, message = _said(data.error)
        if error == _CHECK_FAILED:
            continue
        user = data.user_failure_data
        metadata = _plain(user.metadata) if user is not None else {}
        kind = metadata.get(FAILURE_KIND)
        steps.append(
            FailedStep(
                step=event.step_key or "",
                kind=str(kind) if kind else None,
                error=error,
                message=(user.description if user is not None and user.description else message),
                attempts=1 + retries[event.step_key],
                metadata=metadata,
            )
        )
    return RunFailure(
        job=run.job_name,
        run_id=run.run_id,
        partition=run.tags.get("dagster/partition"),
        checks=tuple(failed_checks(context.instance, run.run_id)),
        steps=tuple(steps),
    )


@run_failure_sensor(
    name="alert_on_run_failure",
    default_status=DefaultSensorStatus.RUNNING,
    description="Posts every failed run of this code location to the alert webhook, with its fix.",
)
def alert_on_run_failure(
    context: RunFailureSensorContext, alert_webhook: AlertWebhookResource
) -> SkipReason | None:
    if not alert_webhook.enabled:
        return SkipReason(NOT_CONFIGURED)
    alert_webhook.post(compose_failure_alert(run_failure_from(context)))
    context.log.info(f"alert sent for the failed run {context.dagster_run.run_id}")
    return None


def latest_evaluation(instance: DagsterInstance, key: AssetCheckKey) -> AssetCheckEvaluation | None:
    for record in instance.event_log_storage.get_asset_check_execution_history(key, limit=5):
        event = record.event.dagster_event if record.event is not None else None
        if event is not None and event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            return event.asset_check_evaluation_data
    return None


@sensor(
    name="calendar_horizon_alert",
    minimum_interval_seconds=3600,
    default_status=DefaultSensorStatus.RUNNING,
    description="Posts the calendar-horizon warning to the alert webhook, at most once a day.",
)
def calendar_horizon_alert(
    context: SensorEvaluationContext, alert_webhook: AlertWebhookResource
) -> SkipReason | SensorResult:
    # The cursor holds the Tokyo day of the last warning delivered.
    today = trading_calendar.today_in_tokyo().isoformat()
    if context.cursor == today:
        return SkipReason(f"the calendar warning was already sent today ({today})")
    evaluation = latest_evaluation(context.instance, HORIZON_CHECK)
    if evaluation is None or evaluation.passed:
        return SkipReason("the latest trading_calendar_horizon check did not warn")
    if not alert_webhook.enabled:
        return SkipReason(NOT_CONFIGURED)
    last = evaluation.metadata.get("last_known_session")
    alert_webhook.post(
        compose_horizon_alert(evaluation.description or "", str(last.value) if last else None)
    )
    return SensorResult(skip_reason=SkipReason(f"calendar warning sent for {today}"), cursor=today)
