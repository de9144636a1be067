"""Running the real Dagster jobs of the code location against the loopback store."""

from __future__ import annotations

import datetime as dt

from dagster import AssetKey, DagsterInstance, ExecuteInProcessResult

from grok_assets.definitions import defs
from grok_assets.jobs import QUIET_RUN_CONFIG

QUIET = QUIET_RUN_CONFIG

# Mon 2026-11-16 .. Tue 2026-11-24; Mon 2026-11-23 is a holiday.
DAYS = [
    dt.date(2026, 11, 16),
    dt.date(2026, 11, 17),
    dt.date(2026, 11, 18),
    dt.date(2026, 11, 19),
    dt.date(2026, 11, 20),
    dt.date(2026, 11, 24),
]


def run_job(
    name: str, day: dt.date | None, instance: DagsterInstance | None = None
) -> ExecuteInProcessResult:
    return defs.resolve_job_def(name).execute_in_process(
        partition_key=day.isoformat() if day else None,
        instance=instance or DagsterInstance.ephemeral(),
        raise_on_error=False,
        run_config=QUIET,
    )


def materialize_alone(asset: str, day: dt.date) -> ExecuteInProcessResult:
    """What clicking "Materialize" on one asset in the UI does: a run of that asset only."""
    return defs.resolve_implicit_global_asset_job_def().execute_in_process(
        asset_selection=[AssetKey(asset)],
        partition_key=day.isoformat(),
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
        run_config=QUIET,
    )


def failed_checks(result: ExecuteInProcessResult) -> list[str]:
    return sorted(e.check_name for e in result.get_asset_check_evaluations() if not e.passed)


def passed_checks(result: ExecuteInProcessResult) -> list[str]:
    return sorted(e.check_name for e in result.get_asset_check_evaluations() if e.passed)


def started_steps(result: ExecuteInProcessResult) -> set[str]:
    return {e.step_key for e in result.all_events if e.is_step_start and e.step_key}


def materialized(result: ExecuteInProcessResult) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def run_cycle(days: list[dt.date]) -> None:
    """Evening selection then next-day backtest, as the schedules would run them."""
    for day in days:
        selection = run_job("selection_job", day)
        assert selection.success, f"selection_job {day} failed"
        backtest = run_job("backtest_job", day)
        assert backtest.success, f"backtest_job {day} failed"
