"""Every step that touches S3 carries the retry policy, wherever it runs; the policy
itself is bounded and waits between attempts. (That the policy retries transient S3
faults and nothing else is proven against the fault proxy in system/test_retries.py.)"""

from __future__ import annotations

import pytest
from dagster import Backoff, JobDefinition
from dagster._core.definitions.dependency import NodeHandle

from grok_assets.definitions import defs
from grok_assets.defs.retries import STEP_RETRY_POLICY

JOBS = ["selection_job", "backtest_job", "verify_backups_job", "freshness_job", "retention_job"]
# Steps that read nothing but the installed calendar have nothing transient to retry.
NO_IO = {"grok_candidates_trading_calendar_horizon"}


def policy_of(job: JobDefinition, node: str) -> object:
    return job.get_retry_policy_for_handle(NodeHandle(node, None))


def test_the_policy_is_bounded_and_waits_longer_each_time() -> None:
    assert STEP_RETRY_POLICY.max_retries == 3
    assert STEP_RETRY_POLICY.backoff is Backoff.EXPONENTIAL
    delays = [STEP_RETRY_POLICY.calculate_delay(attempt) for attempt in (1, 2, 3)]
    assert delays == [15, 45, 105]


@pytest.mark.parametrize("job_name", JOBS)
def test_every_step_of_every_job_carries_the_policy(job_name: str) -> None:
    job = defs.resolve_job_def(job_name)
    steps = set(job.graph.node_dict) - NO_IO
    assert steps
    for node in steps:
        assert policy_of(job, node) == STEP_RETRY_POLICY, node


def test_materializing_from_the_ui_carries_it_too() -> None:
    # "Materialize" in the UI runs the implicit asset job: the policy is on the assets.
    job = defs.resolve_implicit_global_asset_job_def()
    for name in ("grok_candidates", "grok_trending", "grok_trending_archive", "grok_manifest"):
        assert policy_of(job, name) == STEP_RETRY_POLICY, name
