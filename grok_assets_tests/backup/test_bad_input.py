"""Bad input in S3 and on the command line: a clear error naming the object, the
publication blocked where it must be, and nothing "repaired" silently.

Starting state (two_days per test): DAYS[0] and DAYS[1] selected and backtested; the
selection for DAYS[1] is published and backed up, so only the bad input can close
the gate for DAYS[2].
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from dagster import DagsterInstance, DagsterUnknownPartitionError, ExecuteInProcessResult

from grok_assets import layout
from grok_assets.backup.upsert import upsert_daily_into_archive
from grok_assets.cli.args import EXIT_ERROR
from grok_assets.cli.main import main
from grok_assets.definitions import defs
from grok_assets.defs.partitions import partition_date
from grok_assets.defs.run import QUIET_RUN_CONFIG
from grok_assets.storage import S3Store, encode_parquet, read_parquet, write_parquet
from grok_assets.trading_calendar import NotATradingDayError
from grok_assets_tests.support.harness import (
    fast_pipeline,
    published,
    run_fast,
)
from grok_assets_tests.support.pipeline import DAYS, step_errors

PUBLISHED_DAY = DAYS[1]
DAILY_KEY = layout.daily_backup_key(PUBLISHED_DAY)


def everything_said(result: ExecuteInProcessResult) -> str:
    """Step failures and check descriptions: what the operator reads."""
    checks = [f"{e.check_name}: {e.description}" for e in result.get_asset_check_evaluations()]
    return step_errors(result) + "\n" + "\n".join(checks)


def assert_selection_blocked(store: S3Store, *fragments: str) -> None:
    before = published(store)[0]
    result = run_fast(store, "selection_job", DAYS[2])
    assert not result.success
    said = everything_said(result)
    for fragment in fragments:
        assert fragment in said
    assert published(store)[0] == before


def valid_bytes(store: S3Store, relative_key: str) -> bytes:
    return store.get_bytes(relative_key)[0]


# -- unreadable objects ---------------------------------------------------------------


def test_a_corrupt_daily_backup_blocks_the_selection_and_stays_as_it_is(two_days: S3Store) -> None:
    garbage = b"PAR1 this is not a parquet file at all " * 20
    two_days.put_bytes(DAILY_KEY, garbage)

    assert_selection_blocked(two_days, DAILY_KEY, "not a readable parquet file")

    assert valid_bytes(two_days, DAILY_KEY) == garbage


def test_a_truncated_daily_backup_blocks_the_selection(two_days: S3Store) -> None:
    truncated = valid_bytes(two_days, DAILY_KEY)[:-100]
    two_days.put_bytes(DAILY_KEY, truncated)

    assert_selection_blocked(two_days, DAILY_KEY, "not a readable parquet file")

    assert valid_bytes(two_days, DAILY_KEY) == truncated


def test_a_zero_byte_archive_blocks_the_selection_and_is_not_rebuilt(two_days: S3Store) -> None:
    two_days.put_bytes(layout.ARCHIVE, b"")

    assert_selection_blocked(two_days, two_days.uri(layout.ARCHIVE), "is empty (0 bytes)")
    # A backtest must not take the empty archive for "no archive yet" and start a
    # new one holding a single day.
    result = run_fast(two_days, "backtest_job", DAYS[2])
    assert not result.success
    assert two_days.uri(layout.ARCHIVE) in step_errors(result)
    assert valid_bytes(two_days, layout.ARCHIVE) == b""


def test_a_corrupt_archive_is_refused_by_the_backtest_naming_it(two_days: S3Store) -> None:
    corrupt = bytearray(valid_bytes(two_days, layout.ARCHIVE))
    corrupt[len(corrupt) // 2 : len(corrupt) // 2 + 64] = b"\x00" * 64
    two_days.put_bytes(layout.ARCHIVE, bytes(corrupt))

    result = run_fast(two_days, "backtest_job", PUBLISHED_DAY)

    assert not result.success
    assert two_days.uri(layout.ARCHIVE) in step_errors(result)
    assert valid_bytes(two_days, layout.ARCHIVE) == bytes(corrupt)


def test_bytes_that_differ_from_their_recorded_md5_are_refused(
    two_days: S3Store, s3_client: Any
) -> None:
    """An archive replaced behind the pipeline's back, keeping the old MD5 metadata."""
    data = valid_bytes(two_days, layout.ARCHIVE)
    head = two_days.head(layout.ARCHIVE)
    assert head is not None
    archive = pq.read_table(io.BytesIO(data))
    shrunk = encode_parquet(archive.slice(0, archive.num_rows - 1))
    s3_client.put_object(
        Bucket=two_days.bucket,
        Key=two_days.location.key(layout.ARCHIVE),
        Body=shrunk,
        Metadata={"md5": head.md5 or ""},
    )

    result = run_fast(two_days, "backtest_job", PUBLISHED_DAY)

    assert not result.success
    assert "does not match its recorded MD5" in step_errors(result)
    assert valid_bytes_raw(s3_client, two_days, layout.ARCHIVE) == shrunk


def valid_bytes_raw(s3_client: Any, store: S3Store, relative_key: str) -> bytes:
    return bytes(
        s3_client.get_object(Bucket=store.bucket, Key=store.location.key(relative_key))[
            "Body"
        ].read()
    )


# -- wrong columns --------------------------------------------------------------------


def test_an_archive_without_backtest_date_is_refused_everywhere(two_days: S3Store) -> None:
    archive = read_parquet(two_days, layout.ARCHIVE)
    without = archive.drop_columns(["backtest_date"])
    write_parquet(two_days, layout.ARCHIVE, without)
    bad = valid_bytes(two_days, layout.ARCHIVE)

    assert_selection_blocked(two_days, two_days.uri(layout.ARCHIVE), "'backtest_date'")
    result = run_fast(two_days, "backtest_job", PUBLISHED_DAY)
    assert not result.success
    assert "backtest_date" in step_errors(result)
    assert two_days.uri(layout.ARCHIVE) in step_errors(result)
    assert valid_bytes(two_days, layout.ARCHIVE) == bad


def _archive_with_numbers_as_dates(store: S3Store) -> bytes:
    archive = read_parquet(store, layout.ARCHIVE)
    index = archive.schema.get_field_index("backtest_date")
    as_numbers = pc.cast(pc.replace_substring(archive.column(index), "-", ""), pa.int64())
    write_parquet(store, layout.ARCHIVE, archive.set_column(index, "backtest_date", as_numbers))
    return valid_bytes(store, layout.ARCHIVE)


def test_an_archive_date_column_of_the_wrong_type_is_refused(two_days: S3Store) -> None:
    """Dates as numbers (20261117): no date this project could vouch for."""
    bad = _archive_with_numbers_as_dates(two_days)

    with pytest.raises(ValueError) as caught:
        upsert_daily_into_archive(two_days, PUBLISHED_DAY.isoformat(), DAILY_KEY)

    message = str(caught.value)
    assert two_days.uri(layout.ARCHIVE) in message
    assert "int64" in message and "backtest_date" in message
    assert valid_bytes(two_days, layout.ARCHIVE) == bad
    before = published(two_days)[0]
    assert not run_fast(two_days, "selection_job", DAYS[2]).success
    assert published(two_days)[0] == before


def test_the_gate_names_an_archive_date_column_of_the_wrong_type(two_days: S3Store) -> None:
    _archive_with_numbers_as_dates(two_days)
    assert_selection_blocked(two_days, two_days.uri(layout.ARCHIVE), "backtest_date", "string")


def test_a_daily_backup_column_of_the_wrong_type_never_reaches_the_archive(
    two_days: S3Store,
) -> None:
    daily = read_parquet(two_days, DAILY_KEY)
    index = daily.schema.get_field_index("grok_rank")
    as_text = pc.cast(daily.column(index), pa.string())
    write_parquet(two_days, DAILY_KEY, daily.set_column(index, "grok_rank", as_text))
    archive_before = valid_bytes(two_days, layout.ARCHIVE)

    with pytest.raises(ValueError, match="grok_rank") as caught:
        upsert_daily_into_archive(two_days, PUBLISHED_DAY.isoformat(), DAILY_KEY)

    assert two_days.uri(DAILY_KEY) in str(caught.value)
    assert valid_bytes(two_days, layout.ARCHIVE) == archive_before


def test_candidates_with_a_wrong_column_type_fail_the_backtest_naming_them(
    two_days: S3Store,
) -> None:
    key = layout.candidates_key(PUBLISHED_DAY)
    candidates = read_parquet(two_days, key)
    index = candidates.schema.get_field_index("grok_rank")
    bad = candidates.set_column(index, "grok_rank", pc.cast(candidates.column(index), pa.string()))
    write_parquet(two_days, key, bad)
    daily_before = valid_bytes(two_days, DAILY_KEY)

    result = run_fast(two_days, "backtest_job", PUBLISHED_DAY)

    assert not result.success
    assert two_days.uri(key) in step_errors(result)
    assert "grok_rank" in step_errors(result)
    assert valid_bytes(two_days, DAILY_KEY) == daily_before


# -- the manifest ---------------------------------------------------------------------


def test_a_manifest_that_is_not_json_is_reported_not_overwritten(
    two_days: S3Store, environ: dict[str, str]
) -> None:
    two_days.put_bytes(layout.MANIFEST, b"{this is not json", content_type="application/json")

    result = run_fast(two_days, "backtest_job", PUBLISHED_DAY)

    assert not result.success
    said = everything_said(result)
    assert two_days.uri(layout.MANIFEST) in said and "not valid JSON" in said
    assert valid_bytes(two_days, layout.MANIFEST) == b"{this is not json"
    assert main(["fsck"], environ=environ) == 1


# -- dates and partition keys ---------------------------------------------------------


@pytest.mark.parametrize("text", ["2026-02-30", "../x", "20261130/../../x", ""])
def test_impossible_dates_are_refused_by_the_cli_naming_them(
    text: str, two_days: S3Store, environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    for command in (["verify", "--date", text], ["restore", "--date", text]):
        assert main(command, environ=environ) == EXIT_ERROR
        assert repr(text) in capsys.readouterr().err


def test_a_path_as_archive_generation_is_refused(
    two_days: S3Store, environ: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    archive_before = valid_bytes(two_days, layout.ARCHIVE)
    command = ["restore", "--archive-generation", "../grok_trending_archive"]
    assert main(command, environ=environ) == EXIT_ERROR
    assert "'../grok_trending_archive' is not an archive generation ID" in capsys.readouterr().err
    assert valid_bytes(two_days, layout.ARCHIVE) == archive_before


@pytest.mark.parametrize("key", ["2026-02-30", "../x", "2026-11-21", "2026-11-23"])
def test_a_partition_key_that_is_not_a_trading_day_runs_nothing(
    key: str, two_days: S3Store
) -> None:
    """Saturday 2026-11-21 and Labour Thanksgiving Day 2026-11-23 are not partitions;
    an impossible date or a path is not either."""
    job = defs.resolve_job_def("selection_job")
    resources = fast_pipeline(two_days.endpoint_url, two_days.bucket).resources
    with pytest.raises(DagsterUnknownPartitionError, match=key.replace(".", r"\.")):
        job.execute_in_process(
            partition_key=key,
            instance=DagsterInstance.ephemeral(),
            run_config=QUIET_RUN_CONFIG,
            resources=resources,
        )
    with pytest.raises(ValueError, match=key.replace(".", r"\.")) as caught:
        partition_date(key)
    if key in ("2026-11-21", "2026-11-23"):
        assert isinstance(caught.value, NotATradingDayError)
        assert two_days.head(layout.candidates_key(dt.date.fromisoformat(key))) is None
