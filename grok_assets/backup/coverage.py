"""Does the archive hold exactly a daily file's rows? The one comparison that retention,
fsck and restore all rely on before they trust the archive with a day."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from grok_assets import layout
from grok_assets.backup.archive import DATE_COLUMN, ArchiveIntegrityError, conform_to_archive
from grok_assets.schemas import BACKTEST_SCHEMA, SchemaMismatchError
from grok_assets.storage import CorruptObjectError, S3Store, read_parquet, read_parquet_rows

ArchiveRows = Callable[[str], "pa.Table | None"]


@dataclass(frozen=True)
class RowsCheck:
    """Whether the archive holds exactly a daily file's rows, and why (not)."""

    same: bool
    detail: str


def read_date_rows(store: S3Store, date: str) -> pa.Table | None:
    """The archive's rows of one date in archive form (None without an archive),
    fetching only the row groups whose statistics admit that date."""
    rows = read_parquet_rows(
        store, layout.ARCHIVE, columns=BACKTEST_SCHEMA.names, filters=[(DATE_COLUMN, "==", date)]
    )
    if rows is None:
        return None
    # Row-group statistics only narrow the read; keep exactly this date's rows.
    rows = rows.filter(pc.equal(rows.column(DATE_COLUMN), date))
    return conform_to_archive(rows, store.uri(layout.ARCHIVE))


def archive_rows_reader(store: S3Store) -> ArchiveRows:
    return lambda date: read_date_rows(store, date)


def cached(reader: ArchiveRows) -> ArchiveRows:
    """``reader`` reading each date once (a plan asks for one date for both kinds of file)."""
    memo: dict[str, pa.Table | None] = {}

    def read(date: str) -> pa.Table | None:
        if date not in memo:
            memo[date] = reader(date)
        return memo[date]

    return read


def _normalized(value: Any) -> Any:
    # NaN != NaN would make identical rows look different and keep them forever.
    if isinstance(value, float) and math.isnan(value):
        return ("NaN",)
    return value


def _row_multiset(table: pa.Table) -> Counter[tuple[Any, ...]]:
    columns = [table.column(name).to_pylist() for name in table.schema.names]
    return Counter(tuple(_normalized(value) for value in row) for row in zip(*columns, strict=True))


_SORT_KEYS = [(name, "ascending") for name in BACKTEST_SCHEMA.names]


def same_rows(left: pa.Table, right: pa.Table) -> bool:
    """Equal as multisets of rows (order ignored), both already in archive form."""
    if left.num_rows != right.num_rows:
        return False
    if left.sort_by(_SORT_KEYS).equals(right.sort_by(_SORT_KEYS)):
        return True
    # Table.equals treats NaN as unequal to itself; settle it row by row.
    return _row_multiset(left) == _row_multiset(right)


def compare_daily_with_archive(
    store: S3Store, day: dt.date, archive_rows: ArchiveRows | None = None
) -> RowsCheck:
    """Does the archive hold exactly the rows of ``day``'s daily backup?

    Raises ObjectMissingError when the daily file does not exist. A problem with the
    archive itself (unreadable, wrong schema) raises: nothing can be vouched for then.
    """
    date = day.isoformat()
    key = layout.daily_backup_key(day)
    try:
        daily = read_parquet(store, key)
    except CorruptObjectError as error:
        return RowsCheck(False, f"the daily file is unreadable: {error}")
    try:
        daily = conform_to_archive(daily, store.uri(key))
    except (ArchiveIntegrityError, SchemaMismatchError) as error:
        # The archive upsert refuses such a file, so the archive cannot hold its rows.
        return RowsCheck(False, f"the daily file does not match the archive schema: {error}")
    archived = (archive_rows or archive_rows_reader(store))(date)
    if archived is None:
        return RowsCheck(False, f"there is no archive {layout.ARCHIVE}")
    if archived.num_rows == 0:
        return RowsCheck(False, f"the archive holds no rows for {date}")
    if daily.num_rows != archived.num_rows:
        return RowsCheck(
            False,
            f"the archive holds {archived.num_rows} rows for {date}, "
            f"the daily file {daily.num_rows}",
        )
    if not same_rows(daily, archived):
        return RowsCheck(
            False, f"the archive's {archived.num_rows} rows for {date} differ from the daily file's"
        )
    return RowsCheck(True, f"the archive holds the same {daily.num_rows} rows for {date}")
