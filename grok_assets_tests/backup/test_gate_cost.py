"""What the gate and the archive upsert cost in S3 traffic, on a realistic long archive.

The original verification downloaded the whole archive to ask about one date, so its
cost grew with history. These tests pin down that ours does not: the gate reads the
footer and at most one column chunk, counted at the boto3 client with the same
botocore hook the benchmarks use (``make bench`` has the full figures).
"""

from __future__ import annotations

import datetime as dt
import io
import itertools

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from benchmarks.counting import TransferCounter
from benchmarks.synthetic import build_archive
from grok_assets import layout, trading_calendar
from grok_assets.backup.archive import DATE_COLUMN, encode_archive, row_counts_by_date, upsert_date
from grok_assets.backup.gate import rows_for_date
from grok_assets.backup.upsert import UpsertOutcome, upsert_daily_into_archive
from grok_assets.storage import S3Store, encode_parquet, read_parquet

YEARS = 5
END = dt.date(2026, 11, 20)
ROWS_PER_DAY = 15


@pytest.fixture(scope="module")
def history() -> tuple[pa.Table, bytes, list[dt.date]]:
    table, days = build_archive(YEARS, END)
    return table, encode_archive(table), days


@pytest.fixture
def counter(store: S3Store, s3_client) -> TransferCounter:  # type: ignore[no-untyped-def]
    return TransferCounter().attach(s3_client)


def test_gate_reads_a_small_fraction_of_a_long_archive(
    store: S3Store,
    s3_client,  # type: ignore[no-untyped-def]
    counter: TransferCounter,
    history: tuple[pa.Table, bytes, list[dt.date]],
) -> None:
    _, data, days = history
    with counter.paused():
        store.put_bytes(layout.ARCHIVE, data)
    assert len(data) > 1_000_000  # about 2.5 MB: every column, random values

    for day in (days[-1], days[len(days) // 2], days[0]):
        counter.reset()
        assert rows_for_date(store, layout.ARCHIVE, day.isoformat()) == ROWS_PER_DAY
        assert counter.bytes_received < len(data) / 20, (day, counter.bytes_received)
        # One read of the tail (the footer) and at most one column chunk; no HEAD.
        assert counter.operations["GetObject"] <= 2, counter.operations
        assert counter.operations["HeadObject"] == 0, counter.operations
    saturday = END + dt.timedelta(days=1)
    assert rows_for_date(store, layout.ARCHIVE, saturday.isoformat()) == 0

    # The original check, for contrast: the whole object, whatever the question.
    counter.reset()
    key = store.location.key(layout.ARCHIVE)
    body = s3_client.get_object(Bucket=store.bucket, Key=key)["Body"].read()
    frame = pd.read_parquet(io.BytesIO(body))
    assert int((frame[DATE_COLUMN] == days[-1].isoformat()).sum()) == ROWS_PER_DAY
    assert counter.bytes_received == len(data)


def test_each_date_lies_in_one_row_group(history: tuple[pa.Table, bytes, list[dt.date]]) -> None:
    table, data, _ = history
    metadata = pq.ParquetFile(io.BytesIO(data)).metadata
    column = table.schema.get_field_index(DATE_COLUMN)
    assert metadata.num_row_groups > 1
    ranges = [
        (group.column(column).statistics.min, group.column(column).statistics.max)
        for group in (metadata.row_group(i) for i in range(metadata.num_row_groups))
    ]
    # Consecutive groups never share a date: each group starts where a date starts.
    assert all(before[1] < after[0] for before, after in itertools.pairwise(ranges))
    assert pq.read_table(io.BytesIO(data)).equals(table)


def test_daily_upsert_into_a_long_archive_uploads_once(
    store: S3Store,
    counter: TransferCounter,
    history: tuple[pa.Table, bytes, list[dt.date]],
) -> None:
    table, _, days = history
    newest = days[-1].isoformat()
    # The archive before the newest day went in, and that day's daily backup.
    is_newest = pa.array([date == newest for date in table.column(DATE_COLUMN).to_pylist()])
    before = table.filter(pc.invert(is_newest))
    daily = table.filter(is_newest)
    with counter.paused():
        store.put_bytes(layout.ARCHIVE, encode_archive(before))
        store.put_bytes(layout.daily_backup_key(days[-1]), encode_parquet(daily))

    archive_key = store.location.key(layout.ARCHIVE)
    counter.reset()
    outcome = upsert_daily_into_archive(
        store, newest, layout.daily_backup_key(days[-1]), keep_generations=False
    )
    assert outcome.written is True
    assert counter.calls[("PutObject", archive_key)] == 1, counter.calls
    stored = read_parquet(store, layout.ARCHIVE)
    assert stored.equals(upsert_date(before, daily, newest))
    assert row_counts_by_date(stored) == row_counts_by_date(table)

    # A re-run with the same rows changes nothing and uploads nothing.
    counter.reset()
    outcome = upsert_daily_into_archive(
        store, newest, layout.daily_backup_key(days[-1]), keep_generations=False
    )
    assert outcome == UpsertOutcome(
        written=False,
        archive_rows=table.num_rows,
        dates=len(days),
        rows_for_date=ROWS_PER_DAY,
        previous_generation=None,
    )
    assert counter.calls[("PutObject", archive_key)] == 0, counter.calls


def test_the_cheap_calendar_has_exactly_the_exchange_calendars_sessions() -> None:
    # trading_calendar evaluates XTKS's holiday rules over its own range instead of
    # building the whole ExchangeCalendar (a load-time cost); the sessions must match.
    import exchange_calendars

    full = exchange_calendars.get_calendar(trading_calendar.XTKS).sessions
    first, last = trading_calendar.first_known_day(), trading_calendar.last_known_day()
    assert (first, last) == (full[0].date(), full[-1].date())
    assert trading_calendar.trading_days(first, last) == [ts.date() for ts in full]
