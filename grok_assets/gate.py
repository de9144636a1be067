"""The backup gate: is the selection published now safely backed up in S3?

One function answers it for the blocking checks, for ``grok_trending`` right before
it overwrites, and for ``grok-assets verify``, so the three can never disagree. It
reads S3 only (object heads, parquet footers and single column chunks), never a
local file or anything Dagster remembers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow.compute as pc
import pyarrow.parquet as pq

from grok_assets import keys
from grok_assets.archive import DATE_COLUMN
from grok_assets.storage import CorruptObjectError, S3Store


class GateError(RuntimeError):
    """The gate cannot be evaluated because an object it reads is unusable."""


class GateClosedError(RuntimeError):
    """Publishing now would overwrite a selection that is not backed up."""


def _date_column(parquet: pq.ParquetFile, column: str, uri: str) -> int:
    names = parquet.schema_arrow.names
    if column not in names:
        raise GateError(
            f"{uri} has no {column!r} column (columns: {', '.join(names)}); "
            "it is not the file the pipeline wrote"
        )
    return names.index(column)


def published_selection_date(store: S3Store) -> str | None:
    """The ``date`` of the selection consumers read now; None when none is published."""
    uri = store.uri(keys.PUBLISHED_SELECTION)
    parquet = store.parquet_file(keys.PUBLISHED_SELECTION)
    if parquet is None or parquet.metadata.num_rows == 0:
        return None
    _date_column(parquet, "date", uri)
    dates = set(parquet.read(columns=["date"]).column("date").to_pylist())
    if len(dates) != 1:
        raise GateError(
            f"{uri} holds dates {sorted(map(str, dates))}; a published selection holds one day"
        )
    return str(dates.pop())


def rows_for_date(store: S3Store, relative_key: str, date: str) -> int | None:
    """Rows whose ``backtest_date`` is ``date``, reading only row groups whose footer
    statistics admit it; None when the object does not exist."""
    parquet = store.parquet_file(relative_key)
    if parquet is None:
        return None
    column_index = _date_column(parquet, DATE_COLUMN, store.uri(relative_key))
    count = 0
    metadata = parquet.metadata
    for group in range(metadata.num_row_groups):
        stats = metadata.row_group(group).column(column_index).statistics
        if stats is not None and stats.has_min_max and not (stats.min <= date <= stats.max):
            continue
        values = parquet.read_row_group(group, columns=[DATE_COLUMN]).column(DATE_COLUMN)
        count += int(pc.sum(pc.equal(values, date)).as_py() or 0)
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
            archive = f"archive {keys.ARCHIVE} holds no rows for {self.target_date}"
        return [(self.daily_backup_exists, daily), (self.archive_contains_target_date, archive)]

    def findings(self) -> list[str]:
        return [sentence for _, sentence in self.verdicts()]


def backup_status(store: S3Store, target_date: str | None) -> BackupStatus:
    if target_date is None:
        return BackupStatus(None, None, None, 0)
    day = dt.date.fromisoformat(target_date)
    daily_key = keys.daily_backup_key(day)
    unreadable = False
    try:
        daily = store.parquet_file(daily_key)
    except CorruptObjectError:
        # An unreadable backup is no backup; the check reports it rather than crash.
        daily_rows: int | None = 0
        unreadable = True
    else:
        daily_rows = None if daily is None else daily.metadata.num_rows
    archive_rows = rows_for_date(store, keys.ARCHIVE, target_date) or 0
    return BackupStatus(target_date, daily_key, daily_rows, archive_rows, unreadable)


def published_backup_status(store: S3Store) -> BackupStatus:
    """The gate as the 23:00 run sees it: is the published selection backed up?"""
    return backup_status(store, published_selection_date(store))
