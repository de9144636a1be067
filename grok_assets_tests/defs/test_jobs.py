"""Each job runs exactly the checks it names: selecting an asset never brings a check along
unasked, and none that the gate needs is missing."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from grok_assets.definitions import defs
from grok_assets.defs.jobs import EXCLUSIVE_TAG

GATE = {
    "grok_trending_daily:daily_backup_exists",
    "grok_trending_archive:archive_contains_target_date",
}
MANIFEST = {"grok_manifest:manifest_matches_s3"}
HORIZON = {"grok_candidates:trading_calendar_horizon"}
DEPLOY_INSTANCE = Path(__file__).resolve().parents[2] / "deploy" / "dagster.yaml"
FRESHNESS = {"grok_trending_archive:archive_fresh", "grok_trending:selection_fresh"}


def checks_of(job_name: str) -> set[str]:
    job = defs.resolve_job_def(job_name)
    return {key.to_user_string() for key in job.asset_layer.asset_graph.asset_check_keys}


def assets_of(job_name: str) -> set[str]:
    job = defs.resolve_job_def(job_name)
    return {key.to_user_string() for key in job.asset_layer.selected_asset_keys}


@pytest.mark.parametrize(
    ("job_name", "checks", "assets"),
    [
        (
            "selection_job",
            GATE | MANIFEST | HORIZON,
            {"grok_candidates", "grok_trending", "grok_manifest"},
        ),
        (
            "backtest_job",
            GATE | MANIFEST,
            {"grok_trending_daily", "grok_trending_archive", "grok_manifest"},
        ),
        ("verify_backups_job", GATE | MANIFEST | HORIZON, set()),
        ("freshness_job", FRESHNESS, set()),
    ],
)
def test_each_job_runs_exactly_its_checks_and_assets(
    job_name: str, checks: set[str], assets: set[str]
) -> None:
    assert checks_of(job_name) == checks
    assert assets_of(job_name) == assets


def test_the_gate_checks_are_blocking_errors() -> None:
    specs = {
        spec.key.to_user_string(): spec
        for check in defs.asset_checks or []
        for spec in check.check_specs
    }
    for name in GATE | MANIFEST | FRESHNESS:
        assert specs[name].blocking, name
    assert not specs[next(iter(HORIZON))].blocking


def test_selection_runs_are_limited_to_one_at_a_time_by_the_production_queue() -> None:
    # The tag every selection_job run carries, however it is launched, and the limit the
    # production instance puts on it (proven with the real daemon in system/test_daemon.py).
    selection = defs.resolve_job_def("selection_job")
    # Schedules and the UI copy a job's run tags to its runs, `dagster job launch` its
    # definition tags: both must carry it.
    assert selection.run_tags[EXCLUSIVE_TAG] == "selection"
    assert selection.tags[EXCLUSIVE_TAG] == "selection"
    for other in ("backtest_job", "verify_backups_job", "freshness_job"):
        assert EXCLUSIVE_TAG not in defs.resolve_job_def(other).run_tags
    instance = yaml.safe_load(DEPLOY_INSTANCE.read_text())
    limits = instance["run_coordinator"]["config"]["tag_concurrency_limits"]
    assert {"key": EXCLUSIVE_TAG, "value": "selection", "limit": 1} in limits
