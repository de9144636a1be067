"""What the previous pipeline left in the bucket, read as this project's shapes.

The previous pipeline (``UPSTREAM.md``) wrote the same keys for a year with pandas 2
and pandas 3, so the same column can arrive as Arrow ``string``, ``large_string``,
``string_view`` or a dictionary of strings; early files hold ``backtest_date`` as a
``date32``; two archive columns were renamed on 2025-11-28 (``company_name`` became
``stock_name``, ``category`` became ``categories``); its price files use capitalised
``Open…Volume`` and a naive Japan-time ``date`` timestamp. Everything here is lossless
and pure: a value is only ever re-spelled (``large_string`` → ``string``, a date → its
``YYYY-MM-DD``), and anything that cannot be mapped without changing a value is
refused by name.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from grok_assets.schemas import (
    BARS_5M_SCHEMA,
    DAILY_BARS_SCHEMA,
    is_date_like,
    is_string_like,
    plain_type,
)
from grok_assets.trading_calendar import TOKYO, TOKYO_TZ

# The archive's and daily files' date columns: YYYY-MM-DD strings in this project.
DATE_COLUMNS = ("selection_date", "backtest_date")
# Renamed by the previous pipeline on 2025-11-28: old name -> the name this project writes.
RENAMED_COLUMNS = {"company_name": "stock_name", "categories": "category"}
# The previous pipeline's price files (yfinance): ``date`` a naive Japan-time timestamp,
# the bar's start for 5-minute bars.
PREVIOUS_PRICE_COLUMNS = ("date", "ticker", "Open", "High", "Low", "Close", "Volume")
_PRICE_RENAMES = {
    "Open": "open",
    "High": "high",
    "Low": "low",
    "Close": "close",
    "Volume": "volume",
}


class UpstreamShapeError(ValueError):
    """A file cannot be read as this project's shape without changing a value; the
    message names the file and the column."""


def plain_strings(table: pa.Table) -> pa.Table:
    """Every string-like column (and list of them) as plain ``string``: one type,
    whichever pandas wrote the file."""
    target = pa.schema(
        [field.with_type(plain_type(field.type)) for field in table.schema],
        metadata=table.schema.metadata,
    )
    return table if target.equals(table.schema, check_metadata=True) else table.cast(target)


def iso_dates(values: pa.ChunkedArray, where: str, column: str) -> pa.ChunkedArray:
    """A date column as ``YYYY-MM-DD`` strings: string-likes as they are; ``date32``,
    ``date64`` and timestamps by their calendar day in Tokyo (a naive timestamp is
    Japan time already)."""
    data_type = values.type
    if is_string_like(data_type):
        return values.cast(pa.string())
    if pa.types.is_timestamp(data_type) and data_type.tz is not None:
        values = values.cast(pa.timestamp(data_type.unit, tz=TOKYO))
    if is_date_like(data_type):
        return pc.strftime(values, format="%Y-%m-%d")
    raise UpstreamShapeError(
        f"{where} column {column!r} is {data_type}; expected YYYY-MM-DD strings, a date or "
        "a timestamp"
    )


def with_iso_dates(
    table: pa.Table, where: str, columns: tuple[str, ...] = DATE_COLUMNS
) -> pa.Table:
    """``table`` with its date columns as ``YYYY-MM-DD`` strings (see :func:`iso_dates`)."""
    for column in columns:
        if column not in table.schema.names:
            continue
        index = table.schema.get_field_index(column)
        field = table.schema.field(index)
        if pa.types.is_string(field.type):
            continue
        days = iso_dates(table.column(index), where, column)
        table = table.set_column(index, field.with_type(pa.string()), days)
    return table


def merge_renamed(table: pa.Table, where: str) -> pa.Table:
    """The previous pipeline's renamed columns folded into the names this project writes.

    Where only the old name exists it is renamed; where both exist the new one takes the
    old one's value on rows where it is null. A row holding different values under both
    names cannot be merged without losing one: refused, naming the columns.
    """
    for old, new in RENAMED_COLUMNS.items():
        names = table.schema.names
        if old not in names:
            continue
        old_values = table.column(old)
        if new not in names:
            table = table.rename_columns([new if name == old else name for name in names])
            continue
        new_values = table.column(new)
        if not is_string_like(old_values.type) or not is_string_like(new_values.type):
            raise UpstreamShapeError(
                f"{where} holds both {old!r} ({old_values.type}) and {new!r} "
                f"({new_values.type}); only text columns can be merged"
            )
        old_values, new_values = old_values.cast(pa.string()), new_values.cast(pa.string())
        clash = pc.and_(
            pc.and_(pc.is_valid(old_values), pc.is_valid(new_values)),
            pc.not_equal(old_values, new_values),
        )
        clashes = int(pc.sum(clash).as_py() or 0)
        if clashes:
            raise UpstreamShapeError(
                f"{where} holds different values in {old!r} and {new!r} on {clashes} row(s); "
                f"merging them into {new!r} would change a value"
            )
        merged = pc.coalesce(new_values, old_values)
        table = table.set_column(table.schema.get_field_index(new), new, merged)
        table = table.drop_columns([old])
    return table


def archive_rows_as_project(table: pa.Table, where: str) -> pa.Table:
    """Archive or daily-backup rows as this project reads them: plain strings, date
    columns as ``YYYY-MM-DD``, renamed columns merged. Every other column and value is
    kept as it is."""
    return merge_renamed(with_iso_dates(plain_strings(table), where), where)


# -- price files --------------------------------------------------------------------------


def _is_previous_price_file(names: list[str]) -> bool:
    return all(name in names for name in PREVIOUS_PRICE_COLUMNS)


def price_columns_to_read(names: list[str], schema: pa.Schema, where: str) -> list[str]:
    """The columns of a price file to read: this project's schema or the previous
    pipeline's; anything else is refused, naming the file and the columns found."""
    if all(name in names for name in schema.names):
        return list(schema.names)
    if _is_previous_price_file(names):
        return list(PREVIOUS_PRICE_COLUMNS)
    raise UpstreamShapeError(
        f"{where} is not a price file this project can read: it has columns "
        f"{', '.join(names)}; expected {', '.join(schema.names)} (this project's) or "
        f"{', '.join(PREVIOUS_PRICE_COLUMNS)} (the previous pipeline's)"
    )


def days_filters(schema: pa.Schema, column: str, days: list[dt.date]) -> list[tuple[str, str, Any]]:
    """Row filters for ``days`` on a date column however the file types it, so that only
    the row groups whose statistics admit them are read. A timestamp column gets the span
    from the first day to the last: read rows are always narrowed again by their day."""
    date_type = schema.field(column).type
    if pa.types.is_timestamp(date_type):
        start = dt.datetime.combine(min(days), dt.time())
        end = dt.datetime.combine(max(days), dt.time()) + dt.timedelta(days=1)
        if date_type.tz is not None:
            start, end = start.replace(tzinfo=TOKYO_TZ), end.replace(tzinfo=TOKYO_TZ)
        return [(column, ">=", start), (column, "<", end)]
    if pa.types.is_date(date_type):
        return [(column, "in", list(days))]
    return [(column, "in", [day.isoformat() for day in days])]


def _previous_bars(table: pa.Table, where: str) -> pa.Table:
    """The previous pipeline's bars: lower-case price columns, ``date`` its day and
    ``datetime`` the bar start in Tokyo."""
    stamp = table.column("date")
    if not pa.types.is_timestamp(stamp.type) and not pa.types.is_date(stamp.type):
        raise UpstreamShapeError(
            f"{where} column 'date' is {stamp.type}; the previous pipeline's price files "
            "hold a naive Japan-time timestamp there"
        )
    if pa.types.is_date(stamp.type):
        stamp = stamp.cast(pa.timestamp("ns"))
    if stamp.type.tz is None:
        moment = pc.assume_timezone(stamp.cast(pa.timestamp("ns")), TOKYO)
    else:
        moment = stamp.cast(pa.timestamp("ns", tz=TOKYO))
    renamed = table.rename_columns([_PRICE_RENAMES.get(name, name) for name in table.schema.names])
    day = iso_dates(moment, where, "date")
    return renamed.set_column(renamed.schema.get_field_index("date"), "date", day).append_column(
        "datetime", moment
    )


def daily_bars_as_project(table: pa.Table, where: str) -> pa.Table:
    """Daily bars in DAILY_BARS_SCHEMA, from either schema."""
    if _is_previous_price_file(table.schema.names):
        table = _previous_bars(table, where)
    return _conform_bars(table, DAILY_BARS_SCHEMA, where)


def bars_5m_as_project(table: pa.Table, where: str) -> pa.Table:
    """5-minute bars in BARS_5M_SCHEMA, from either schema."""
    if _is_previous_price_file(table.schema.names):
        table = _previous_bars(table, where)
    return _conform_bars(table, BARS_5M_SCHEMA, where)


def _conform_bars(table: pa.Table, schema: pa.Schema, where: str) -> pa.Table:
    table = plain_strings(table).select(schema.names)
    try:
        return table.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as error:
        raise UpstreamShapeError(f"{where} does not fit the price schema: {error}") from None
