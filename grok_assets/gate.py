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
import pyarrow.compute as pc
import pyarrow.parquet as pq

from grok_assets import keys
from grok_assets.archive import DATE_COLUMN
from grok_assets.storage import CorruptObjectError, RangedObjectReader, S3Store

# The first ranged read of a footer takes this much of the object's tail, as pyarrow's
# own reader does: one request covers the archive's footer up to about 20 years of
# history (see archive.ARCHIVE_ROW_GROUP_ROWS).
FOOTER_TAIL_BYTES = 64 * 1024
_MAGIC = b"PAR1"


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
    field = parquet.schema_arrow.field(column)
    if not pa.types.is_string(field.type):
        raise GateError(
            f"{uri} column {column!r} is {field.type}, expected string (YYYY-MM-DD); "
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


def _read_exactly(reader: RangedObjectReader, start: int, length: int) -> bytes:
    reader.seek(start)
    chunks: list[bytes] = []
    while length > 0:
        chunk = reader.read(length)
        if not chunk:
            break
        chunks.append(chunk)
        length -= len(chunk)
    return b"".join(chunks)


def _unreadable(store: S3Store, relative_key: str, why: object) -> CorruptObjectError:
    return CorruptObjectError(
        f"{store.uri(relative_key)} is not a readable parquet file ({why}); restore it from "
        "a backup or rebuild it, do not overwrite it blindly",
        bucket=store.bucket,
        key=relative_key,
    )


def read_footer(store: S3Store, relative_key: str, reader: RangedObjectReader) -> pq.FileMetaData:
    """The parquet footer of the object behind ``reader``, in at most two ranged reads.

    pyarrow's reader also starts with a 64 KiB tail, but when the footer is larger it
    fetches the whole footer again; here the second read takes only the part the first
    one missed, so a long history's footer costs its own size and no more.
    """
    size = reader.size()
    if size < 2 * len(_MAGIC) + 4:
        raise _unreadable(store, relative_key, f"only {size} bytes")
    tail_length = min(size, FOOTER_TAIL_BYTES)
    tail = _read_exactly(reader, size - tail_length, tail_length)
    if len(tail) != tail_length or tail[-4:] != _MAGIC:
        raise _unreadable(store, relative_key, "no parquet magic at the end")
    footer_length = int.from_bytes(tail[-8:-4], "little") + 8
    if footer_length + len(_MAGIC) > size:
        raise _unreadable(
            store, relative_key, f"footer length {footer_length} exceeds the object's {size} bytes"
        )
    if footer_length > tail_length:
        missing = footer_length - tail_length
        tail = _read_exactly(reader, size - footer_length, missing) + tail
        if len(tail) != footer_length:
            raise _unreadable(store, relative_key, "the footer could not be read in full")
    try:
        # The metadata parser wants a file; a leading magic plus the footer is one.
        return pq.read_metadata(pa.BufferReader(_MAGIC + tail[-footer_length:]))
    except (pa.ArrowException, OSError) as error:
        raise _unreadable(store, relative_key, str(error)) from None


def rows_for_date(store: S3Store, relative_key: str, date: str) -> int | None:
    """Rows whose ``backtest_date`` is ``date``; None when the object does not exist.

    Answered from the footer's statistics wherever they decide it: row groups whose
    min/max exclude ``date`` are skipped, and a group whose min and max both equal it
    counts whole. Only the date column chunk of a group that holds ``date`` among other
    dates is read. The archive writer keeps each date inside one row group, so that is
    at most one column chunk; any other layout is still counted exactly.
    """
    uri = store.uri(relative_key)
    reader = store.ranged_reader(relative_key)
    if reader is None:
        return None
    metadata = read_footer(store, relative_key, reader)
    try:
        # The same reader, so footer and column chunks come from one version of the object.
        parquet = pq.ParquetFile(reader, metadata=metadata)
    except (pa.ArrowException, OSError) as error:
        raise _unreadable(store, relative_key, error) from None
    column_index = _date_column(parquet, DATE_COLUMN, uri)
    count = 0
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        stats = row_group.column(column_index).statistics
        if stats is not None and stats.has_min_max and isinstance(stats.min, str):
            if not (stats.min <= date <= stats.max):
                continue
            if stats.min == stats.max and stats.has_null_count and stats.null_count == 0:
                count += row_group.num_rows
                continue
        try:
            values = parquet.read_row_group(group, columns=[DATE_COLUMN]).column(DATE_COLUMN)
        except (pa.ArrowException, OSError) as error:
            raise _unreadable(store, relative_key, error) from None
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
