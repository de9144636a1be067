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
from grok_assets.backup.archive import DATE_COLUMN, ArchiveIntegrityError, unify
from grok_assets.storage import CorruptObjectError, S3Store, read_parquet, read_planned_rows
from grok_assets.upstream import UpstreamShapeError, archive_rows_as_project, days_filters

ArchiveRows = Callable[[str], "pa.Table | None"]


@dataclass(frozen=True)
class RowsCheck:
    """Whether the archive holds exactly a daily file's rows, and why (not)."""

    same: bool
    detail: str


def read_date_rows(store: S3Store, date: str) -> pa.Table | None:
    """The archive's rows of one date, every column, as this project reads them (None
    without an archive), fetching only the row groups whose statistics admit that date."""
    rows = read_planned_rows(
        store,
        layout.ARCHIVE,
        lambda schema: (None, days_filters(schema, DATE_COLUMN, [dt.date.fromisoformat(date)])),
    )
    if rows is None:
        return None
    rows = archive_rows_as_project(rows, store.uri(layout.ARCHIVE))
    # Row-group statistics only narrow the read; keep exactly this date's rows.
    return rows.filter(pc.equal(rows.column(DATE_COLUMN), date))


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
    # NaN != NaN would make identical rows look different and keep them forever; lists
    # (evidence URLs) must be hashable to be counted.
    if isinstance(value, float) and math.isnan(value):
        return ("NaN",)
    if isinstance(value, list):
        return tuple(_normalized(item) for item in value)
    return value


def _row_multiset(table: pa.Table) -> Counter[tuple[Any, ...]]:
    columns = [table.column(name).to_pylist() for name in table.schema.names]
    return Counter(tuple(_normalized(value) for value in row) for row in zip(*columns, strict=True))


def same_rows(left: pa.Table, right: pa.Table) -> bool:
    """Equal as multisets of rows (order ignored), both with the same columns."""
    if left.num_rows != right.num_rows or left.schema.names != right.schema.names:
        return False
    keys = [
        (field.name, "ascending")
        for field in left.schema
        if not pa.types.is_nested(field.type) and not pa.types.is_null(field.type)
    ]
    if left.sort_by(keys).equals(right.sort_by(keys)):
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
        daily = archive_rows_as_project(read_parquet(store, key), store.uri(key))
    except CorruptObjectError as error:
        return RowsCheck(False, f"the daily file is unreadable: {error}")
    except UpstreamShapeError as error:
        return RowsCheck(False, f"the daily file cannot be compared with the archive: {error}")
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
    absent = [name for name in daily.schema.names if name not in archived.schema.names]
    if absent:
        return RowsCheck(False, f"the archive lacks the daily file's column(s) {', '.join(absent)}")
    try:
        # On the daily file's columns: the archive may hold more (other writers' columns).
        archived, daily = unify(archived.select(daily.schema.names), daily, store.uri(key))
    except ArchiveIntegrityError as error:
        return RowsCheck(False, f"the daily file cannot be compared with the archive: {error}")
    if not same_rows(daily, archived):
        return RowsCheck(
            False, f"the archive's {archived.num_rows} rows for {date} differ from the daily file's"
        )
    return RowsCheck(True, f"the archive holds the same {daily.num_rows} rows for {date}")
