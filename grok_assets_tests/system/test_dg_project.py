"""The repository is a dg project: ``dg check defs`` and ``dg list defs`` work from its
root with an empty environment and see exactly what ``definitions.py`` indexes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from grok_assets.definitions import defs

REPO = Path(__file__).resolve().parents[2]


def dg(*args: str) -> subprocess.CompletedProcess[str]:
    bin_dir = Path(sys.executable).parent
    return subprocess.run(
        [str(bin_dir / "dg"), *args],
        cwd=REPO,
        # As `make validate`: nothing from the environment, so loading cannot depend on it.
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(REPO / ".pytest_cache")},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_dg_check_defs_loads_the_code_location() -> None:
    checked = dg("check", "defs")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "All definitions loaded successfully" in checked.stdout


def test_dg_list_defs_lists_the_explicit_index() -> None:
    listed = dg("list", "defs", "--json")
    assert listed.returncode == 0, listed.stderr
    found = json.loads(listed.stdout)
    graph = defs.resolve_asset_graph()
    assert {a["asset_key"] for a in found["assets"]} == {
        key.to_user_string() for key in graph.get_all_asset_keys()
    }
    assert {c["key"] for c in found["asset_checks"]} == {
        key.to_user_string() for key in graph.asset_check_keys
    }
    assert {j["name"] for j in found["jobs"]} == {
        "backtest_job",
        "selection_job",
        "verify_backups_job",
        "freshness_job",
        "retention_job",
    }
    assert {s["name"] for s in found["schedules"]} == {
        "backtest_schedule",
        "selection_schedule",
        "freshness_schedule",
        "retention_schedule",
    }
    assert {"alert_on_run_failure", "calendar_horizon_alert"} <= {
        s["name"] for s in found["sensors"]
    }
