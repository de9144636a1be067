"""Reading what the previous pipeline wrote: one string type, dates as YYYY-MM-DD, renamed
columns merged, its price files; anything unmappable refused by name."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from grok_assets.schemas import BARS_5M_SCHEMA, DAILY_BARS_SCHEMA
from grok_assets.upstream import (
    UpstreamShapeError,
    archive_rows_as_project,
    bars_5m_as_project,
    daily_bars_as_project,
    days_filters,
    iso_dates,
    merge_renamed,
    plain_strings,
    price_columns_to_read,
)

WHERE = "s3://bucket/parquet/file.parquet"


@pytest.mark.parametrize(
    "data_type",
    [pa.string(), pa.large_string(), pa.string_view(), pa.dictionary(pa.int32(), pa.string())],
)
def test_every_string_spelling_reads_as_string(data_type: pa.DataType) -> None:
    values = pa.array(["7203.T", None, "6758.T"]).cast(data_type)
    table = plain_strings(pa.table({"ticker": values}))
    assert table.schema.field("ticker").type == pa.string()
    assert table.column("ticker").to_pylist() == ["7203.T", None, "6758.T"]


def test_lists_of_large_strings_read_as_lists_of_strings() -> None:
    values = pa.array([["GROK"], None], pa.list_(pa.large_string()))
    table = plain_strings(pa.table({"categories": values}))
    assert table.schema.field("categories").type == pa.list_(pa.string())


@pytest.mark.parametrize(
    "values",
    [
        pa.array([dt.date(2025, 10, 30), None]),
        pa.array([dt.datetime(2025, 10, 30, 0, 0), None], pa.timestamp("ns")),
        # 15:00 UTC on the 29th is already the 30th in Tokyo.
        pa.array(
            [dt.datetime(2025, 10, 29, 15, 0, tzinfo=dt.UTC), None], pa.timestamp("us", tz="UTC")
        ),
        pa.array(["2025-10-30", None], pa.large_string()),
    ],
    ids=["date32", "naive timestamp", "UTC timestamp", "large_string"],
)
def test_dates_become_yyyy_mm_dd_strings(values: pa.Array) -> None:
    days = iso_dates(pa.chunked_array([values]), WHERE, "backtest_date")
    assert days.type == pa.string()
    assert days.to_pylist() == ["2025-10-30", None]


def test_a_date_column_of_another_type_is_refused_by_name() -> None:
    with pytest.raises(UpstreamShapeError, match=r"file.parquet column 'backtest_date' is int64"):
        iso_dates(pa.chunked_array([pa.array([20251030])]), WHERE, "backtest_date")


def test_renamed_columns_merge_into_the_new_names() -> None:
    table = pa.table(
        {
            "company_name": ["トヨタ自動車", None, "ソニー"],
            "stock_name": [None, "任天堂", "ソニー"],
            "categories": pa.array([None, "決算", None], pa.large_string()),
        }
    )
    merged = merge_renamed(table, WHERE)
    assert merged.schema.names == ["stock_name", "category"]
    assert merged.column("stock_name").to_pylist() == ["トヨタ自動車", "任天堂", "ソニー"]
    assert merged.column("category").to_pylist() == [None, "決算", None]


def test_two_different_values_under_both_names_are_refused() -> None:
    table = pa.table({"company_name": ["トヨタ"], "stock_name": ["トヨタ自動車"]})
    with pytest.raises(UpstreamShapeError, match="'company_name' and 'stock_name' on 1 row"):
        merge_renamed(table, WHERE)


def test_archive_rows_keep_every_other_column_as_it_is() -> None:
    table = pa.table(
        {
            "backtest_date": pa.array([dt.date(2025, 10, 30)]),
            "ticker": pa.array(["7203.T"], pa.large_string()),
            "market_cap": [3.1e13],
            "phase1_win": [True],
        }
    )
    rows = archive_rows_as_project(table, WHERE)
    assert rows.to_pylist() == [
        {
            "backtest_date": "2025-10-30",
            "ticker": "7203.T",
            "market_cap": 3.1e13,
            "phase1_win": True,
        }
    ]


def _previous_daily() -> pa.Table:
    return pa.table(
        {
            "date": pa.array(
                [dt.datetime(2025, 12, 2), dt.datetime(2025, 12, 3)], pa.timestamp("ns")
            ),
            "ticker": pa.array(["7203.T", "7203.T"], pa.large_string()),
            "Open": [3000.0, 3010.0],
            "High": [3050.0, 3020.0],
            "Low": [2990.0, 2980.0],
            "Close": [3040.0, 3000.0],
            "Volume": [1_000_000, 900_000],
        }
    )


def test_the_previous_pipelines_daily_bars_read_as_this_projects() -> None:
    bars = daily_bars_as_project(_previous_daily(), WHERE)
    assert bars.schema.equals(DAILY_BARS_SCHEMA)
    assert bars.to_pylist()[0] == {
        "date": "2025-12-02",
        "ticker": "7203.T",
        "open": 3000.0,
        "high": 3050.0,
        "low": 2990.0,
        "close": 3040.0,
        "volume": 1_000_000,
    }


def test_the_previous_pipelines_5_minute_bars_start_in_japan_time() -> None:
    table = _previous_daily().set_column(
        0,
        "date",
        pa.array(
            [dt.datetime(2025, 12, 2, 9, 0), dt.datetime(2025, 12, 2, 11, 25)], pa.timestamp("ns")
        ),
    )
    bars = bars_5m_as_project(table, WHERE)
    assert bars.schema.equals(BARS_5M_SCHEMA)
    first = bars.to_pylist()[0]
    assert first["date"] == "2025-12-02"
    assert first["datetime"].isoformat() == "2025-12-02T09:00:00+09:00"


def test_a_price_file_in_neither_schema_is_refused_naming_its_columns() -> None:
    with pytest.raises(UpstreamShapeError) as caught:
        price_columns_to_read(["Date", "Symbol", "Price"], DAILY_BARS_SCHEMA, WHERE)
    message = str(caught.value)
    assert WHERE in message and "Date, Symbol, Price" in message
    assert "Open" in message and "open" in message


def test_day_filters_follow_the_files_own_date_type() -> None:
    day = dt.date(2025, 12, 2)
    naive = pa.schema([pa.field("date", pa.timestamp("ns"))])
    assert days_filters(naive, "date", [day]) == [
        ("date", ">=", dt.datetime(2025, 12, 2)),
        ("date", "<", dt.datetime(2025, 12, 3)),
    ]
    text = pa.schema([pa.field("date", pa.large_string())])
    assert days_filters(text, "date", [day]) == [("date", "in", ["2025-12-02"])]
