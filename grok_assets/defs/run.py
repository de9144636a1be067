"""Running a job of the code location in process, quietly, with given resources: what the
demo, the UI launcher, ``grok-assets check`` and the tests share."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from dagster import AssetKey, DagsterInstance, Definitions, ExecuteInProcessResult

# Runs are still recorded in the instance; only the console echo of every event is
# silenced, for commands that print their own one-line-per-step report.
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def run_quietly(
    defs: Definitions,
    job_name: str | None,
    *,
    day: dt.date | None = None,
    assets: Sequence[str] = (),
    instance: DagsterInstance | None = None,
    resources: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    run_config: Mapping[str, Any] | None = None,
) -> ExecuteInProcessResult:
    """One run of ``job_name`` (for ``day``'s partition when given); failures are in the
    result, not raised. ``resources`` replace the definitions' own for this run;
    ``tags`` are added to the run's; ``run_config`` (a schedule's, say) is the run's.

    ``job_name`` None runs ``assets`` alone, as "Materialize" on them in the UI does.
    """
    if job_name is None:
        if resources:
            # Dagster rebuilds a subset of the implicit asset job from the assets, which
            # carry the definitions' own resources; replacing them when the run starts
            # conflicts, so the run's resources are bound into the definitions instead.
            defs = Definitions(
                assets=defs.assets,
                asset_checks=defs.asset_checks,
                executor=defs.executor,
                loggers=defs.loggers,
                resources={**(defs.resources or {}), **resources},
            )
            resources = None
        job = defs.resolve_implicit_global_asset_job_def()
    else:
        job = defs.resolve_job_def(job_name)
    return job.execute_in_process(
        partition_key=day.isoformat() if day else None,
        asset_selection=[AssetKey(name) for name in assets] or None,
        instance=instance or DagsterInstance.ephemeral(),
        raise_on_error=False,
        run_config={**(run_config or {}), **QUIET_RUN_CONFIG},
        resources=dict(resources) if resources else None,
        tags=dict(tags) if tags else None,
    )
