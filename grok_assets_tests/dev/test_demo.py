"""``make run``: the demo shows the cycle, the blocked day, the restore and the pass."""

from __future__ import annotations

import os
from pathlib import Path

from grok_assets.dev.demo import demo_target, play_demo
from grok_assets.settings import Settings
from grok_assets.storage import S3Store


def test_demo_runs_the_cycle_and_shows_the_blocked_day(tmp_path: Path) -> None:
    # No store configured: the demo starts its own S3 server on loopback.
    settings = Settings({"DAGSTER_HOME": str(tmp_path / "dagster_home")})
    environ_before = dict(os.environ)
    lines: list[str] = []

    with demo_target(settings, lines.append) as target:
        assert play_demo(target, lines.append) == 0

    assert dict(os.environ) == environ_before
    blocked = [line for line in lines if "BLOCKED" in line]
    assert len(blocked) == 1
    assert blocked[0].startswith("[ok]")
    assert "daily_backup_exists failed" in blocked[0]
    assert "grok_trending.parquet untouched" in blocked[0]
    assert not [line for line in lines if line.startswith("[FAILED]")]
    # The recorded answers went through the real grounding rule.
    selections = [line for line in lines if "selection_job: " in line and "gate passed," in line]
    assert len(selections) == 5
    assert all(
        "12 picks grounded in 24 cited sources (x_search 2, web_search 1" in line
        for line in selections
    )
    assert lines[-1] == "18/18 expectations held"
    # Runs persist in the instance, so the UI can show them afterwards.
    assert (tmp_path / "dagster_home" / "history").is_dir()


def test_demo_refuses_a_configured_store_that_is_not_empty(
    store: S3Store, environ: dict[str, str], tmp_path: Path
) -> None:
    settings = Settings({**environ, "DAGSTER_HOME": str(tmp_path / "dagster_home")})
    store.put_bytes("grok_trending.parquet", b"someone's real data")
    environ_before = dict(os.environ)
    lines: list[str] = []

    with demo_target(settings, lines.append) as target:
        assert play_demo(target, lines.append) == 1

    assert dict(os.environ) == environ_before
    assert any("is not empty" in line for line in lines)
    assert store.get_bytes("grok_trending.parquet")[0] == b"someone's real data"
