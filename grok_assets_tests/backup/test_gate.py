"""The backup gate, read from the loopback S3 server only."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pytest

from grok_assets import layout
from grok_assets.backup.archive import upsert_date
from grok_assets.backup.gate import (
    GateError,
    backup_status,
    published_backup_status,
    published_selection_date,
    rows_for_date,
)
from grok_assets.layout import Location
from grok_assets.storage import NoSuchBucketError, S3Store, parquet_file, write_parquet
from grok_assets.storage.parquet import ROW_GROUP_SIZE
from grok_assets_tests.support.factories import (
    backtest_rows,
    publish_selection,
    selection_rows,
    write_daily_backup,
)

DAY = "2026-11-20"
DAY_KEY = layout.daily_backup_key(dt.date(2026, 11, 20))


def write_archive(store: S3Store, counts: dict[str, int]) -> pa.Table:
    archive: pa.Table | None = None
    for date, count in counts.items():
        archive = upsert_date(archive, backtest_rows(date, count), date)
    assert archive is not None
    write_parquet(store, layout.ARCHIVE, archive)
    return archive


# -- published_selection_date ----------------------------------------------------------


def test_nothing_published_gives_none(store: S3Store) -> None:
    assert published_selection_date(store) is None


def test_published_date_is_read_from_s3(store: S3Store) -> None:
    publish_selection(store, "2026-11-24", count=4)
    assert published_selection_date(store) == "2026-11-24"


def test_an_empty_published_file_gives_none(store: S3Store) -> None:
    write_parquet(store, layout.PUBLISHED_SELECTION, selection_rows("2026-11-24", 0))
    assert published_selection_date(store) is None


def test_a_selection_holding_two_dates_is_an_error(store: S3Store) -> None:
    two_days = pa.concat_tables([selection_rows("2026-11-20", 2), selection_rows(DAY, 1)])
    write_parquet(
        store,
        layout.PUBLISHED_SELECTION,
        pa.concat_tables([two_days, selection_rows("2026-11-24", 1)]),
    )
    with pytest.raises(GateError, match="2026-11-24"):
        published_selection_date(store)


def test_a_selection_without_a_date_column_is_an_error(store: S3Store) -> None:
    write_parquet(
        store, layout.PUBLISHED_SELECTION, selection_rows("2026-11-24").drop_columns(["date"])
    )
    with pytest.raises(GateError, match="'date'"):
        published_selection_date(store)


# -- rows_for_date -----------------------------------------------------------------------


def test_rows_for_date_counts_exactly_across_row_groups(store: S3Store) -> None:
    counts = {
        "2026-11-16": 1500,
        "2026-11-17": 1,
        "2026-11-18": 2600,  # straddles the first row-group boundary
        "2026-11-19": 700,
        "2026-11-20": 3500,  # straddles the second
    }
    write_archive(store, counts)
    parquet = parquet_file(store, layout.ARCHIVE)
    assert parquet is not None
    assert sum(counts.values()) > 2 * ROW_GROUP_SIZE
    assert parquet.metadata.num_row_groups >= 3

    for date, count in counts.items():
        assert rows_for_date(store, layout.ARCHIVE, date) == count, date
    for absent in ("2026-11-13", "2026-11-24", "2026-11-18 "):
        assert rows_for_date(store, layout.ARCHIVE, absent) == 0, absent


def test_rows_for_date_of_a_missing_object_is_none(store: S3Store) -> None:
    assert rows_for_date(store, layout.ARCHIVE, DAY) is None


def test_rows_for_date_needs_the_date_column(store: S3Store) -> None:
    write_parquet(store, layout.ARCHIVE, backtest_rows(DAY, 2).drop_columns(["backtest_date"]))
    with pytest.raises(GateError, match="backtest_date"):
        rows_for_date(store, layout.ARCHIVE, DAY)


# -- backup_status -----------------------------------------------------------------------


def test_passes_with_daily_backup_and_archive_rows(store: S3Store) -> None:
    write_daily_backup(store, DAY, 3)
    write_archive(store, {"2026-11-19": 2, DAY: 3})

    status = backup_status(store, DAY)

    assert status.passed
    assert (status.daily_rows, status.archive_rows, status.daily_key) == (3, 3, DAY_KEY)
    assert status.findings() == [
        f"daily backup {DAY_KEY} exists with 3 rows",
        f"archive holds 3 rows for {DAY}",
    ]


def test_fails_without_the_daily_backup(store: S3Store) -> None:
    write_archive(store, {DAY: 3})
    status = backup_status(store, DAY)
    assert not status.passed
    assert not status.daily_backup_exists
    assert status.archive_contains_target_date
    assert f"daily backup {DAY_KEY} is missing" in status.findings()


def test_fails_when_the_archive_lacks_the_date(store: S3Store) -> None:
    write_daily_backup(store, DAY, 3)
    write_archive(store, {"2026-11-19": 2, "2026-11-24": 1})
    status = backup_status(store, DAY)
    assert not status.passed
    assert status.daily_backup_exists
    assert not status.archive_contains_target_date
    assert status.archive_rows == 0


def test_fails_when_there_is_no_archive_at_all(store: S3Store) -> None:
    write_daily_backup(store, DAY, 3)
    status = backup_status(store, DAY)
    assert not status.passed
    assert not status.archive_contains_target_date


def test_a_corrupt_daily_backup_counts_as_missing(store: S3Store) -> None:
    store.put_bytes(DAY_KEY, b"\x00garbage, not parquet\xff" * 10)
    write_archive(store, {DAY: 3})
    status = backup_status(store, DAY)
    assert not status.passed
    assert not status.daily_backup_exists


def test_an_empty_daily_backup_counts_as_missing(store: S3Store) -> None:
    write_parquet(store, DAY_KEY, backtest_rows(DAY, 0))
    write_archive(store, {DAY: 3})
    status = backup_status(store, DAY)
    assert not status.passed
    assert f"daily backup {DAY_KEY} exists but holds no rows" in status.findings()


def test_nothing_published_passes_with_nothing_to_protect(store: S3Store) -> None:
    status = published_backup_status(store)
    assert status.passed
    assert status.nothing_to_protect
    assert any("nothing to protect" in line for line in status.findings())


def test_published_selection_is_what_the_gate_protects(store: S3Store) -> None:
    publish_selection(store, DAY)
    status = published_backup_status(store)
    assert status.target_date == DAY
    assert not status.passed

    write_daily_backup(store, DAY, 3)
    write_archive(store, {DAY: 3})
    assert published_backup_status(store).passed


def test_a_missing_bucket_is_an_error_not_nothing_to_protect(s3_client: Any, bucket: str) -> None:
    missing = S3Store(s3_client, Location(bucket=bucket + "-absent", prefix="p/"))
    with pytest.raises(NoSuchBucketError):
        published_backup_status(missing)
    with pytest.raises(NoSuchBucketError):
        published_selection_date(missing)
    with pytest.raises(NoSuchBucketError):
        backup_status(missing, DAY)
