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
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import DagsterInstance, Definitions, ExecuteInProcessResult
from dagster_aws.s3 import S3Resource

from grok_assets import keys
from grok_assets.generations import list_generations
from grok_assets.resources import SelectorResource, StorageResource
from grok_assets.storage import S3Store
from grok_assets_tests.fault_proxy import FaultProxy
from grok_assets_tests.pipeline import QUIET

Row = tuple[str, str]  # (backtest_date, ticker)

# -- running the real jobs faster --------------------------------------------------------

_CLIENTS: dict[tuple[str, ...], Any] = {}


class ReusedClientS3Resource(S3Resource):
    """``S3Resource`` whose boto3 client is built once per process and endpoint.

    Building a client costs ~0.4 s (botocore parses its service JSON per session),
    and every asset step builds one; the tests and the soak run hundreds of steps.
    The client itself is the same (same retry configuration, same endpoint), so the
    faults and the code paths are those of the real definitions.
    """

    def get_client(self) -> Any:
        key = (
            self.model_dump_json(),
            os.environ.get("AWS_ENDPOINT_URL", ""),
            os.environ.get("AWS_ACCESS_KEY_ID", ""),
        )
        if key not in _CLIENTS:
            _CLIENTS[key] = super().get_client()
        return _CLIENTS[key]


def fast_definitions() -> Definitions:
    """The code location's assets, checks and jobs with a reused S3 client."""
    from grok_assets.definitions import defs

    return Definitions(
        assets=defs.assets,
        asset_checks=defs.asset_checks,
        jobs=defs.jobs,
        resources={
            "storage": StorageResource(s3=ReusedClientS3Resource()),
            "selector": SelectorResource(),
        },
    )


_FAST: Definitions | None = None
# An ephemeral instance costs ~0.3 s to build; runs do not depend on each other's
# history, so one serves many runs (renewed now and then to bound its event log).
_INSTANCE: list[Any] = [None, 0]
_RUNS_PER_INSTANCE = 100


def _shared_instance() -> DagsterInstance:
    if _INSTANCE[0] is None or _INSTANCE[1] >= _RUNS_PER_INSTANCE:
        _INSTANCE[0], _INSTANCE[1] = DagsterInstance.ephemeral(), 0
    _INSTANCE[1] += 1
    return _INSTANCE[0]


def run_fast(
    name: str, day: dt.date | None, instance: DagsterInstance | None = None
) -> ExecuteInProcessResult:
    global _FAST
    if _FAST is None:
        _FAST = fast_definitions()
    return _FAST.resolve_job_def(name).execute_in_process(
        partition_key=day.isoformat() if day else None,
        instance=instance or _shared_instance(),
        raise_on_error=False,
        run_config=QUIET,
    )


def step_errors(result: ExecuteInProcessResult) -> str:
    """Every step failure's message, for assertions on what the operator is told."""
    return "\n".join(
        str(event.step_failure_data.error)
        for event in result.all_events
        if event.is_step_failure and event.step_failure_data.error is not None
    )


def wrote_selection(result: ExecuteInProcessResult) -> bool:
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        if materialization.asset_key.to_user_string() == "grok_trending":
            return bool(materialization.metadata["written"].value)
    return False


# -- the proxy fixture ---------------------------------------------------------------


@pytest.fixture(name="proxy")
def proxy_fixture(
    s3_env: dict[str, str], s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FaultProxy]:
    """A fault proxy in front of the loopback server; the pipeline (through
    ``AWS_ENDPOINT_URL``) goes through it, the ``store`` and ``s3_client`` fixtures
    (built from ``s3_env``, which keeps the direct endpoint) do not."""
    with FaultProxy(s3_endpoint) as fault_proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", fault_proxy.endpoint)
        yield fault_proxy


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
    data = _read(store, keys.ARCHIVE)
    if data is None:
        return set()
    return rows_of(store.decode_parquet(keys.ARCHIVE, data))


def daily_rows(store: S3Store, day: dt.date) -> set[Row]:
    data = _read(store, keys.daily_backup_key(day))
    if not data:
        return set()
    return rows_of(store.decode_parquet(keys.daily_backup_key(day), data))


def published(store: S3Store) -> tuple[bytes | None, str | None]:
    """The published selection's bytes and its date."""
    data = _read(store, keys.PUBLISHED_SELECTION)
    if not data:
        return data, None
    dates = set(pq.read_table(pa.BufferReader(data), columns=["date"]).column(0).to_pylist())
    return data, (str(dates.pop()) if len(dates) == 1 else None)


def is_backed_up(store: S3Store, date: str) -> bool:
    """Daily file with rows and the date in the archive, judged from whole objects."""
    day = dt.date.fromisoformat(date)
    return bool(daily_rows(store, day)) and any(row[0] == date for row in archive_rows(store))


def manifest_violations(store: S3Store, *, archive_generations_count: bool = False) -> list[str]:
    """Entries of the manifest whose size or MD5 is not that of the bytes in S3.

    ``archive_generations_count``: an archive entry whose bytes S3 still holds as a
    generation is not a violation (the state right after a crash between the archive
    write and the manifest: the listed bytes are in S3, under another key).
    """
    data = _read(store, keys.MANIFEST)
    if data is None:
        return []
    try:
        files = json.loads(data)["files"]
    except (ValueError, KeyError, TypeError):
        return [f"{keys.MANIFEST} is not a manifest"]
    generation_md5s: set[str] = set()
    if archive_generations_count:
        for generation in list_generations(store):
            kept = _read(store, generation.key)
            if kept is not None:
                generation_md5s.add(hashlib.md5(kept).hexdigest())
    problems = []
    for key, entry in sorted(files.items()):
        actual = _read(store, key)
        if actual is not None and (len(actual), hashlib.md5(actual).hexdigest()) == (
            entry.get("size"),
            entry.get("md5"),
        ):
            continue
        if key == keys.ARCHIVE and entry.get("md5") in generation_md5s:
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
    endpoint: str, bucket: str, cycle: list[tuple[str, dt.date]], seed_days: list[dt.date]
) -> None:
    """Seed sample data into a new ``bucket`` and run ``cycle`` (job, day) on it."""
    from grok_assets.seeding import seed_sample
    from grok_assets_tests.buckets import use_loopback_bucket

    with pytest.MonkeyPatch.context() as patch:
        use_loopback_bucket(patch, endpoint, bucket)
        from grok_assets.resources import make_storage_resource

        seed_sample(make_storage_resource().store(), seed_days[0], seed_days[-1])
        for job, day in cycle:
            result = run_fast(job, day)
            assert result.success, f"{job} {day} failed while preparing {bucket}"


def two_day_template(endpoint: str, label: str) -> str:
    """A bucket where two days of the cycle have run (day 2 published and backed up),
    for module-scoped fixtures that clone it per test instead of re-running jobs."""
    import uuid

    from grok_assets_tests.pipeline import DAYS

    bucket = f"grok-{label}-{uuid.uuid4().hex[:12]}"
    cycle = [(job, day) for day in DAYS[:2] for job in ("selection_job", "backtest_job")]
    prepare_template(endpoint, bucket, cycle, DAYS)
    return bucket
