"""Benchmark 5: ``grok-assets verify --date D`` as an operator runs it, a whole process,
against the seed document's ``verify_s3_backup`` as a whole process, on the same bucket.

Both are started the same way (this interpreter, a clean environment pointing at the
bucket) and alternate within each round, so that a busy moment of the machine hits
both alike; one unmeasured round first warms the page cache and the ``.pyc`` files.
The seed script is given the date too, so it skips reading the published selection:
that only makes the naive side faster. The bucket is served by moto in a process of
its own, as S3 is to an operator, holding what the cycle benchmark starts from: years
of archive ending on day P, P's daily backup and P's selection published.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from typing import Any

from benchmarks.bench_cycle import publish_history
from benchmarks.common import (
    HISTORY_YEARS,
    REPO,
    Loopback,
    child_env,
    grok_assets_command,
    ms,
    ratio,
    separate_loopback,
)

SEED_SCRIPT = REPO / "benchmarks" / "seed_verify_s3_backup.py"


def _timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    completed = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if completed.returncode != 0 or "FAIL" in completed.stdout:
        raise RuntimeError(
            f"{' '.join(command)} exited {completed.returncode}:\n"
            f"{completed.stdout[-2000:]}{completed.stderr[-2000:]}"
        )
    return elapsed


def run(repeats: int) -> list[dict[str, Any]]:
    with separate_loopback() as s3:
        return [_measure(s3, years, repeats) for years in HISTORY_YEARS]


def _measure(s3: Loopback, years: int, repeats: int) -> dict[str, Any]:
    bucket, published, _ = publish_history(s3, years)
    date = published.strftime("%Y%m%d")
    env = child_env(s3.env(bucket))
    commands = {
        "ours": [*grok_assets_command(), "verify", "--date", date],
        "seed": [sys.executable, str(SEED_SCRIPT), "--date", date],
    }
    for command in commands.values():
        _timed(command, env)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for round_ in range(repeats):
        order = list(commands) if round_ % 2 == 0 else list(reversed(commands))
        for name in order:
            times[name].append(_timed(commands[name], env))
    ours, seed = statistics.median(times["ours"]), statistics.median(times["seed"])
    return {
        "years": years,
        "date": published.isoformat(),
        "ours_s": ours,
        "seed_s": seed,
        "ratio": seed / ours,
        "ours_runs": times["ours"],
        "seed_runs": times["seed"],
    }


def render(results: list[dict[str, Any]], repeats: int) -> tuple[str, list[list[str]]]:
    headers = [
        "history",
        "`grok-assets verify --date`: median",
        "seed `verify_s3_backup`: median",
        "seed / ours",
    ]
    rows = [
        [f"{r['years']} y", ms(r["ours_s"]), ms(r["seed_s"]), ratio(r["ratio"])] for r in results
    ]
    title = (
        "5. `grok-assets verify --date` vs the seed document's `verify_s3_backup`, each a "
        f"whole process (median of {repeats} alternating runs)"
    )
    return title, [headers, *rows]
