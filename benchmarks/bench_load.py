"""Benchmark 3: how long ``dagster definitions validate`` takes for this code location,
against a minimal one-asset definitions module, in the same clean environment.

Runs alternate between the two so that a slow moment of the machine hits both.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, child_env, ms, ratio

MODULES = {
    "grok_assets": "grok_assets.definitions",
    "minimal": "benchmarks.minimal_definitions",
}


def _dagster() -> str:
    return str(Path(sys.executable).parent / "dagster")


def validate_seconds(module: str, home: str) -> float:
    # As `make validate` runs it: no settings in the environment, a throwaway instance.
    env = child_env({"HOME": home})
    start = time.perf_counter()
    completed = subprocess.run(
        [_dagster(), "definitions", "validate", "-m", module],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if completed.returncode != 0:
        raise RuntimeError(f"validating {module} failed:\n{completed.stderr[-2000:]}")
    return elapsed


def run(repeats: int) -> dict[str, Any]:
    times: dict[str, list[float]] = {name: [] for name in MODULES}
    with tempfile.TemporaryDirectory(prefix="grok-bench-home-") as home:
        for module in MODULES.values():
            validate_seconds(module, home)  # unmeasured: fills the OS page cache
        for _ in range(repeats):
            for name, module in MODULES.items():
                times[name].append(validate_seconds(module, home))
    medians = {name: statistics.median(values) for name, values in times.items()}
    return {
        "repeats": repeats,
        "runs_s": times,
        "median_s": medians,
        "ratio": medians["grok_assets"] / medians["minimal"],
    }


def render(results: dict[str, Any]) -> tuple[str, list[list[str]]]:
    headers = ["definitions module", "median", "runs"]
    rows = [
        [
            MODULES[name],
            ms(results["median_s"][name]),
            ", ".join(f"{value:.2f}" for value in results["runs_s"][name]),
        ]
        for name in MODULES
    ]
    rows.append(["ratio grok_assets / minimal", ratio(results["ratio"]), ""])
    title = (
        "3. Code location load: `dagster definitions validate -m <module>` "
        f"(median of {results['repeats']} alternating runs, seconds)"
    )
    return title, [headers, *rows]
