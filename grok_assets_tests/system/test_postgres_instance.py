"""The production instance (``deploy/dagster.yaml``) against a real PostgreSQL server.

A fixture starts Debian's PostgreSQL on a free loopback port in a temporary directory
(as the ``postgres`` user when the tests run as root: the server refuses root). The
test starts a process whose ``DAGSTER_HOME`` is a copy of ``deploy/dagster.yaml``,
whose connection settings come from ``DAGSTER_PG_*`` in that process's environment,
and which runs one day of the cycle against the loopback S3 store; then it reads the
runs, materializations and check results back from the database, directly and from a
second such process through Dagster's API.
"""

from __future__ import annotations

import glob
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from dagster import AssetKey

from grok_assets.dev.s3_server import free_port
from grok_assets.dev.seeding import seed_sample
from grok_assets.storage import S3Store
from grok_assets_tests.support.pipeline import DAYS

REPO = Path(__file__).resolve().parents[2]
DEPLOY_INSTANCE = REPO / "deploy" / "dagster.yaml"
IN_CI = os.environ.get("CI", "").lower() == "true"

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


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    password: str
    db_name: str

    def env(self) -> dict[str, str]:
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USERNAME": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_DB": self.db_name,
        }

    def connect(self):  # type: ignore[no-untyped-def]
        import psycopg2

        return psycopg2.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=self.db_name,
            connect_timeout=5,
        )


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(found[0]).parent if found else None


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason}; .ci/run installs Debian's postgresql package")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    bindir = _postgres_bin()
    if bindir is None:
        _unavailable("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin)")
    assert bindir is not None
    as_root = os.geteuid() == 0
    prefix: list[str] = []
    if as_root:
        # The server refuses to run as root.
        if shutil.which("runuser") is None:
            _unavailable("running as root without runuser to start PostgreSQL as postgres")
        try:
            import pwd

            account = pwd.getpwnam("postgres")
        except KeyError:
            _unavailable("running as root and there is no postgres user to run the server")
        prefix = ["runuser", "-u", "postgres", "--"]
    base = Path(tempfile.mkdtemp(prefix="grok-pg-"))
    if as_root:
        os.chown(base, account.pw_uid, account.pw_gid)
    data, log = base / "data", base / "server.log"
    password = secrets.token_hex(12)
    pwfile = base / "pwfile"
    pwfile.write_text(password + "\n")
    if as_root:
        os.chown(pwfile, account.pw_uid, account.pw_gid)
    pwfile.chmod(0o600)
    port = free_port()

    def run(*command: str) -> None:
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=120)

    started = False
    try:
        run(
            str(bindir / "initdb"),
            "-D",
            str(data),
            "--username=dagster",
            f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256",
            "--auth-local=scram-sha-256",
            "--encoding=UTF8",
            "--no-sync",
        )
        options = f"-p {port} -c listen_addresses=127.0.0.1 -k {base} -c fsync=off"
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start")
        started = True
        server = Postgres("127.0.0.1", port, "dagster", password, "postgres")
        connection = server.connect()
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("CREATE DATABASE dagster")
        connection.close()
        yield Postgres("127.0.0.1", port, "dagster", password, "dagster")
    except subprocess.CalledProcessError as error:
        detail = (error.stderr or b"").decode(errors="replace")
        server_log = log.read_text(errors="replace") if log.exists() else ""
        raise RuntimeError(f"PostgreSQL did not start: {detail}\n{server_log}") from error
    finally:
        if started:
            subprocess.run(
                [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(base, ignore_errors=True)


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
