"""The production instance (``deploy/dagster.yaml``) against a real PostgreSQL server.

A fixture starts Debian's PostgreSQL on a free loopback port in a temporary directory
(``support/postgres.py``: as the ``postgres`` user when the tests run as root). The
test starts a process whose ``DAGSTER_HOME`` is a copy of ``deploy/dagster.yaml``,
whose connection settings come from ``DAGSTER_PG_*`` in that process's environment,
and which runs one day of the cycle against the loopback S3 store; then it reads the
runs, materializations and check results back from the database, directly and from a
second such process through Dagster's API.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dagster import AssetKey

from grok_assets.dev.seeding import seed_sample
from grok_assets.storage import S3Store
from grok_assets_tests.support.pipeline import DAYS
from grok_assets_tests.support.postgres import Postgres, postgres_server

REPO = Path(__file__).resolve().parents[2]
DEPLOY_INSTANCE = REPO / "deploy" / "dagster.yaml"

ASSETS = (
    "grok_candidates",
    "grok_trending",
    "grok_trending_daily",
    "grok_trending_archive",
    "grok_manifest",
)
CHECKS = (
    "grok_trending_daily:daily_backup_exists",
    "grok_trending_archive:archive_contains_target_date",
    "grok_manifest:manifest_matches_s3",
)


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    with postgres_server() as server:
        yield server


# Run in a process of its own, as the daemon and the webserver are: the instance comes
# from DAGSTER_HOME and DAGSTER_PG_* in that process's environment, the runs' resources
# from its S3_* settings.
DRIVER = r"""
import datetime, json, sys
from dagster import AssetCheckKey, AssetKey, DagsterInstance

if sys.argv[1] == "run":
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

    from grok_assets.definitions import defs
    from grok_assets.defs.run import run_quietly

    day = datetime.date.fromisoformat(sys.argv[2])
    with DagsterInstance.get() as instance:
        report = {
            "postgres_run_storage": isinstance(instance.run_storage, PostgresRunStorage),
            "postgres_event_log_storage": isinstance(
                instance.event_log_storage, PostgresEventLogStorage
            ),
            "scheduler": type(instance.scheduler).__name__,
            "run_coordinator": type(instance.run_coordinator).__name__,
        }
        for job in ("selection_job", "backtest_job"):
            result = run_quietly(defs, job, day=day, instance=instance)
            report[job] = {"success": result.success, "run_id": result.run_id}
else:
    assets, checks = json.loads(sys.argv[2]), json.loads(sys.argv[3])
    with DagsterInstance.get() as reader:
        report = {"latest": {}, "checks": {}}
        for asset in assets:
            event = reader.get_latest_materialization_event(AssetKey(asset))
            report["latest"][asset] = None if event is None else {
                "timestamp": event.timestamp,
                "partition": (
                    event.asset_materialization.partition
                    if event.asset_materialization is not None
                    else None
                ),
            }
        for check in checks:
            history = reader.event_log_storage.get_asset_check_execution_history(
                AssetCheckKey.from_user_string(check), limit=10
            )
            report["checks"][check] = [record.status.value for record in history]
print("REPORT " + json.dumps(report), flush=True)
"""


@pytest.fixture
def production_env(postgres: Postgres, environ: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The environment of a process whose ``DAGSTER_HOME`` holds ``deploy/dagster.yaml``
    as it is: only the environment says where the database is."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(DEPLOY_INSTANCE, home / "dagster.yaml")
    return {**os.environ, **environ, **postgres.env(), "DAGSTER_HOME": str(home)}


def _drive(env: dict[str, str], *args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("REPORT ")]
    return json.loads(line.removeprefix("REPORT "))


def test_one_day_of_the_cycle_is_recorded_in_postgres(
    postgres: Postgres, production_env: dict[str, str], store: S3Store
) -> None:
    day = DAYS[0]
    seed_sample(store, day, day)
    started = time.time()

    report = _drive(production_env, "run", day.isoformat())
    assert report["postgres_run_storage"] is True
    assert report["postgres_event_log_storage"] is True
    assert report["scheduler"] == "DagsterDaemonScheduler"
    assert report["run_coordinator"] == "QueuedRunCoordinator"
    selection, backtest = report["selection_job"], report["backtest_job"]
    assert isinstance(selection, dict) and isinstance(backtest, dict)
    assert selection["success"]
    assert backtest["success"]
    run_ids = {selection["run_id"], backtest["run_id"]}

    # Straight from the database: the runs, every materialization and every check
    # evaluation of the day.
    connection = postgres.connect()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT run_id, pipeline_name, status FROM runs")
            runs = {row[0]: (row[1], row[2]) for row in cursor.fetchall()}
            cursor.execute(
                "SELECT asset_key, partition, run_id FROM event_logs "
                "WHERE dagster_event_type = 'ASSET_MATERIALIZATION'"
            )
            materializations = cursor.fetchall()
            cursor.execute(
                "SELECT asset_key, check_name, execution_status, run_id FROM asset_check_executions"
            )
            check_rows = cursor.fetchall()
    finally:
        connection.close()

    assert runs == {
        selection["run_id"]: ("selection_job", "SUCCESS"),
        backtest["run_id"]: ("backtest_job", "SUCCESS"),
    }
    materialized = {
        AssetKey.from_db_string(key).to_user_string(): (partition, run_id)
        for key, partition, run_id in materializations
    }
    assert set(ASSETS) <= set(materialized)
    for asset in ("grok_candidates", "grok_trending", "grok_trending_daily"):
        assert materialized[asset][0] == day.isoformat(), asset
    assert materialized["grok_trending"][1] == selection["run_id"]
    assert materialized["grok_trending_archive"][1] == backtest["run_id"]
    assert {run_id for _, _, run_id in materializations} <= run_ids

    evaluations = {
        (f"{AssetKey.from_db_string(key).to_user_string()}:{name}", run_id): status
        for key, name, status, run_id in check_rows
    }
    for check in CHECKS:
        assert evaluations.get((check, backtest["run_id"])) == "SUCCEEDED", check
    for check in CHECKS[:2]:
        assert evaluations.get((check, selection["run_id"])) == "SUCCEEDED", check

    # And through Dagster's own API, from a fresh instance on the same database in
    # another process, as the webserver and the daemon read it.
    read = _drive(production_env, "read", json.dumps(ASSETS), json.dumps(CHECKS))
    latest, histories = read["latest"], read["checks"]
    assert isinstance(latest, dict) and isinstance(histories, dict)
    for asset in ASSETS:
        event = latest[asset]
        assert event is not None, asset
        assert event["timestamp"] >= started - 1
    assert latest["grok_trending"]["partition"] == day.isoformat()
    for check in CHECKS:
        history = histories[check]
        assert history, check
        assert history[0] == "SUCCEEDED", check
    # Nothing fell back to SQLite under DAGSTER_HOME.
    assert not list(Path(production_env["DAGSTER_HOME"]).rglob("*.db"))


def test_deploy_instance_reads_the_database_only_from_the_environment() -> None:
    text = DEPLOY_INSTANCE.read_text()
    for name in ("DAGSTER_PG_HOST", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_DB"):
        assert f"env: {name}" in text
    assert "password: " not in text.replace("password:\n", "")
