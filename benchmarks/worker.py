"""What the memory benchmark runs in child processes, one measured operation each.

``python -m benchmarks.worker backtest-job --date D``   the real backtest_job for D
``python -m benchmarks.worker naive-check --date D``    the original verification
``python -m benchmarks.worker imports verify|naive``    only the imports of either

The store is configured through the environment, as for ``grok-assets``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import sys
import time

# What `grok-assets verify` imports before it reads anything, and what the naive check
# imports: the baselines that peak memory can be compared against.
IMPORTS = {
    "verify": (
        "grok_assets.cli.main",
        "grok_assets.backup.gate",
        "grok_assets.storage.client",
        "botocore.session",
    ),
    "naive": ("boto3", "pandas", "pyarrow.parquet"),
}


def naive_check(date: str) -> int:
    import io

    import boto3
    import pandas as pd

    from grok_assets import layout

    client = boto3.client("s3")
    key = os.environ.get("S3_PREFIX", "") + layout.ARCHIVE
    body = client.get_object(Bucket=os.environ["S3_BUCKET"], Key=key)["Body"].read()
    frame = pd.read_parquet(io.BytesIO(body))
    return int((frame["backtest_date"] == date).sum())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks.worker")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("backtest-job", "naive-check"):
        commands.add_parser(name).add_argument("--date", required=True)
    commands.add_parser("imports").add_argument("which", choices=sorted(IMPORTS))
    args = parser.parse_args(argv)

    start = time.perf_counter()
    if args.command == "imports":
        for module in IMPORTS[args.which]:
            importlib.import_module(module)
        outcome: dict[str, object] = {}
    elif args.command == "naive-check":
        outcome = {"rows": naive_check(args.date)}
    else:
        from benchmarks.bench_cycle import run_job

        day = dt.date.fromisoformat(args.date)
        outcome = {"job_seconds": run_job("backtest_job", day, None)}
    outcome["seconds"] = time.perf_counter() - start
    print(json.dumps(outcome))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
