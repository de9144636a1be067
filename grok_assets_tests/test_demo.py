"""``make run``: the demo shows the cycle, the blocked day, the restore and the pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from grok_assets.demo import run_demo
from grok_assets.storage import S3Store


def test_demo_runs_the_cycle_and_shows_the_blocked_day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("S3_BUCKET", "AWS_ENDPOINT_URL", "GROK_SELECTOR", "XAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    lines: list[str] = []

    assert run_demo(lines.append) == 0

    blocked = [line for line in lines if "BLOCKED" in line]
    assert len(blocked) == 1
    assert blocked[0].startswith("[ok]")
    assert "daily_backup_exists failed" in blocked[0]
    assert "grok_trending.parquet untouched" in blocked[0]
    assert not [line for line in lines if line.startswith("[FAILED]")]
    assert lines[-1] == "18/18 expectations held"
    # Runs persist in the instance, so the UI can show them afterwards.
    assert (tmp_path / "dagster_home" / "history").is_dir()


def test_demo_refuses_a_configured_store_that_is_not_empty(
    store: S3Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    store.put_bytes("grok_trending.parquet", b"someone's real data")
    lines: list[str] = []

    assert run_demo(lines.append) == 1

    assert any("is not empty" in line for line in lines)
    assert store.get_bytes("grok_trending.parquet")[0] == b"someone's real data"
