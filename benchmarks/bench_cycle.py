"""Benchmark 2: wall time of the real daily jobs against history length.

Each history length gets its own bucket in the state the pipeline would be in after
years of operation: an archive of that many years ending on day P, P's daily backup,
P's selection published, and sample bars plus recorded Grok answers for the days that
follow. Then ``selection_job`` and ``backtest_job`` run in-process for the next days,
exactly as the schedules run them (``execute_in_process`` with a partition key).

"naive gate" runs the same jobs on a later day with the gate's archive lookup replaced
by the original full download into pandas: ``selection_job`` evaluates the gate three
times (its two blocking checks and ``grok_trending`` itself), ``backtest_job`` twice.

One run per cell: the jobs take seconds, mostly fixed per-run costs, so a run of a few
minutes cannot afford repeats; read differences below ~30 % as noise.
"""

from __future__ import annotations

import datetime as dt
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from benchmarks.bench_gate import naive_rows_for_date
from benchmarks.common import HISTORY_YEARS, Loopback, archive_of, ms, ratio
from grok_assets import layout, trading_calendar
from grok_assets.backup import gate
from grok_assets.backup.archive import DATE_COLUMN, encode_archive
from grok_assets.dev.seeding import seed_sample
from grok_assets.schemas import CANDIDATE_SCHEMA
from grok_assets.storage import S3Store, encode_parquet, write_parquet

# Days after the archive's history that each bucket is seeded for: ours, naive gate,
# and one more backtested in a child process by the memory benchmark.
DAYS_AFTER_HISTORY = 3


@dataclass
class Prepared:
    """A bucket whose history ends on ``published`` and is ready for ``days``."""

    years: int
    bucket: str
    env: dict[str, str]
    resources: dict[str, Any]
    published: dt.date
    days: list[dt.date]
    archive_bytes: int
    timings: dict[str, float] = field(default_factory=dict)


def run_job(name: str, day: dt.date, resources: dict[str, Any] | None) -> float:
    """Wall time of one in-process run of job ``name`` for ``day``; fails loudly.
    ``resources`` None: the definitions' own, configured by the environment."""
    from grok_assets.definitions import defs
    from grok_assets.defs.run import run_quietly

    warnings.filterwarnings("ignore")
    start = time.perf_counter()
    result = run_quietly(defs, name, day=day, resources=resources)
    elapsed = time.perf_counter() - start
    failed = [e.check_name for e in result.get_asset_check_evaluations() if not e.passed]
    if not result.success or failed:
        raise RuntimeError(f"{name} for {day} failed (checks failed: {failed or 'none'})")
    return elapsed


@contextmanager
def naive_gate(client: Any) -> Iterator[None]:
    """The gate's archive lookup as the original verification did it."""

    def naive(store: S3Store, relative_key: str, date: str) -> int | None:
        if store.head(relative_key) is None:
            return None
        key = store.location.key(relative_key)
        return naive_rows_for_date(client, store.bucket, key, date)

    original = gate.rows_for_date
    gate.rows_for_date = naive  # backup_status looks it up at call time
    try:
        yield
    finally:
        gate.rows_for_date = original


def _published_selection(rows: pa.Table, day: dt.date) -> pa.Table:
    """The selection that was published for ``day``, from its backtested rows."""
    count = rows.num_rows
    selected = (day - dt.timedelta(days=1)).isoformat() + "T23:00:00+09:00"
    # The archive does not keep the answer's id or evidence; the gate never reads them.
    answer_only = {
        "response_id": pa.nulls(count, pa.string()),
        "evidence_urls": pa.nulls(count, pa.list_(pa.string())),
    }
    columns = {
        "date": rows.column(DATE_COLUMN),
        "selected_time": pa.array([selected] * count),
        **answer_only,
        **{
            name: rows.column(name)
            for name in CANDIDATE_SCHEMA.names
            if name not in ("date", "selected_time", *answer_only)
        },
    }
    return pa.table(columns).select(CANDIDATE_SCHEMA.names).cast(CANDIDATE_SCHEMA)


def publish_history(s3: Loopback, years: int) -> tuple[str, dt.date, int]:
    """A new bucket holding ``years`` of archive that ends on day P, P's daily backup
    and P's selection published: (bucket, P, the archive's size in bytes)."""
    table, history = archive_of(years)
    published = history[-1]
    bucket = s3.new_bucket(f"cycle{years}y")
    store = s3.store(bucket)
    data = encode_archive(table)
    last_rows = table.filter(pc.equal(table.column(DATE_COLUMN), published.isoformat()))
    with s3.counter.paused():
        store.put_bytes(layout.ARCHIVE, data)
        store.put_bytes(layout.daily_backup_key(published), encode_parquet(last_rows))
        selection = _published_selection(last_rows, published)
        write_parquet(store, layout.candidates_key(published), selection)
        write_parquet(store, layout.PUBLISHED_SELECTION, selection)
    return bucket, published, len(data)


def prepare(s3: Loopback, years: int) -> Prepared:
    bucket, published, archive_bytes = publish_history(s3, years)
    horizon = min(published + dt.timedelta(days=60), trading_calendar.last_known_day())
    days = [day for day in trading_calendar.trading_days(published, horizon) if day > published]
    days = days[:DAYS_AFTER_HISTORY]
    with s3.counter.paused():
        seed_sample(s3.store(bucket), days[0], days[-1])
    return Prepared(
        years, bucket, s3.env(bucket), s3.resources(bucket), published, days, archive_bytes
    )


def warm_up(s3: Loopback) -> None:
    """One unmeasured cycle in a scratch bucket, so that the first measured job does not
    also pay Dagster's one-time start-up in this process."""
    bucket = s3.new_bucket("warmup")
    day = archive_of(HISTORY_YEARS[0])[1][-1]
    with s3.counter.paused():
        seed_sample(s3.store(bucket), day, day)
        run_job("selection_job", day, s3.resources(bucket))
        run_job("backtest_job", day, s3.resources(bucket))


def run(s3: Loopback, prepared: dict[int, Prepared]) -> list[dict[str, Any]]:
    results = []
    for years in HISTORY_YEARS:
        ready = prepared[years]
        with s3.counter.paused():
            ours, naive = ready.days[0], ready.days[1]
            row: dict[str, Any] = {
                "years": years,
                "archive_bytes": ready.archive_bytes,
                "days": {"ours": ours.isoformat(), "naive": naive.isoformat()},
                "ours_selection_s": run_job("selection_job", ours, ready.resources),
                "ours_backtest_s": run_job("backtest_job", ours, ready.resources),
            }
            with naive_gate(s3.client):
                row["naive_selection_s"] = run_job("selection_job", naive, ready.resources)
                row["naive_backtest_s"] = run_job("backtest_job", naive, ready.resources)
        results.append(row)
    return results


def render(results: list[dict[str, Any]]) -> tuple[str, list[list[str]]]:
    headers = [
        "history",
        "selection_job: ours",
        "selection_job: naive gate",
        "backtest_job: ours",
        "backtest_job: naive gate",
        "ours vs 1 y: selection",
        "ours vs 1 y: backtest",
    ]
    base = results[0]
    rows = [
        [
            f"{r['years']} y",
            ms(r["ours_selection_s"]),
            ms(r["naive_selection_s"]),
            ms(r["ours_backtest_s"]),
            ms(r["naive_backtest_s"]),
            ratio(r["ours_selection_s"] / base["ours_selection_s"]),
            ratio(r["ours_backtest_s"] / base["ours_backtest_s"]),
        ]
        for r in results
    ]
    title = "2. Daily cycle vs history: wall time of one in-process run per cell (new day each)"
    return title, [headers, *rows]
