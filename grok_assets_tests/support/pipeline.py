"""Running the real Dagster jobs of the code location against a loopback bucket."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from dagster import DagsterInstance, ExecuteInProcessResult
from dagster_aws.s3 import S3Resource

from grok_assets.definitions import defs
from grok_assets.defs.resources import SelectorResource
from grok_assets.defs.retries import NO_STEP_RETRIES
from grok_assets.defs.run import run_quietly
from grok_assets.dev.s3_server import LoopbackS3
from grok_assets.settings import DEFAULT_PREFIX

# Mon 2026-11-16 .. Tue 2026-11-24; Mon 2026-11-23 is a holiday.
DAYS = [
    dt.date(2026, 11, 16),
    dt.date(2026, 11, 17),
    dt.date(2026, 11, 18),
    dt.date(2026, 11, 19),
    dt.date(2026, 11, 20),
    dt.date(2026, 11, 24),
]

_CLIENTS: dict[str, Any] = {}


class ReusedClientS3Resource(S3Resource):
    """``S3Resource`` whose boto3 client is built once per process and configuration.

    Building a client costs ~0.4 s (botocore parses its service JSON per session), and
    every asset step builds one; the reliability tests and the soak run hundreds of
    steps. The client is the same (same retry configuration, same endpoint), so the
    faults and the code paths are those of the real definitions.
    """

    def get_client(self) -> Any:
        key = self.model_dump_json()
        if key not in _CLIENTS:
            _CLIENTS[key] = super().get_client()
        return _CLIENTS[key]


@dataclass
class Pipeline:
    """The code location's jobs, run against one bucket with configured resources."""

    s3: LoopbackS3
    bucket: str
    prefix: str = DEFAULT_PREFIX
    selector: SelectorResource = field(default_factory=lambda: SelectorResource(kind="replay"))
    reuse_client: bool = False
    # False: steps meet each fault once, without the retry policy's delays (minutes for
    # a persistent fault); the policy itself is proven in system/test_retries.py.
    step_retries: bool = True

    @property
    def resources(self) -> dict[str, Any]:
        s3_resource = ReusedClientS3Resource if self.reuse_client else None
        return {
            "storage": self.s3.storage_resource(self.bucket, self.prefix, s3_resource),
            "selector": self.selector,
        }

    @property
    def tags(self) -> dict[str, str]:
        return {} if self.step_retries else dict(NO_STEP_RETRIES)

    def run(
        self,
        job: str,
        day: dt.date | None = None,
        instance: DagsterInstance | None = None,
        run_config: dict[str, Any] | None = None,
    ) -> ExecuteInProcessResult:
        return run_quietly(
            defs,
            job,
            day=day,
            instance=instance,
            resources=self.resources,
            tags=self.tags,
            run_config=run_config,
        )

    def materialize_alone(self, asset: str, day: dt.date) -> ExecuteInProcessResult:
        """What clicking "Materialize" on one asset in the UI does: a run of that asset."""
        return run_quietly(
            defs, None, assets=[asset], day=day, resources=self.resources, tags=self.tags
        )

    def run_cycle(self, days: list[dt.date]) -> None:
        """Evening selection then next-day backtest, as the schedules would run them."""
        for day in days:
            assert self.run("selection_job", day).success, f"selection_job {day} failed"
            assert self.run("backtest_job", day).success, f"backtest_job {day} failed"


def failed_checks(result: ExecuteInProcessResult) -> list[str]:
    return sorted(e.check_name for e in result.get_asset_check_evaluations() if not e.passed)


def passed_checks(result: ExecuteInProcessResult) -> list[str]:
    return sorted(e.check_name for e in result.get_asset_check_evaluations() if e.passed)


def started_steps(result: ExecuteInProcessResult) -> set[str]:
    return {e.step_key for e in result.all_events if e.is_step_start and e.step_key}


def materialized(result: ExecuteInProcessResult) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def step_errors(result: ExecuteInProcessResult) -> str:
    """Every step failure's message, for assertions on what the operator is told."""
    return "\n".join(
        str(event.step_failure_data.error)
        for event in result.all_events
        if event.is_step_failure and event.step_failure_data.error is not None
    )
