"""Run every benchmark against the loopback S3 server and report (``make bench``).

1. gate check vs history  2. daily cycle vs history  3. code location load
4. peak memory  5. ``grok-assets verify`` against the seed script, whole processes.
Prints one table per benchmark and a summary of the targets, and writes
``benchmarks/results/latest.json`` and ``latest.md`` (the README snippet).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

# Run as a script (`python benchmarks/run_all.py`): make the repository importable.
REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import (  # noqa: E402
    bench_cycle,
    bench_gate,
    bench_load,
    bench_memory,
    bench_verify,
)
from benchmarks.common import (  # noqa: E402
    HISTORY_YEARS,
    load_average,
    loopback,
    machine,
    ratio,
    table,
)

RESULTS = REPO / "benchmarks" / "results"
COMMAND = "make bench  (or: .venv/bin/python benchmarks/run_all.py)"


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of the issue, its measured value and whether it is met."""
    found: list[dict[str, Any]] = []
    gate = {row["years"]: row for row in results.get("gate", [])}
    first, last = HISTORY_YEARS[0], HISTORY_YEARS[-1]
    if gate:
        found += [
            {
                "target": f"gate check at {last} y: naive bytes / ours >= 20",
                "value": gate[last]["bytes_ratio"],
                "passed": gate[last]["bytes_ratio"] >= 20,
            },
            {
                "target": f"gate check at {last} y: naive time / ours >= 5",
                "value": gate[last]["time_ratio"],
                "passed": gate[last]["time_ratio"] >= 5,
            },
            {
                "target": f"gate check bytes, {last} y / {first} y < 2",
                "value": gate[last]["ours_bytes"] / gate[first]["ours_bytes"],
                "passed": gate[last]["ours_bytes"] / gate[first]["ours_bytes"] < 2,
            },
        ]
    memory = {row["years"]: row for row in results.get("memory", {}).get("rows", [])}
    if memory:
        growth = memory[last]["verify_peak_mib"] / memory[first]["verify_peak_mib"]
        found.append(
            {
                "target": f"`grok-assets verify` peak memory (raw), {last} y / {first} y < 1.2",
                "value": growth,
                "passed": growth < 1.2,
            }
        )
    verify = {row["years"]: row for row in results.get("verify", [])}
    if verify:
        found.append(
            {
                "target": f"`grok-assets verify` at {last} y: seed script time / ours >= 2",
                "value": verify[last]["ratio"],
                "passed": verify[last]["ratio"] >= 2,
            }
        )
    if "load" in results:
        found.append(
            {
                "target": "code location load / minimal module <= 1.5",
                "value": results["load"]["ratio"],
                "passed": results["load"]["ratio"] <= 1.5,
            }
        )
    return found


def render_all(results: dict[str, Any]) -> str:
    sections = []
    if "gate" in results:
        sections.append(bench_gate.render(results["gate"], results["settings"]["gate_repeats"]))
    if "cycle" in results:
        sections.append(bench_cycle.render(results["cycle"]))
    if "load" in results:
        sections.append(bench_load.render(results["load"]))
    if "memory" in results:
        sections.append(bench_memory.render(results["memory"]))
    if "verify" in results:
        sections.append(
            bench_verify.render(results["verify"], results["settings"]["verify_repeats"])
        )
    summary = [
        ["target", "measured", "result"],
        *(
            [t["target"], ratio(t["value"]), "PASS" if t["passed"] else "MISS"]
            for t in results["targets"]
        ),
    ]
    sections.append(("Targets", summary))
    return "\n\n".join(f"**{title}**\n\n{table(rows[0], rows[1:])}" for title, rows in sections)


def markdown(results: dict[str, Any], body: str) -> str:
    m = results["machine"]
    return (
        f"Latest figures ({results['finished_at'][:10]}), measured on {m['nproc']} CPU(s) "
        f"({m['cpu']}), {m['ram']} RAM, Python {m['python']}, {m['platform']}; 1-minute "
        f"load average {m['load_average_at_start']} at the start and "
        f"{m['load_average_at_end']} at the end. Against the loopback S3 server (moto, "
        "in the benchmark process; for 5, in a process of its own). Synthetic archives of 250 "
        "trading days x 15 rows per year with every backtest column. Reproduce with "
        f"`{COMMAND.split('  ')[0]}`; the whole run took "
        f"{results['total_seconds']:.0f} s.\n\n{body}\n"
    )


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {key: _round(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_round(item) for item in value]
    return value


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gate-repeats", type=int, default=21)
    parser.add_argument("--load-repeats", type=int, default=5)
    parser.add_argument("--verify-repeats", type=int, default=11)
    parser.add_argument(
        "--only",
        nargs="+",
        choices=["gate", "cycle", "load", "memory", "verify"],
        default=["gate", "cycle", "load", "memory", "verify"],
        help="run only these benchmarks (memory needs cycle)",
    )
    parser.add_argument("--no-write", action="store_true", help="do not update results/")
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when a target is missed (for CI)"
    )
    args = parser.parse_args(argv)
    if "memory" in args.only and "cycle" not in args.only:
        parser.error("memory uses the buckets the cycle benchmark prepares: add cycle")
    warnings.filterwarnings("ignore")

    started = time.perf_counter()
    results: dict[str, Any] = {
        "machine": machine(),
        "command": COMMAND,
        "settings": {
            "gate_repeats": args.gate_repeats,
            "load_repeats": args.load_repeats,
            "verify_repeats": args.verify_repeats,
        },
    }
    with loopback() as s3:
        if "gate" in args.only:
            print("benchmark 1: gate check vs history ...", flush=True)
            results["gate"] = bench_gate.run(s3, args.gate_repeats)
        if "cycle" in args.only:
            print("benchmark 2: daily cycle vs history ...", flush=True)
            bench_cycle.warm_up(s3)
            prepared = {years: bench_cycle.prepare(s3, years) for years in HISTORY_YEARS}
            results["cycle"] = bench_cycle.run(s3, prepared)
            if "memory" in args.only:
                print("benchmark 4: peak memory ...", flush=True)
                results["memory"] = bench_memory.run(prepared)
    if "load" in args.only:
        print("benchmark 3: code location load ...", flush=True)
        results["load"] = bench_load.run(args.load_repeats)
    if "verify" in args.only:
        print("benchmark 5: verify as a whole process vs the seed script ...", flush=True)
        results["verify"] = bench_verify.run(args.verify_repeats)

    results["targets"] = targets(results)
    results["machine"]["load_average_at_end"] = load_average()
    results["total_seconds"] = time.perf_counter() - started
    results["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    body = render_all(results)
    print()
    print(body)
    print(f"\ntotal {results['total_seconds']:.0f} s")
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "latest.json").write_text(
            json.dumps(_round(results), indent=1, ensure_ascii=False) + "\n"
        )
        (RESULTS / "latest.md").write_text(markdown(results, body))
        print(f"wrote {RESULTS / 'latest.json'} and {RESULTS / 'latest.md'}")
    missed = [t["target"] for t in results["targets"] if not t["passed"]]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
