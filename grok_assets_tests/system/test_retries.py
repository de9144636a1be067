"""The step retry policy against real network faults (the fault proxy in front of the
loopback S3 server): an S3 outage that outlasts boto3's own retries is ridden out by
the policy, after its delay; a closed gate, a refused archive write and an invalid
model answer fail at once, each asked of S3 or the model exactly once.

Unlike the other fault tests, these runs keep the policy on (no ``grok/step_retries``
tag): it is what they are about.

Starting state (cloned per test): sample data seeded, DAYS[0] selected and
backtested, DAYS[1] selected and published, not yet backed up.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from dagster import DagsterEventType, DagsterInstance, ExecuteInProcessResult

from grok_assets import layout
from grok_assets.defs.retries import FAILURE_KIND, STEP_RETRY_POLICY
from grok_assets.dev.s3_server import LoopbackS3
from grok_assets.storage import S3Store
from grok_assets_tests.support.fault_proxy import STATUS, FaultProxy, Rule
from grok_assets_tests.support.harness import (  # noqa: F401
    archive_rows,
    clone_bucket,
    fast_pipeline,
    is_backed_up,
    proxy_fixture,
    published,
    published_unbacked_template,
    shared_instance,
)
from grok_assets_tests.support.pipeline import DAYS, Pipeline, step_errors

ARCHIVE = r"/backtest/grok_trending_archive\.parquet$"
DAILY = rf"/backtest/grok_trending_{DAYS[1]:%Y%m%d}\.parquet$"
REPLAY = rf"/grok/replay/{DAYS[2]:%Y%m%d}\.json$"
# boto3's attempts per request (1 + the 5 retries of the code location's S3 client).
BOTO_ATTEMPTS = 6


@pytest.fixture(scope="module")
def template(s3: LoopbackS3) -> str:
    return published_unbacked_template(s3, "retries")


@pytest.fixture
def state(template: str, store: S3Store, s3_client: Any, proxy: FaultProxy) -> Iterator[S3Store]:
    clone_bucket(s3_client, template, store.bucket)
    assert published(store)[1] == DAYS[1].isoformat()
    yield store
    proxy.clear()


@pytest.fixture
def retrying(proxy: FaultProxy, bucket: str) -> Pipeline:
    """The real jobs through the proxy, with the step retry policy in force."""
    return fast_pipeline(proxy.endpoint, bucket, step_retries=True)


def events(result: ExecuteInProcessResult, kind: DagsterEventType) -> list[Any]:
    return [event for event in result.all_events if event.event_type == kind]


def retried_steps(result: ExecuteInProcessResult) -> list[str]:
    return [e.step_key for e in events(result, DagsterEventType.STEP_UP_FOR_RETRY)]


def run(pipeline: Pipeline, job: str, day: Any) -> ExecuteInProcessResult:
    return pipeline.run(job, day, instance=shared_instance())


# -- transient: retried, after a delay ------------------------------------------------


def test_an_s3_outage_longer_than_boto3s_retries_is_ridden_out_by_the_policy(
    state: S3Store, proxy: FaultProxy, retrying: Pipeline
) -> None:
    # Every one of boto3's attempts at the archive write answers 500; the next succeeds.
    rule = proxy.add(Rule(STATUS, "PUT", ARCHIVE, code="InternalError", times=BOTO_ATTEMPTS))

    instance = DagsterInstance.ephemeral()
    result = retrying.run("backtest_job", DAYS[1], instance=instance)

    assert result.success, step_errors(result)
    assert retried_steps(result) == ["grok_trending_archive"]
    assert rule.applied == BOTO_ATTEMPTS
    assert proxy.count("PUT", ARCHIVE) == BOTO_ATTEMPTS + 1
    # The policy waited before the second attempt.
    logs = instance.all_logs(result.run_id)
    (up,) = [e for e in logs if e.dagster_event_type == DagsterEventType.STEP_UP_FOR_RETRY]
    (restarted,) = [e for e in logs if e.dagster_event_type == DagsterEventType.STEP_RESTARTED]
    waited = restarted.timestamp - up.timestamp
    assert waited >= STEP_RETRY_POLICY.calculate_delay(1) - 0.5, waited
    assert is_backed_up(state, DAYS[1].isoformat())


def test_a_check_that_cannot_read_s3_is_retried_too(
    state: S3Store, proxy: FaultProxy, retrying: Pipeline
) -> None:
    # The gate's first read of the published day's backup fails through every attempt.
    assert run(retrying, "backtest_job", DAYS[1]).success
    rule = proxy.add(Rule(STATUS, "GET", DAILY, code="SlowDown", times=BOTO_ATTEMPTS))

    result = run(retrying, "selection_job", DAYS[2])

    assert result.success, step_errors(result)
    assert rule.applied == BOTO_ATTEMPTS
    (retried,) = retried_steps(result)
    assert retried in {
        "grok_trending_daily_daily_backup_exists",
        "grok_trending_archive_archive_contains_target_date",
    }
    assert published(state)[1] == DAYS[2].isoformat()


# -- permanent: failed at once --------------------------------------------------------


def assert_not_retried(result: ExecuteInProcessResult) -> None:
    assert not result.success
    assert retried_steps(result) == []
    assert events(result, DagsterEventType.STEP_RESTARTED) == []


def failure_kinds(result: ExecuteInProcessResult) -> dict[str, str]:
    kinds = {}
    for event in events(result, DagsterEventType.STEP_FAILURE):
        user = event.step_failure_data.user_failure_data
        if user is not None and FAILURE_KIND in user.metadata:
            kinds[event.step_key] = str(user.metadata[FAILURE_KIND].value)
    return kinds


def test_a_closed_gate_is_not_retried(
    state: S3Store, proxy: FaultProxy, retrying: Pipeline
) -> None:
    published_before = published(state)[0]

    blocked = run(retrying, "selection_job", DAYS[2])
    alone = retrying.materialize_alone("grok_trending", DAYS[2])

    assert_not_retried(blocked)
    assert {e.check_name for e in blocked.get_asset_check_evaluations() if not e.passed} == {
        "daily_backup_exists",
        "archive_contains_target_date",
    }
    # Materialized alone, the asset's own re-verification refuses, once.
    assert_not_retried(alone)
    assert failure_kinds(alone) == {"grok_trending": "gate_closed"}
    assert published(state)[0] == published_before


@pytest.mark.parametrize(
    ("code", "puts", "kind"),
    [
        # S3 refuses the write outright: boto3 does not repeat a 403, nor does the policy.
        ("AccessDenied", 1, "configuration"),
        # Every write loses its compare-and-swap: the swap's own bounded attempts, then
        # no more.
        ("PreconditionFailed", 6, "refused_write"),
    ],
)
def test_a_refused_archive_write_is_not_retried(
    state: S3Store, proxy: FaultProxy, retrying: Pipeline, code: str, puts: int, kind: str
) -> None:
    rows_before = archive_rows(state)
    proxy.add(Rule(STATUS, "PUT", ARCHIVE, code=code, times=None))

    result = run(retrying, "backtest_job", DAYS[1])

    assert_not_retried(result)
    assert failure_kinds(result) == {"grok_trending_archive": kind}
    assert proxy.count("PUT", ARCHIVE) == puts
    assert archive_rows(state) == rows_before


def test_an_invalid_model_answer_is_not_retried(
    state: S3Store, proxy: FaultProxy, retrying: Pipeline
) -> None:
    assert run(retrying, "backtest_job", DAYS[1]).success
    state.put_bytes(layout.replay_answer_key(DAYS[2]), b'[{"code": "7203", "reason": ""}]')

    result = run(retrying, "selection_job", DAYS[2])

    assert_not_retried(result)
    assert failure_kinds(result) == {"grok_candidates": "invalid_model_answer"}
    assert "ModelAnswerError" in step_errors(result)
    assert proxy.count("GET", REPLAY) == 1  # asked once, never again
    assert state.head(layout.candidates_key(DAYS[2])) is None
