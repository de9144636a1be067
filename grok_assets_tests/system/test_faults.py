"""Network and process faults between the pipeline and S3, as real network events.

Every test runs the real jobs with their S3 endpoint pointing at a fault proxy in
front of the loopback S3 server, and judges the outcome from S3 itself (through a
client that bypasses the proxy):

- the run fails or retries as designed, and a failure says what and where;
- the published selection is untouched unless the gate passed;
- the archive loses no row;
- the manifest never lists bytes that are not in S3;
- after the fault, an ordinary re-run converges (fsck finds nothing).

Starting state (cloned per test): sample data seeded, DAYS[0] selected and
backtested, DAYS[1] selected and published. The faults hit DAYS[1]'s backtest, whose
backup the gate requires before DAYS[2] may be published.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from grok_assets import layout
from grok_assets.backup.fsck import run_fsck
from grok_assets.defs.resources import StorageResource, make_storage_resource
from grok_assets.dev.s3_server import LoopbackS3
from grok_assets.settings import Settings
from grok_assets.storage import S3Store, StorageError, read_parquet
from grok_assets_tests.support.fault_proxy import (
    FORWARD_THEN_HANG,
    FORWARD_THEN_RESET,
    HANG,
    MUTATE,
    REFUSE,
    RESET_REQUEST,
    RESET_RESPONSE,
    STATUS,
    FaultProxy,
    Rule,
)
from grok_assets_tests.support.harness import (  # noqa: F401
    Ledger,
    archive_rows,
    clone_bucket,
    daily_rows,
    is_backed_up,
    manifest_violations,
    proxied_fixture,
    proxy_fixture,
    published,
    published_unbacked_template,
    run_fast,
)
from grok_assets_tests.support.pipeline import DAYS, Pipeline, step_errors

REPO = Path(__file__).resolve().parents[2]
ARCHIVE = r"/backtest/grok_trending_archive\.parquet$"
MANIFEST = r"/manifest\.json$"
DAILY = rf"/backtest/grok_trending_{DAYS[1]:%Y%m%d}\.parquet$"
# S3's answer for a key that does not exist, for a store that lies about one (the
# support proxy lists only the errors the other tests need).


@pytest.fixture(scope="module")
def template(s3: LoopbackS3) -> str:
    return published_unbacked_template(s3, "faults")


@pytest.fixture
def state(template: str, store: S3Store, s3_client: Any, proxy: FaultProxy) -> Iterator[Ledger]:
    """The starting state in this test's bucket, and what has been produced so far."""
    clone_bucket(s3_client, template, store.bucket)
    ledger = Ledger()
    ledger.record_backtest(store, DAYS[0])
    assert published(store)[1] == DAYS[1].isoformat()
    assert not is_backed_up(store, DAYS[1].isoformat())
    yield ledger
    proxy.clear()


def assert_safe(store: S3Store, ledger: Ledger, *, after_crash: bool = False) -> None:
    """The invariants, as S3 holds them right now."""
    assert ledger.lost_rows(store) == set()
    assert ledger.unbacked_publications == []
    # Between an archive write and the manifest write the listed archive bytes are
    # still in S3 as a generation; otherwise the manifest must match exactly.
    assert manifest_violations(store, archive_generations_count=after_crash) == []


def assert_gate_holds_then_converges(store: S3Store, ledger: Ledger, proxied: Pipeline) -> None:
    """DAYS[1] is not backed up: DAYS[2] must not be published; then an ordinary
    re-run of DAYS[1]'s backtest converges and opens the gate."""
    before = ledger.before_selection(store)
    blocked = run_fast(proxied, "selection_job", DAYS[2])
    assert not blocked.success
    assert not ledger.after_selection(store, before)

    rerun = run_fast(proxied, "backtest_job", DAYS[1])
    assert rerun.success, step_errors(rerun)
    ledger.record_backtest(store, DAYS[1])
    rows = archive_rows(store)
    assert {row for row in rows if row[0] == DAYS[1].isoformat()} == daily_rows(store, DAYS[1])
    assert_safe(store, ledger)
    assert run_fsck(store) == []

    before = ledger.before_selection(store)
    assert run_fast(proxied, "selection_job", DAYS[2]).success
    assert ledger.after_selection(store, before)
    assert_safe(store, ledger)


# -- retried, then a clear failure ---------------------------------------------------


FAILING = {
    "internal-error": (
        [Rule(STATUS, "PUT", ARCHIVE, code="InternalError", times=None)],
        "InternalError",
    ),
    "access-denied": ([Rule(STATUS, "PUT", ARCHIVE, code="AccessDenied")], "access denied"),
    # The endpoint goes away in the middle of the run and stays away.
    "refused": (
        [Rule(REFUSE, "GET", ARCHIVE, refuse_seconds=None)],
        "cannot reach the S3 endpoint",
    ),
    # Every upload of the archive is altered on the way: S3 rejects each one.
    "altered-in-flight": ([Rule(MUTATE, "PUT", ARCHIVE, times=None)], "Content-MD5"),
    "reset-mid-body": (
        [Rule(RESET_RESPONSE, "GET", DAILY, times=None)],
        "Connection reset",
    ),
    "no-such-bucket": ([Rule(STATUS, code="NoSuchBucket", times=None)], "does not exist"),
}


@pytest.mark.parametrize("fault", sorted(FAILING))
def test_a_failing_backtest_changes_nothing_it_must_not_and_the_rerun_converges(
    fault: str, state: Ledger, store: S3Store, proxy: FaultProxy, proxied: Pipeline
) -> None:
    rules, message = FAILING[fault]
    archive_before = store.get_bytes(layout.ARCHIVE)[0]
    published_before = published(store)[0]
    for rule in rules:
        proxy.add(rule)

    result = run_fast(proxied, "backtest_job", DAYS[1])

    proxy.clear()
    proxy.accept_again()
    assert not result.success
    errors = step_errors(result)
    assert message in errors
    assert store.uri("") in errors or f"s3://{store.bucket}" in errors
    assert all(rule.applied for rule in rules)
    assert store.get_bytes(layout.ARCHIVE)[0] == archive_before
    assert published(store)[0] == published_before
    assert_safe(store, state)
    assert_gate_holds_then_converges(store, state, proxied)


def test_a_failing_request_is_retried_a_bounded_number_of_times(
    state: Ledger, proxy: FaultProxy, proxied: Pipeline
) -> None:
    """How many times the failing PUT was sent: bounded, not once, not forever."""
    rule = proxy.add(Rule(STATUS, "PUT", ARCHIVE, code="InternalError", times=None))
    assert not run_fast(proxied, "backtest_job", DAYS[1]).success
    # 1 attempt + 5 retries (S3Resource max_attempts=5, standard mode).
    assert rule.applied == 6


def test_persistent_throttling_backs_off_then_fails_clearly(
    store: S3Store, proxy: FaultProxy, settings: Settings
) -> None:
    """503 SlowDown is retried with botocore's throttling backoff (1 s base, doubling)
    and then reported as throttling. With the pipeline's 5 retries the backoff alone
    averages ~15 s, so this uses a client with 2 retries; the transient test below
    shows SlowDown retried inside a real run."""
    client = boto3.client(
        "s3",
        endpoint_url=proxy.endpoint,
        region_name="ap-northeast-1",
        config=Config(retries={"max_attempts": 2, "mode": "standard"}),
        **settings.aws_credentials,
    )
    throttled = S3Store(client, store.location)
    rule = proxy.add(Rule(STATUS, "PUT", r"/x\.bin$", code="SlowDown", times=None))

    started = time.monotonic()
    with pytest.raises(StorageError, match="throttling") as caught:
        throttled.put_bytes("x.bin", b"x", if_none_match=True)

    assert throttled.uri("x.bin") in str(caught.value)
    assert rule.applied == 3
    assert time.monotonic() - started < 10
    assert store.head("x.bin") is None


# -- retried and recovered ------------------------------------------------------------


def test_transient_faults_are_retried_and_the_run_succeeds(
    state: Ledger, store: S3Store, proxy: FaultProxy, proxied: Pipeline
) -> None:
    rules = [
        proxy.add(Rule(STATUS, "PUT", ARCHIVE, code="SlowDown", times=1)),
        proxy.add(Rule(STATUS, "GET", ARCHIVE, code="InternalError", times=2)),
        # A download cut off mid-body, and an upload whose connection dies.
        proxy.add(Rule(RESET_RESPONSE, "GET", DAILY, times=1)),
        proxy.add(Rule(RESET_REQUEST, "PUT", MANIFEST, times=1)),
        # An upload altered in flight: S3 rejects it (Content-MD5), it is sent again.
        proxy.add(Rule(MUTATE, "PUT", DAILY, times=1)),
    ]

    result = run_fast(proxied, "backtest_job", DAYS[1])

    assert result.success, step_errors(result)
    assert [rule.applied for rule in rules] == [1, 2, 1, 1, 1]
    state.record_backtest(store, DAYS[1])
    assert is_backed_up(store, DAYS[1].isoformat())
    assert_safe(store, state)
    assert run_fsck(store) == []


def test_a_lost_answer_to_the_archive_write_does_not_duplicate_rows(
    state: Ledger, store: S3Store, proxy: FaultProxy, proxied: Pipeline
) -> None:
    """The archive PUT lands but its answer is lost: botocore sends it again with the
    same If-Match, S3 refuses it (412), and the compare-and-swap re-reads the archive,
    finds its own rows there and writes nothing more."""
    rule = proxy.add(Rule(FORWARD_THEN_RESET, "PUT", ARCHIVE, times=1))

    result = run_fast(proxied, "backtest_job", DAYS[1])

    assert result.success, step_errors(result)
    assert rule.applied == 1
    assert proxy.count("PUT", ARCHIVE) == 2
    state.record_backtest(store, DAYS[1])
    table = read_parquet(store, layout.ARCHIVE)
    dates = table.column("backtest_date").to_pylist()
    assert dates.count(DAYS[1].isoformat()) == len(daily_rows(store, DAYS[1]))
    assert_safe(store, state)


def test_reads_that_pretend_nothing_is_published_cannot_overwrite_it(
    state: Ledger, store: S3Store, proxy: FaultProxy, proxied: Pipeline
) -> None:
    """The store answers 404 "no such key" to every read of the published selection,
    so the gate sees "nothing published, nothing to protect". DAYS[1] is not backed
    up; the write-once publication is still refused by S3 and nothing is overwritten."""
    published_before = published(store)[0]
    proxy.add(Rule(STATUS, "HEAD", r"/grok_trending\.parquet$", code="NoSuchKey", times=None))
    proxy.add(Rule(STATUS, "GET", r"/grok_trending\.parquet$", code="NoSuchKey", times=None))

    result = run_fast(proxied, "selection_job", DAYS[2])

    assert not result.success
    assert "nothing was overwritten" in step_errors(result)
    assert published(store)[0] == published_before


def test_the_s3_client_retry_configuration_is_explicit_and_bounded(bucket: str) -> None:
    # The code location's own S3 resource, given only the bucket to reach.
    storage = StorageResource(s3=make_storage_resource().s3, bucket=bucket)
    client = storage.store().client
    # botocore's max_attempts counts retries: 5 retries, 6 attempts in all.
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 6}


# -- crashes: the process is killed mid-run -------------------------------------------

# The child's resources are the code location's own, configured by its environment.
_RUN_IN_CHILD = (
    "import datetime, sys\n"
    "from grok_assets.definitions import defs\n"
    "from grok_assets.defs.run import run_quietly\n"
    "day = datetime.date.fromisoformat(sys.argv[2])\n"
    "result = run_quietly(defs, sys.argv[1], day=day)\n"
    "print('SUCCESS' if result.success else 'FAILED')\n"
)


def run_and_kill_at(
    rule: Rule, proxy: FaultProxy, environ: dict[str, str], job: str, day: Any
) -> None:
    """Run ``job`` in a child process whose environment points it at the bucket through
    the proxy, and SIGKILL it once it reaches ``rule``."""
    proxy.add(rule)
    child = subprocess.Popen(
        [sys.executable, "-c", _RUN_IN_CHILD, job, day.isoformat()],
        cwd=REPO,
        env={**os.environ, **environ, "AWS_ENDPOINT_URL": proxy.endpoint},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert rule.hit.wait(120), "the child never reached the crash point"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(30)
        proxy.clear()  # the held request is dropped, never forwarded
    assert child.returncode == -signal.SIGKILL


def test_killed_between_the_daily_file_and_the_archive_write(
    state: Ledger, store: S3Store, proxy: FaultProxy, proxied: Pipeline, environ: dict[str, str]
) -> None:
    archive_before = store.get_bytes(layout.ARCHIVE)[0]

    run_and_kill_at(Rule(HANG, "PUT", ARCHIVE), proxy, environ, "backtest_job", DAYS[1])

    assert daily_rows(store, DAYS[1])  # the daily file was written ...
    assert store.get_bytes(layout.ARCHIVE)[0] == archive_before  # ... the archive was not
    assert_safe(store, state)
    assert_gate_holds_then_converges(store, state, proxied)


def test_killed_after_the_archive_write_landed_before_its_answer(
    state: Ledger, store: S3Store, proxy: FaultProxy, proxied: Pipeline, environ: dict[str, str]
) -> None:
    run_and_kill_at(
        Rule(FORWARD_THEN_HANG, "PUT", ARCHIVE), proxy, environ, "backtest_job", DAYS[1]
    )

    state.record_backtest(store, DAYS[1])
    assert is_backed_up(store, DAYS[1].isoformat())
    assert_safe(store, state, after_crash=True)
    rerun = run_fast(proxied, "backtest_job", DAYS[1])
    assert rerun.success, step_errors(rerun)
    assert_safe(store, state)
    assert run_fsck(store) == []


def test_killed_between_the_archive_and_the_manifest(
    state: Ledger, store: S3Store, proxy: FaultProxy, proxied: Pipeline, environ: dict[str, str]
) -> None:
    run_and_kill_at(Rule(HANG, "PUT", MANIFEST), proxy, environ, "backtest_job", DAYS[1])

    state.record_backtest(store, DAYS[1])
    assert is_backed_up(store, DAYS[1].isoformat())
    # The manifest still lists the archive as it was; those bytes are still in S3,
    # kept as the generation the archive write made first.
    assert manifest_violations(store) != []
    assert_safe(store, state, after_crash=True)

    rerun = run_fast(proxied, "backtest_job", DAYS[1])

    assert rerun.success, step_errors(rerun)
    assert_safe(store, state)
    assert run_fsck(store) == []
