"""The backup gate: is the selection published now safely backed up in S3?

One function answers it for the blocking checks, for ``grok_trending`` right before
it overwrites, and for ``grok-assets verify``, so the three can never disagree. It
reads S3 only (object heads, parquet footers and single column chunks), never a
local file or anything Dagster remembers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from grok_assets import layout
from grok_assets.schemas import BACKTEST_DATE as DATE_COLUMN
from grok_assets.schemas import is_date_like, is_string_like
from grok_assets.storage import (
    CorruptObjectError,
    S3Store,
    open_parquet,
    parquet_file,
    ranged_reader,
    read_footer,
)
from grok_assets.storage.parquet import unreadable
from grok_assets.trading_calendar import TOKYO_TZ


class GateError(RuntimeError):
    """The gate cannot be evaluated because an object it reads is unusable."""


def _date_column(parquet: pq.ParquetFile, column: str, uri: str) -> int:
    """The index of the date column; any string spelling, or a date or timestamp as the
    previous pipeline's early files hold it."""
    names = parquet.schema_arrow.names
    if column not in names:
        raise GateError(
            f"{uri} has no {column!r} column (columns: {', '.join(names)}); "
            "it is not the file the pipeline wrote"
        )
    field = parquet.schema_arrow.field(column)
    if not (is_string_like(field.type) or is_date_like(field.type)):
        raise GateError(
            f"{uri} column {column!r} is {field.type}, expected YYYY-MM-DD strings or a "
            "date; it is not the file the pipeline wrote"
        )
    return names.index(column)


def _days(values: pa.ChunkedArray, uri: str) -> list[str | None]:
    """A date column's values as ``YYYY-MM-DD`` strings.

    Plain Python lists, not Arrow compute: a row group's dates are a few thousand values
    at most, and ``pyarrow.compute`` costs ``grok-assets verify`` 75 ms to import, more
    than the counting. Turning a Python value into an Arrow scalar would cost more still:
    pyarrow imports pandas for that (0.3 s)."""
    if is_string_like(values.type):
        return values.to_pylist()
    # Only files of the previous pipeline get here: ``grok-assets verify`` on this
    # project's files never pays for the conversion's imports.
    from grok_assets.upstream import iso_dates

    return iso_dates(values, uri, "date").to_pylist()


def _day(value: object) -> str | None:
    """A column statistic as a ``YYYY-MM-DD`` day (None when it is no date)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dt.datetime):
        return (value.astimezone(TOKYO_TZ) if value.tzinfo else value).date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return None


def published_selection_date(store: S3Store) -> str | None:
    """The ``date`` of the selection consumers read now; None when none is published."""
    uri = store.uri(layout.PUBLISHED_SELECTION)
    parquet = parquet_file(store, layout.PUBLISHED_SELECTION)
    if parquet is None or parquet.metadata.num_rows == 0:
        return None
    _date_column(parquet, "date", uri)
    dates = set(_days(parquet.read(columns=["date"]).column("date"), uri))
    if len(dates) != 1:
        raise GateError(
            f"{uri} holds dates {sorted(map(str, dates))}; a published selection holds one day"
        )
    return str(dates.pop())


def rows_for_date(store: S3Store, relative_key: str, date: str) -> int | None:
    """Rows whose ``backtest_date`` is ``date``; None when the object does not exist.

    Answered from the footer's statistics wherever they decide it: row groups whose
    min/max exclude ``date`` are skipped, and a group whose min and max both equal it
    counts whole. Only the date column chunk of a group that holds ``date`` among other
    dates is read. The archive writer keeps each date inside one row group, so that is
    at most one column chunk; any other layout is still counted exactly.
    """
    reader = ranged_reader(store, relative_key)
    if reader is None:
        return None
    metadata = read_footer(store, relative_key, reader)
    # The same reader, so footer and column chunks come from one version of the object.
    parquet = open_parquet(store, relative_key, reader, metadata)
    column_index = _date_column(parquet, DATE_COLUMN, store.uri(relative_key))
    count = 0
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        stats = row_group.column(column_index).statistics
        low, high = (
            (_day(stats.min), _day(stats.max)) if stats and stats.has_min_max else (None, None)
        )
        if low is not None and high is not None:
            if not (low <= date <= high):
                continue
            if low == high and stats.has_null_count and stats.null_count == 0:
                count += row_group.num_rows
                continue
        try:
            values = parquet.read_row_group(group, columns=[DATE_COLUMN]).column(DATE_COLUMN)
        except (pa.ArrowException, OSError) as error:
            raise unreadable(store, relative_key, error) from None
        count += _days(values, store.uri(relative_key)).count(date)
    return count


@dataclass(frozen=True)
class BackupStatus:
    """What S3 holds for one selection date."""

    target_date: str | None
    daily_key: str | None
    daily_rows: int | None
    archive_rows: int
    daily_unreadable: bool = False

    @property
    def nothing_to_protect(self) -> bool:
        return self.target_date is None

    @property
    def daily_backup_exists(self) -> bool:
        return self.nothing_to_protect or bool(self.daily_rows)

    @property
    def archive_contains_target_date(self) -> bool:
        return self.nothing_to_protect or self.archive_rows > 0

    @property
    def passed(self) -> bool:
        return self.daily_backup_exists and self.archive_contains_target_date

    def verdicts(self) -> list[tuple[bool, str]]:
        """One (held, sentence) pair per condition of the gate."""
        if self.nothing_to_protect:
            return [(True, "no selection is published in S3: nothing to protect")]
        if self.daily_backup_exists:
            daily = f"daily backup {self.daily_key} exists with {self.daily_rows} rows"
        elif self.daily_unreadable:
            daily = f"daily backup {self.daily_key} exists but is not a readable parquet file"
        elif self.daily_rows == 0:
            daily = f"daily backup {self.daily_key} exists but holds no rows"
        else:
            daily = f"daily backup {self.daily_key} is missing"
        if self.archive_contains_target_date:
            archive = f"archive holds {self.archive_rows} rows for {self.target_date}"
        else:
            archive = f"archive {layout.ARCHIVE} holds no rows for {self.target_date}"
        return [(self.daily_backup_exists, daily), (self.archive_contains_target_date, archive)]

    def findings(self) -> list[str]:
        return [sentence for _, sentence in self.verdicts()]


def backup_status(store: S3Store, target_date: str | None) -> BackupStatus:
    if target_date is None:
        return BackupStatus(None, None, None, 0)
    daily_key = layout.daily_backup_key(dt.date.fromisoformat(target_date))
    unreadable_daily = False
    try:
        daily = parquet_file(store, daily_key)
    except CorruptObjectError:
        # An unreadable backup is no backup; the check reports it rather than crash.
        daily_rows: int | None = 0
        unreadable_daily = True
    else:
        daily_rows = None if daily is None else daily.metadata.num_rows
    archive_rows = rows_for_date(store, layout.ARCHIVE, target_date) or 0
    return BackupStatus(target_date, daily_key, daily_rows, archive_rows, unreadable_daily)


def published_backup_status(store: S3Store) -> BackupStatus:
    """The gate as the 23:00 run sees it: is the published selection backed up?"""
    return backup_status(store, published_selection_date(store))
