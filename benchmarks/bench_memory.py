"""Benchmark 4: peak resident memory, each measured operation in a fresh process.

Peaks are each child's own ``ru_maxrss`` (from ``wait4``), raw: nothing subtracted.
Most of a short command's peak is its imports, so the peak of a child that only does
the same imports is reported too, and the difference ("over imports") is what the
operation itself added.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from benchmarks.bench_cycle import Prepared, run_job
from benchmarks.common import (
    HISTORY_YEARS,
    child_env,
    grok_assets_command,
    ratio,
    run_measuring_memory,
)


def _worker(*args: str) -> list[str]:
    return [sys.executable, "-m", "benchmarks.worker", *args]


def _measure(command: list[str], env: dict[str, str], what: str) -> tuple[float, str]:
    status, peak_mib, output = run_measuring_memory(command, child_env(env))
    if status != 0:
        raise RuntimeError(f"{what} exited {status}:\n{output[-2000:]}")
    return peak_mib, output


def run(prepared: dict[int, Prepared]) -> dict[str, Any]:
    baselines = {
        which: _measure(_worker("imports", which), {}, f"imports {which}")[0]
        for which in ("verify", "naive")
    }
    rows = []
    for years in HISTORY_YEARS:
        ready = prepared[years]
        # The day the cycle benchmark backtested with our gate: backed up and archived.
        checked = ready.days[0].isoformat()
        verify, output = _measure(
            [*grok_assets_command(), "verify", "--date", checked], ready.env, "verify"
        )
        if "FAIL" in output:
            raise RuntimeError(f"verify found {checked} not backed up:\n{output}")
        naive, output = _measure(_worker("naive-check", "--date", checked), ready.env, "naive")
        if json.loads(output.strip().splitlines()[-1])["rows"] == 0:
            raise RuntimeError(f"the naive check found no rows for {checked}")
        # A day selected but not yet backtested: the child runs its real backtest.
        day = ready.days[2]
        run_job("selection_job", day, ready.resources)
        backtest, output = _measure(
            _worker("backtest-job", "--date", day.isoformat()), ready.env, "backtest_job"
        )
        rows.append(
            {
                "years": years,
                "verify_peak_mib": verify,
                "naive_check_peak_mib": naive,
                "backtest_job_peak_mib": backtest,
                "verify_over_imports_mib": verify - baselines["verify"],
                "naive_over_imports_mib": naive - baselines["naive"],
                "backtest_job_seconds": json.loads(output.strip().splitlines()[-1])["job_seconds"],
            }
        )
    return {"import_baselines_mib": baselines, "rows": rows}


def mib(value: float) -> str:
    return f"{value:,.1f} MiB"


def render(results: dict[str, Any]) -> tuple[str, list[list[str]]]:
    headers = [
        "history",
        "verify: peak",
        "verify: over imports",
        "naive check: peak",
        "naive check: over imports",
        "backtest_job: peak",
        "verify peak vs 1 y",
    ]
    rows = results["rows"]
    base = rows[0]
    body = [
        [
            f"{r['years']} y",
            mib(r["verify_peak_mib"]),
            mib(r["verify_over_imports_mib"]),
            mib(r["naive_check_peak_mib"]),
            mib(r["naive_over_imports_mib"]),
            mib(r["backtest_job_peak_mib"]),
            ratio(r["verify_peak_mib"] / base["verify_peak_mib"]),
        ]
        for r in rows
    ]
    baselines = results["import_baselines_mib"]
    title = (
        "4. Peak resident memory (raw ru_maxrss of a fresh process per cell; import-only "
        f"peaks: verify {mib(baselines['verify'])}, naive {mib(baselines['naive'])})"
    )
    return title, [headers, *body]
