"""Benchmark 1: the gate's "does date D exist, and how many rows" against history length.

Ours is ``gate.rows_for_date`` (what the checks, ``grok_trending`` and ``grok-assets
verify`` call), through a fresh ``S3Store`` each time so that its bucket check and
object head are paid on every run, as a new CLI process pays them. The naive approach
is the original verification: download the whole archive, load it into pandas, filter.
Both use the same boto3 client with the same byte counter.
"""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from benchmarks.common import HISTORY_YEARS, Loopback, archive_of, kib, median_times, ms, ratio
from grok_assets import layout
from grok_assets.backup import gate
from grok_assets.backup.archive import encode_archive

ROWS_PER_DAY = 15


def naive_rows_for_date(client: Any, bucket: str, key: str, date: str) -> int:
    """The original check: the whole archive into pandas to ask about one date."""
    body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    frame = pd.read_parquet(io.BytesIO(body))
    return int((frame["backtest_date"] == date).sum())


def run(s3: Loopback, repeats: int) -> list[dict[str, Any]]:
    results = []
    for years in HISTORY_YEARS:
        table, days = archive_of(years)
        data = encode_archive(table)
        bucket = s3.new_bucket(f"gate{years}y")
        store = s3.store(bucket)
        with s3.counter.paused():
            store.put_bytes(layout.ARCHIVE, data)
        metadata = pq.ParquetFile(io.BytesIO(data)).metadata
        # The gate asks about the newest backed-up day; a day from the middle of the
        # history shows the cost when it is not the newest.
        date = days[-1].isoformat()
        middle = days[len(days) // 2].isoformat()
        key = store.location.key(layout.ARCHIVE)

        def ours(bucket: str = bucket, date: str = date) -> int:
            return gate.rows_for_date(s3.store(bucket), layout.ARCHIVE, date) or 0

        def ours_middle(bucket: str = bucket, date: str = middle) -> int:
            return gate.rows_for_date(s3.store(bucket), layout.ARCHIVE, date) or 0

        def naive(bucket: str = bucket, key: str = key, date: str = date) -> int:
            return naive_rows_for_date(s3.client, bucket, key, date)

        row: dict[str, Any] = {
            "years": years,
            "trading_days": len(days),
            "archive_rows": table.num_rows,
            "archive_bytes": len(data),
            "row_groups": metadata.num_row_groups,
            "footer_bytes": int.from_bytes(data[-8:-4], "little") + 8,
            "date": date,
            "middle_date": middle,
        }
        actions = {"ours": ours, "ours_middle": ours_middle, "naive": naive}
        for name, action in actions.items():
            s3.counter.reset()
            found = action()
            if found != ROWS_PER_DAY:
                raise AssertionError(f"{name} counted {found} rows, not {ROWS_PER_DAY}")
            row[f"{name}_bytes"] = s3.counter.bytes_received
            row[f"{name}_requests"] = s3.counter.requests
            row[f"{name}_operations"] = dict(s3.counter.operations)
        with s3.counter.paused():
            for name, median in median_times(actions, repeats).items():
                row[f"{name}_median_s"] = median
        row["bytes_ratio"] = row["naive_bytes"] / row["ours_bytes"]
        row["time_ratio"] = row["naive_median_s"] / row["ours_median_s"]
        results.append(row)
    return results


def render(results: list[dict[str, Any]], repeats: int) -> tuple[str, list[list[str]]]:
    headers = [
        "history",
        "archive",
        "row groups",
        "footer",
        "ours: bytes",
        "ours: requests",
        "ours: median",
        "naive: bytes",
        "naive: requests",
        "naive: median",
        "bytes naive/ours",
        "time naive/ours",
        "ours, mid-history date",
    ]
    rows = [
        [
            f"{r['years']} y ({r['archive_rows']:,} rows)",
            kib(r["archive_bytes"]),
            str(r["row_groups"]),
            kib(r["footer_bytes"]),
            kib(r["ours_bytes"]),
            str(r["ours_requests"]),
            ms(r["ours_median_s"]),
            kib(r["naive_bytes"]),
            str(r["naive_requests"]),
            ms(r["naive_median_s"]),
            ratio(r["bytes_ratio"]),
            ratio(r["time_ratio"]),
            f"{kib(r['ours_middle_bytes'])}, {r['ours_middle_requests']} req, "
            f"{ms(r['ours_middle_median_s'])}",
        ]
        for r in results
    ]
    title = (
        "1. Gate check vs history: rows for the newest date, the gate's question "
        f"(median of {repeats} runs; bytes = GetObject bodies)"
    )
    return title, [headers, *rows]
