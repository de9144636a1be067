"""Concurrent writers in separate processes, against the loopback S3 server.

The worst interleaving is forced rather than hoped for: a proxy barrier holds each
contested write until both writers have sent theirs, so both were computed from the
same version of the object and only S3's conditional write can keep one from
overwriting the other. (Held writes are then forwarded one at a time, as S3 decides
conditional writes atomically, which moto alone does not; see fault_proxy.)
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grok_assets import layout, trading_calendar
from grok_assets.dev.s3_server import LoopbackS3
from grok_assets.storage import S3Store, compare_and_swap, read_parquet, write_parquet
from grok_assets_tests.support.factories import backtest_rows
from grok_assets_tests.support.fault_proxy import BARRIER, HOLD, PASS, FaultProxy, Rule
from grok_assets_tests.support.harness import (  # noqa: F401
    clone_bucket,
    manifest_violations,
    prepare_template,
    proxy_fixture,
    published,
)
from grok_assets_tests.support.pipeline import DAYS

REPO = Path(__file__).resolve().parents[2]
ROUNDS = 12


def _worker(environ: dict[str, str], tasks: Any, results: Any) -> None:
    """One writer process: waits for tasks, runs each, reports the outcome. Its store
    is the one an operator's environment ``environ`` points at."""
    import datetime as dt

    from grok_assets.backup.manifest import updated_manifest
    from grok_assets.backup.upsert import upsert_daily_into_archive
    from grok_assets.settings import Settings
    from grok_assets.storage import encode_parquet, open_store

    store = open_store(Settings(environ))
    while (task := tasks.get()) is not None:
        kind, argument = task
        try:
            if kind == "upsert":
                day = dt.date.fromisoformat(argument)
                upsert_daily_into_archive(store, argument, layout.daily_backup_key(day))
            else:
                store.put_bytes(argument, encode_parquet(backtest_rows("2026-01-05", 1)))
                compare_and_swap(
                    store,
                    layout.MANIFEST,
                    lambda current: updated_manifest(store, current),
                    content_type="application/json",
                )
            results.put((task, ""))
        except Exception as error:  # reported to the test, which fails on it
            results.put((task, f"{type(error).__name__}: {error}"))


@pytest.fixture
def writers(environ: dict[str, str], proxy: FaultProxy) -> Iterator[tuple[Any, Any, Any]]:
    """Two writer processes (spawned: no state shared with pytest), pointed at the
    bucket through the proxy, and a result queue."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    queues = [context.Queue(), context.Queue()]
    env = {**environ, "AWS_ENDPOINT_URL": proxy.endpoint}
    processes = [
        context.Process(target=_worker, args=(env, queue, results), daemon=True) for queue in queues
    ]
    for process in processes:
        process.start()
    yield queues[0], queues[1], results
    for queue in queues:
        queue.put(None)
    for process in processes:
        process.join(30)
        if process.is_alive():
            process.kill()


def race(
    proxy: FaultProxy, path: str, writers: tuple[Any, Any, Any], first: Any, second: Any
) -> list[str]:
    """Both writers run their task; their writes to ``path`` meet at a barrier."""
    queue_a, queue_b, results = writers
    proxy.add(Rule(BARRIER, "PUT", path, times=2, parties=2, timeout=20))
    queue_a.put(first)
    queue_b.put(second)
    errors = [results.get(timeout=60)[1], results.get(timeout=60)[1]]
    proxy.clear()
    return [error for error in errors if error]


def test_concurrent_archive_upserts_of_different_dates_lose_nothing(
    store: S3Store, proxy: FaultProxy, writers: tuple[Any, Any, Any]
) -> None:
    days = trading_calendar.trading_days(DAYS[0], DAYS[0].replace(year=2027))
    days = days[: 2 * ROUNDS]
    for number, day in enumerate(days):
        write_parquet(
            store, layout.daily_backup_key(day), backtest_rows(day.isoformat(), 2 + number)
        )

    for round_ in range(ROUNDS):
        a, b = days[2 * round_], days[2 * round_ + 1]
        errors = race(
            proxy,
            r"/backtest/grok_trending_archive\.parquet$",
            writers,
            ("upsert", a.isoformat()),
            ("upsert", b.isoformat()),
        )
        assert errors == [], f"round {round_}: {errors}"

    archive = read_parquet(store, layout.ARCHIVE)
    counts = Counter(archive.column("backtest_date").to_pylist())
    assert counts == {day.isoformat(): 2 + number for number, day in enumerate(days)}
    # The race was real: in every round after the first, one writer lost the swap.
    refused = [r for r in proxy.requests if r.method == "PUT" and r.status == 412]
    assert len([r for r in refused if r.path.endswith("grok_trending_archive.parquet")]) >= (
        ROUNDS - 1
    )


def test_concurrent_manifest_writers_lose_no_entry(
    store: S3Store, proxy: FaultProxy, writers: tuple[Any, Any, Any]
) -> None:
    """Each writer adds a file, then rewrites the manifest from a listing. Forced
    order per round: A lists before B's file exists; B writes its manifest; only
    then does A's manifest write arrive. Unconditionally, A's would drop B's file."""
    queue_a, queue_b, results = writers
    written: list[str] = []
    for round_ in range(ROUNDS):
        mine, theirs = f"extra/a_{round_:02d}.parquet", f"extra/b_{round_:02d}.parquet"
        first_manifest = Rule(HOLD, "PUT", r"/manifest\.json$", timeout=20)  # A's
        second_manifest = Rule(PASS, "PUT", r"/manifest\.json$")  # B's
        first_manifest.wait_for = second_manifest.done
        for rule in (
            first_manifest,
            second_manifest,
            Rule(HOLD, "PUT", rf"/{theirs}$", wait_for=first_manifest.hit, timeout=20),
        ):
            proxy.add(rule)
        queue_a.put(("manifest", mine))
        queue_b.put(("manifest", theirs))
        errors = [results.get(timeout=60)[1], results.get(timeout=60)[1]]
        proxy.clear()
        assert [error for error in errors if error] == [], f"round {round_}"
        assert first_manifest.applied == second_manifest.applied == 1
        written += [mine, theirs]

    files = json.loads(store.get_bytes(layout.MANIFEST)[0])["files"]
    assert sorted(files) == sorted(written)
    assert manifest_violations(store) == []


# -- two selection runs for the same day ----------------------------------------------

# The child's resources are the code location's own, configured by its environment.
_SELECT_IN_CHILD = (
    "import datetime, json, sys\n"
    "from grok_assets.definitions import defs\n"
    "from grok_assets.defs.run import run_quietly\n"
    "from grok_assets_tests.support.harness import wrote_selection\n"
    "from grok_assets_tests.support.pipeline import step_errors\n"
    "day = datetime.date.fromisoformat(sys.argv[1])\n"
    "result = run_quietly(defs, 'selection_job', day=day)\n"
    "print(json.dumps({'success': result.success, 'written': wrote_selection(result),\n"
    "                  'errors': step_errors(result)}))\n"
)


@pytest.fixture(scope="module")
def template(s3: LoopbackS3) -> str:
    bucket = f"grok-concurrency-{uuid.uuid4().hex[:12]}"
    prepare_template(s3, bucket, [("selection_job", DAYS[0]), ("backtest_job", DAYS[0])], DAYS)
    return bucket


def test_two_selection_runs_for_the_same_day_publish_once(
    template: str, store: S3Store, s3_client: Any, proxy: FaultProxy, environ: dict[str, str]
) -> None:
    s3_client.put_bucket_versioning(
        Bucket=store.bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    clone_bucket(s3_client, template, store.bucket)
    assert published(store)[1] == DAYS[0].isoformat()
    proxy.add(Rule(BARRIER, "PUT", r"/grok_trending\.parquet$", times=2, parties=2, timeout=90))

    children = [
        subprocess.Popen(
            [sys.executable, "-c", _SELECT_IN_CHILD, DAYS[1].isoformat()],
            cwd=REPO,
            env={**os.environ, **environ, "AWS_ENDPOINT_URL": proxy.endpoint},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outcomes = []
    for child in children:
        stdout, stderr = child.communicate(timeout=180)
        assert child.returncode == 0, stderr[-2000:]
        outcomes.append(json.loads(stdout.strip().splitlines()[-1]))

    assert sorted(outcome["written"] for outcome in outcomes) == [False, True]
    loser = next(outcome for outcome in outcomes if not outcome["written"])
    # The other run is a clean no-op or a failure that says nothing was overwritten.
    assert loser["success"] or "nothing was overwritten" in loser["errors"]
    versions = s3_client.list_object_versions(
        Bucket=store.bucket, Prefix=store.location.key(layout.PUBLISHED_SELECTION)
    )["Versions"]
    assert len(versions) == 2  # the cloned one and exactly one publication
    assert published(store)[1] == DAYS[1].isoformat()
