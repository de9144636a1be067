"""Small, valid tables in the pipeline's schemas, for tests that need realistic rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa

from grok_assets import layout
from grok_assets.schemas import BACKTEST_SCHEMA, CANDIDATE_SCHEMA
from grok_assets.storage import S3Store, write_parquet


def _value(field: pa.Field, index: int, variant: int) -> Any:
    """A deterministic, type-correct value for ``field`` in row ``index``."""
    if pa.types.is_boolean(field.type):
        return (index + variant) % 2 == 0
    if pa.types.is_integer(field.type):
        return 1000 * (variant + 1) + index
    if pa.types.is_floating(field.type):
        return round(100.0 + index * 1.25 + variant * 0.5, 4)
    if pa.types.is_list(field.type):
        return [f"https://example.com/{field.name}/{variant}/{index}"]
    return f"{field.name}-{variant}-{index}"


def backtest_rows(
    backtest_date: str,
    count: int = 3,
    *,
    variant: int = 0,
    selection_date: str | None = None,
) -> pa.Table:
    """``count`` rows of BACKTEST_SCHEMA for one date, ``grok_rank`` 1..count.

    ``variant`` changes every non-key value, so two variants of a date are different
    rows with the same shape.
    """
    columns: dict[str, list[Any]] = {}
    for field in BACKTEST_SCHEMA:
        columns[field.name] = [_value(field, index, variant) for index in range(count)]
    code_base = 1300 + 10 * variant
    columns["selection_date"] = [selection_date or backtest_date] * count
    columns["backtest_date"] = [backtest_date] * count
    columns["code"] = [str(code_base + index) for index in range(count)]
    columns["ticker"] = [f"{code_base + index}.T" for index in range(count)]
    columns["grok_rank"] = list(range(1, count + 1))
    columns["data_source"] = ["5m"] * count
    return pa.Table.from_pydict(columns, schema=BACKTEST_SCHEMA)


def many_dates_rows(dates: list[str], per_date: int) -> pa.Table:
    """``per_date`` rows for each date, concatenated in date order."""
    return pa.concat_tables([backtest_rows(date, per_date) for date in sorted(dates)])


def selection_rows(date: str, count: int = 3) -> pa.Table:
    """A published selection (CANDIDATE_SCHEMA) for one date."""
    columns: dict[str, list[Any]] = {}
    for field in CANDIDATE_SCHEMA:
        columns[field.name] = [_value(field, index, 0) for index in range(count)]
    columns["date"] = [date] * count
    columns["code"] = [str(1300 + index) for index in range(count)]
    columns["ticker"] = [f"{1300 + index}.T" for index in range(count)]
    columns["grok_rank"] = list(range(1, count + 1))
    return pa.Table.from_pydict(columns, schema=CANDIDATE_SCHEMA)


def replace_column(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    """``table`` with column ``name`` replaced by ``values`` (whatever its type)."""
    index = table.schema.get_field_index(name)
    return table.set_column(index, name, values)


def publish_selection(store: S3Store, date: str, count: int = 3) -> None:
    write_parquet(store, layout.PUBLISHED_SELECTION, selection_rows(date, count))


def write_daily_backup(store: S3Store, date: str, count: int = 3, variant: int = 0) -> pa.Table:
    rows = backtest_rows(date, count, variant=variant)
    write_parquet(store, layout.daily_backup_key(dt.date.fromisoformat(date)), rows)
    return rows
