"""The soak (``benchmarks/soak.py``) in a shortened form: a few simulated trading days
of the real jobs with seeded random faults on most runs, then fsck."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from grok_assets.storage import S3Store
from grok_assets_tests.support.fault_proxy import FaultProxy
from grok_assets_tests.support.harness import proxy_fixture  # noqa: F401

SOAK = Path(__file__).resolve().parents[2] / "benchmarks" / "soak.py"


def load_soak() -> ModuleType:
    spec = importlib.util.spec_from_file_location("soak", SOAK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["soak"] = module
    spec.loader.exec_module(module)
    return module


def test_a_short_soak_loses_no_row_and_publishes_nothing_unbacked(
    store: S3Store, proxy: FaultProxy
) -> None:
    soak = load_soak()

    report = soak.soak(store, proxy, days=8, seed=11, fault_rate=0.7)

    assert report.lost_rows == 0
    assert report.unbacked_publications == 0
    assert report.fsck_findings == []
    assert report.rows_in_archive == report.rows_produced > 0
    # The faults really happened, and the runs they broke were re-run.
    assert sum(report.faults_injected.values()) >= 4
    assert report.runs_failed >= 2 and report.runs_retried >= 2
    assert report.publications >= report.days - 1
