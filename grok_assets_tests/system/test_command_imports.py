"""Commands that only talk to S3 never import Dagster (``import dagster`` alone costs
about 1.5 s): each runs as an operator runs it, a whole process under
``python -X importtime``, and its import log must name no ``dagster`` module."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import pytest

from grok_assets import layout
from grok_assets.backup.upsert import upsert_daily_into_archive
from grok_assets.storage import S3Store
from grok_assets_tests.support.factories import publish_selection, write_daily_backup

_IMPORTED = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", re.M)


def imported_modules(argv: list[str], environ: dict[str, str], cwd: Path) -> tuple[int, set[str]]:
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "grok_assets.cli.main", *argv],
        env={**environ, "PATH": str(Path(sys.executable).parent)},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return completed.returncode, set(_IMPORTED.findall(completed.stderr))


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
    code, modules = imported_modules(argv, environ, tmp_path)

    # A verdict (0 or 1), not a usage or infrastructure error (2).
    assert code in (0, 1)
    # The command really ran: it reached S3 through the storage layer.
    assert "grok_assets.storage.store" in modules
    assert "botocore.client" in modules
    assert sorted(m for m in modules if m.split(".")[0].startswith("dagster")) == []


def test_the_import_log_does_show_dagster_when_a_command_runs_a_job(
    backed_up: S3Store, environ: dict[str, str], tmp_path: Path
) -> None:
    # The same probe on `check`, which must run a Dagster job: proves the probe sees it.
    code, modules = imported_modules(["check"], environ, tmp_path)
    assert code in (0, 1)
    assert "dagster" in modules
