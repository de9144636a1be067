"""Shared by the reliability tests and ``benchmarks/soak.py``: the invariants every
fault must leave intact, a faster way to run the real jobs, and the proxy fixture.

The invariants read S3 directly (through a store that bypasses the fault proxy) and
re-derive everything from the bytes, never from what the pipeline reports:

- no lost rows: every (backtest_date, ticker) a daily backup ever held is in the
  archive;
- no unbacked publication: whenever the published selection changed, the one it
  replaced had its daily backup and its archive rows in S3;
- the manifest lists only bytes that are in S3: each entry's size and MD5 are those
  of the object's actual bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import DagsterInstance, ExecuteInProcessResult

from grok_assets import layout
from grok_assets.backup.generations import list_generations
from grok_assets.dev.s3_server import LoopbackS3
from grok_assets.storage import S3Store, decode_parquet
from grok_assets_tests.support.fault_proxy import FaultProxy
from grok_assets_tests.support.pipeline import DAYS, Pipeline

Row = tuple[str, str]  # (backtest_date, ticker)

# -- running the real jobs faster --------------------------------------------------------

# An ephemeral instance costs ~0.3 s to build; runs do not depend on each other's
# history, so one serves many runs (renewed now and then to bound its event log).
_INSTANCE: list[Any] = [None, 0]
_RUNS_PER_INSTANCE = 100


def shared_instance() -> DagsterInstance:
    if _INSTANCE[0] is None or _INSTANCE[1] >= _RUNS_PER_INSTANCE:
        _INSTANCE[0], _INSTANCE[1] = DagsterInstance.ephemeral(), 0
    _INSTANCE[1] += 1
    return _INSTANCE[0]


def fast_pipeline(endpoint: str, bucket: str, *, step_retries: bool = False) -> Pipeline:
    """The real jobs with a reused S3 client, pointed at ``endpoint`` (the loopback
    server or a fault proxy in front of it). Each fault meets boto3's and the store's
    own retries; the step retry policy (seconds to minutes of delay for a fault that
    persists) only with ``step_retries``."""
    return Pipeline(LoopbackS3(endpoint), bucket, reuse_client=True, step_retries=step_retries)


def run_fast(target: Pipeline | S3Store, job: str, day: dt.date | None) -> ExecuteInProcessResult:
    """``job`` for ``day`` on a shared instance, against a pipeline, or directly against
    a store's bucket and endpoint."""
    if isinstance(target, S3Store):
        target = fast_pipeline(target.endpoint_url, target.bucket)
    return target.run(job, day, instance=shared_instance())


def wrote_selection(result: ExecuteInProcessResult) -> bool:
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        if materialization.asset_key.to_user_string() == "grok_trending":
            return bool(materialization.metadata["written"].value)
    return False


# -- the proxy fixture ---------------------------------------------------------------


@pytest.fixture(name="proxy")
def proxy_fixture(s3: LoopbackS3) -> Iterator[FaultProxy]:
    """A fault proxy in front of the loopback server. The ``proxied`` pipeline goes
    through it; the ``store`` and ``s3_client`` fixtures talk to the server directly."""
    with FaultProxy(s3.endpoint) as fault_proxy:
        yield fault_proxy


@pytest.fixture(name="proxied")
def proxied_fixture(proxy: FaultProxy, bucket: str) -> Pipeline:
    return fast_pipeline(proxy.endpoint, bucket)


# -- invariants ----------------------------------------------------------------------


def rows_of(table: pa.Table) -> set[Row]:
    return set(
        zip(
            table.column("backtest_date").to_pylist(),
            table.column("ticker").to_pylist(),
            strict=True,
        )
    )


def _read(store: S3Store, relative_key: str) -> bytes | None:
    try:
        return store.get_bytes(relative_key)[0]
    except Exception:
        return None


def archive_rows(store: S3Store) -> set[Row]:
    data = _read(store, layout.ARCHIVE)
    if data is None:
        return set()
    return rows_of(decode_parquet(store, layout.ARCHIVE, data))


def daily_rows(store: S3Store, day: dt.date) -> set[Row]:
    data = _read(store, layout.daily_backup_key(day))
    if not data:
        return set()
    return rows_of(decode_parquet(store, layout.daily_backup_key(day), data))


def published(store: S3Store) -> tuple[bytes | None, str | None]:
    """The published selection's bytes and its date."""
    data = _read(store, layout.PUBLISHED_SELECTION)
    if not data:
        return data, None
    dates = set(pq.read_table(pa.BufferReader(data), columns=["date"]).column(0).to_pylist())
    return data, (str(dates.pop()) if len(dates) == 1 else None)


def is_backed_up(store: S3Store, date: str) -> bool:
    """Daily file with rows and the date in the archive, judged from whole objects."""
    day = dt.date.fromisoformat(date)
    return bool(daily_rows(store, day)) and any(row[0] == date for row in archive_rows(store))


def manifest_violations(store: S3Store, *, archive_generations_count: bool = False) -> list[str]:
    """Entries of the manifest whose size or MD5 is not that of the bytes in S3 (or that
    say a file does not exist while S3 holds it).

    ``archive_generations_count``: an archive entry whose bytes S3 still holds as a
    generation is not a violation (the state right after a crash between the archive
    write and the manifest: the listed bytes are in S3, under another key).
    """
    data = _read(store, layout.MANIFEST)
    if data is None:
        return []
    try:
        files = json.loads(data)["files"]
    except (ValueError, KeyError, TypeError):
        return [f"{layout.MANIFEST} is not a manifest"]
    generation_md5s: set[str] = set()
    if archive_generations_count:
        for generation in list_generations(store):
            kept = _read(store, generation.key)
            if kept is not None:
                generation_md5s.add(hashlib.md5(kept).hexdigest())
    problems = []
    for key, entry in sorted(files.items()):
        actual = _read(store, key)
        if isinstance(entry, dict) and entry.get("exists") is False:
            # The previous pipeline's note that a file does not exist: true or not.
            if actual is not None:
                problems.append(f"{key}: manifest says it does not exist, S3 holds it")
            continue
        if actual is not None and (len(actual), hashlib.md5(actual).hexdigest()) == (
            entry.get("size"),
            entry.get("md5"),
        ):
            continue
        if key == layout.ARCHIVE and entry.get("md5") in generation_md5s:
            continue
        problems.append(f"{key}: manifest says md5 {entry.get('md5')}, S3 holds other bytes")
    return problems


@dataclass
class Ledger:
    """What the pipeline has produced so far, to check S3 against."""

    produced: set[Row] = field(default_factory=set)
    publications: int = 0
    unbacked_publications: list[str] = field(default_factory=list)

    def record_backtest(self, store: S3Store, day: dt.date) -> None:
        self.produced |= daily_rows(store, day)

    def lost_rows(self, store: S3Store) -> set[Row]:
        return self.produced - archive_rows(store)

    def before_selection(self, store: S3Store) -> tuple[bytes | None, str | None, bool]:
        data, date = published(store)
        return data, date, (date is None or is_backed_up(store, date))

    def after_selection(
        self, store: S3Store, before: tuple[bytes | None, str | None, bool]
    ) -> bool:
        """Whether the selection changed; records it as unbacked when the one it
        replaced was not backed up at the time (nothing in a selection run writes
        backups, so "before" is that time)."""
        data_before, date_before, backed = before
        data_after, _ = published(store)
        if data_after == data_before:
            return False
        self.publications += 1
        if not backed:
            self.unbacked_publications.append(str(date_before))
        return True


# -- a bucket prepared once, cloned per test ------------------------------------------


def clone_bucket(client: Any, source: str, destination: str) -> int:
    """Server-side copy of every object (with its metadata, so its recorded MD5)."""
    copied = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=source):
        for item in page.get("Contents", []):
            client.copy_object(
                Bucket=destination,
                Key=item["Key"],
                CopySource={"Bucket": source, "Key": item["Key"]},
            )
            copied += 1
    return copied


def prepare_template(
    s3: LoopbackS3, bucket: str, cycle: list[tuple[str, dt.date]], seed_days: list[dt.date]
) -> None:
    """Seed sample data into a new ``bucket`` and run ``cycle`` (job, day) on it."""
    from grok_assets.dev.seeding import seed_sample

    s3.create_bucket(bucket)
    seed_sample(s3.store(bucket), seed_days[0], seed_days[-1])
    pipeline = fast_pipeline(s3.endpoint, bucket)
    for job, day in cycle:
        result = run_fast(pipeline, job, day)
        assert result.success, f"{job} {day} failed while preparing {bucket}"


def published_unbacked_template(s3: LoopbackS3, label: str) -> str:
    """A bucket where day 1 ran whole and day 2 is selected and published, not yet
    backed up: the state the fault tests start from, cloned per test."""
    bucket = f"grok-{label}-{uuid.uuid4().hex[:12]}"
    cycle = [("selection_job", DAYS[0]), ("backtest_job", DAYS[0]), ("selection_job", DAYS[1])]
    prepare_template(s3, bucket, cycle, DAYS)
    return bucket


def two_day_template(s3: LoopbackS3, label: str) -> str:
    """A bucket where two days of the cycle have run (day 2 published and backed up),
    for module-scoped fixtures that clone it per test instead of re-running jobs."""
    bucket = f"grok-{label}-{uuid.uuid4().hex[:12]}"
    cycle = [(job, day) for day in DAYS[:2] for job in ("selection_job", "backtest_job")]
    prepare_template(s3, bucket, cycle, DAYS)
    return bucket
