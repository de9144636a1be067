"""Commands that only talk to S3 never import Dagster (``import dagster`` alone costs
about 1.5 s): each runs as an operator runs it, a whole process under
``python -X importtime``, and its import log must name no ``dagster`` module."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from grok_assets import layout
from grok_assets.backup.upsert import upsert_daily_into_archive
from grok_assets.storage import S3Store
from grok_assets_tests.support.factories import publish_selection, write_daily_backup

_IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", re.M)


def run_importtime(
    argv: list[str], environ: dict[str, str], cwd: Path
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "grok_assets.cli.main", *argv],
        env={**environ, "PATH": str(Path(sys.executable).parent)},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return completed, set(_IMPORTED.findall(completed.stderr))


@pytest.fixture
def backed_up(store: S3Store) -> S3Store:
    publish_selection(store, "2026-11-20")
    write_daily_backup(store, "2026-11-20")
    upsert_daily_into_archive(
        store, "2026-11-20", layout.daily_backup_key(dt.date(2026, 11, 20)), keep_generations=False
    )
    return store


@pytest.mark.parametrize(
    "argv",
    [
        ["verify", "--date", "20261120"],
        ["restore", "--date", "20261120"],
        ["generations"],
        ["cleanup", "--dry-run"],
        ["fsck"],
        ["seed-sample", "--start", "2026-11-16", "--end", "2026-11-17"],
        ["sync", "--dest", "synced"],
    ],
)
def test_s3_only_commands_import_no_dagster(
    backed_up: S3Store, environ: dict[str, str], tmp_path: Path, argv: list[str]
) -> None:
    completed, modules = run_importtime(argv, environ, tmp_path)

    # A verdict (0 or 1), not a usage or infrastructure error (2).
    assert completed.returncode in (0, 1)
    # The command really ran: it reached S3 through the storage layer.
    assert "grok_assets.storage.store" in modules
    assert "botocore.client" in modules
    assert sorted(m for m in modules if m.split(".")[0].startswith("dagster")) == []


def test_verify_of_a_date_sharing_its_row_group_imports_neither_pandas_nor_compute(
    store: S3Store, environ: dict[str, str], tmp_path: Path
) -> None:
    # Older dates share row groups, so the gate reads and counts the date column chunk;
    # pyarrow would import pandas (0.3 s) to turn a Python value into an Arrow scalar,
    # and pyarrow.compute costs 75 ms to import.
    for day in ("2026-11-18", "2026-11-19", "2026-11-20"):
        write_daily_backup(store, day)
        key = layout.daily_backup_key(dt.date.fromisoformat(day))
        upsert_daily_into_archive(store, day, key, keep_generations=False)
    publish_selection(store, "2026-11-20")
    data, _ = store.get_bytes(layout.ARCHIVE)
    footer = pq.ParquetFile(pa.BufferReader(data)).metadata
    column = footer.schema.names.index("backtest_date")
    groups = [footer.row_group(g).column(column).statistics for g in range(footer.num_row_groups)]
    (shared,) = [stats for stats in groups if stats.min <= "2026-11-18" <= stats.max]
    assert shared.min != shared.max  # the statistics alone cannot answer

    completed, modules = run_importtime(["verify", "--date", "20261118"], environ, tmp_path)

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "archive holds 3 rows for 2026-11-18" in completed.stdout
    assert "pyarrow.parquet" in modules
    heavy = ("pandas", "dagster", "pyarrow.compute")
    assert sorted(m for m in modules if m.startswith(heavy)) == []


def test_the_import_log_does_show_dagster_when_a_command_runs_a_job(
    backed_up: S3Store, environ: dict[str, str], tmp_path: Path
) -> None:
    # The same probe on `check`, which must run a Dagster job: proves the probe sees it.
    completed, modules = run_importtime(["check"], environ, tmp_path)
    assert completed.returncode in (0, 1)
    assert "dagster" in modules


def test_the_code_location_loads_without_the_clients_of_outside_services(
    tmp_path: Path,
) -> None:
    # The UI, the daemon and every run load the definitions; the Slack and xAI clients
    # are needed only by a sensor tick with something to say and by a live selection.
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import grok_assets.definitions"],
        env={"PATH": str(Path(sys.executable).parent), "HOME": str(tmp_path)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    modules = set(_IMPORTED.findall(completed.stderr))

    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "grok_assets.alerts.webhook" in modules and "grok_assets.defs.sensors" in modules
    assert sorted(m for m in modules if m.startswith(("slack_sdk", "openai"))) == []
