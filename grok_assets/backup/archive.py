"""The archive's table rules: its order, its row groups, its open schema, and the upsert
that replaces one date's rows while proving no other date's rows changed. Pure: no I/O.

The schema is open: the archive keeps every column its existing rows have (the previous
pipeline's ``market_cap``, later ``seg_0930``, ``ml_prob``, ...), in their order and types,
and gains the columns new rows bring. A row carries null where it has no value. String
spellings (``large_string``, ``string_view``, dictionaries) and date types are read as
this project writes them (:mod:`grok_assets.upstream`), which changes no value.
"""

from __future__ import annotations

import io
import itertools
from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from grok_assets.schemas import BACKTEST_DATE
from grok_assets.upstream import UpstreamShapeError, plain_strings, with_iso_dates

DATE_COLUMN = BACKTEST_DATE
RANK_COLUMN = "grok_rank"
_ORDER = [(DATE_COLUMN, "ascending"), (RANK_COLUMN, "ascending")]
_REQUIRED = (DATE_COLUMN, "ticker", RANK_COLUMN)

# At most this many rows per archive row group: about 1 MB of backtest rows, some 550
# trading days at 15 picks a day. Every row group adds ~5.5 KB to the footer, which a
# gate check reads whole; at this size about 20 years of history keep the footer
# within the 64 KiB a reader fetches first (one request), while a reader of one date's
# full rows (restore, retention) fetches about 1 MB.
ARCHIVE_ROW_GROUP_ROWS = 8192


class ArchiveIntegrityError(ValueError):
    """An upsert would change rows it does not own, or a table cannot be an archive;
    nothing is written."""


def row_counts_by_date(table: pa.Table) -> Counter[str]:
    # value_counts stays in Arrow: no Python string per row of a long history.
    counts = pc.value_counts(table.column(DATE_COLUMN))
    return Counter(
        dict(
            zip(
                counts.field("values").to_pylist(),
                counts.field("counts").to_pylist(),
                strict=True,
            )
        )
    )


def as_archive_rows(table: pa.Table, where: str) -> pa.Table:
    """``table`` as archive rows: plain strings and ``YYYY-MM-DD`` dates (no value
    changes), refused unless it has the columns every archive row needs."""
    names = table.schema.names
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ArchiveIntegrityError(f"{where} repeats column(s) {', '.join(repeated)}")
    missing = [name for name in _REQUIRED if name not in names]
    if missing:
        raise ArchiveIntegrityError(
            f"{where} lacks column(s) {', '.join(missing)}; it is not archive rows"
        )
    try:
        table = with_iso_dates(plain_strings(table), where)
    except (UpstreamShapeError, pa.ArrowException) as error:
        raise ArchiveIntegrityError(str(error)) from None
    undated = table.column(DATE_COLUMN).null_count
    if undated:
        raise ArchiveIntegrityError(f"{where} has {undated} row(s) without a {DATE_COLUMN}")
    if not pa.types.is_integer(table.schema.field(RANK_COLUMN).type):
        raise ArchiveIntegrityError(
            f"{where} column {RANK_COLUMN!r} is {table.schema.field(RANK_COLUMN).type}, "
            "expected an integer"
        )
    return table.replace_schema_metadata(None)


def _kind(data_type: pa.DataType) -> str:
    if pa.types.is_integer(data_type) or pa.types.is_floating(data_type):
        return "number"
    if pa.types.is_null(data_type):
        return "null"
    return str(data_type)


def _fit(values: pa.ChunkedArray, target: pa.DataType, where: str, column: str) -> pa.ChunkedArray:
    """``values`` in ``target``'s type, only when both are of one kind (numbers, or the
    same type) and the cast changes no value: a number never becomes text."""
    if values.type.equals(target):
        return values
    if _kind(values.type) in (_kind(target), "null"):
        try:
            cast = values.cast(target)
            if pa.types.is_null(values.type) or cast.cast(values.type).equals(values):
                return cast
        except (pa.ArrowException, ValueError):
            pass
    raise ArchiveIntegrityError(
        f"{where} column {column!r} is {values.type} where the archive holds {target}; "
        "converting it would change values"
    )


def unify(archive: pa.Table, rows: pa.Table, where: str) -> tuple[pa.Table, pa.Table]:
    """``archive`` and ``rows`` with one schema: the archive's columns first, in its order
    and types, then the columns only ``rows`` has; each side null where it lacks one."""
    archive_names, row_names = set(archive.schema.names), set(rows.schema.names)
    fields = list(archive.schema) + [f for f in rows.schema if f.name not in archive_names]
    schema = pa.schema(
        [
            field if field.name in archive_names & row_names else field.with_nullable(True)
            for field in fields
        ]
    )

    def widen(table: pa.Table, side: str) -> pa.Table:
        columns = []
        for field in schema:
            if field.name in table.schema.names:
                columns.append(_fit(table.column(field.name), field.type, side, field.name))
            else:
                columns.append(pa.nulls(table.num_rows, field.type))
        return pa.Table.from_arrays(columns, schema=schema)

    return widen(archive, "the archive"), widen(rows, where)


def _conform_rows(rows: pa.Table, backtest_date: str, where: str) -> pa.Table:
    """The new daily rows as archive rows in archive order, refused unless all are of
    one date."""
    rows = as_archive_rows(rows, where)
    dates = set(pc.unique(rows.column(DATE_COLUMN)).to_pylist())
    if dates != {backtest_date}:
        raise ArchiveIntegrityError(
            f"rows to upsert for {backtest_date} carry backtest_date values {sorted(dates)}"
        )
    return rows.sort_by(_ORDER)


def is_sorted(table: pa.Table) -> bool:
    """Whether ``table`` is already in (backtest_date, grok_rank) order, nulls of rank
    last within a date, as ``Table.sort_by`` leaves it. Needs only those two columns."""
    if table.num_rows < 2:
        return True
    dates = table.column(DATE_COLUMN)
    ranks = table.column(RANK_COLUMN)
    head, tail = slice(0, table.num_rows - 1), slice(1, table.num_rows)
    earlier, later = dates[head], dates[tail]
    rank_before, rank_after = ranks[head], ranks[tail]
    rank_ok = pc.fill_null(
        pc.or_kleene(pc.less_equal(rank_before, rank_after), pc.is_null(rank_after)), False
    )
    ordered = pc.or_(pc.less(earlier, later), pc.and_(pc.equal(earlier, later), rank_ok))
    return bool(pc.all(ordered).as_py())


def date_span(table: pa.Table, backtest_date: str) -> tuple[int, int]:
    """``[start, stop)``: where ``backtest_date``'s rows are, or would go, in a table
    sorted by date."""
    dates = table.column(DATE_COLUMN)
    start = int(pc.sum(pc.less(dates, backtest_date)).as_py() or 0)
    stop = start + int(pc.sum(pc.equal(dates, backtest_date)).as_py() or 0)
    return start, stop


def _other_dates(table: pa.Table, backtest_date: str) -> pa.Table:
    return table.filter(pc.fill_null(pc.not_equal(table.column(DATE_COLUMN), backtest_date), True))


def upsert_date(
    archive: pa.Table | None,
    rows: pa.Table,
    backtest_date: str,
    where: str = "the new daily rows",
) -> pa.Table:
    """The archive with ``backtest_date``'s rows replaced by ``rows``, sorted by date
    then rank.

    Refused, and nothing written, when any other date's row count or any of its values
    would change; ``where`` names the new rows' file in every refusal. Sorting keeps
    each date in one row group (see :func:`encode_archive`), so a reader answers "is
    date D in the archive" from the footer and one column chunk.
    """
    rows = _conform_rows(rows, backtest_date, where)
    if archive is None:
        return rows
    archive, rows = unify(as_archive_rows(archive, "the archive"), rows, where)
    before = row_counts_by_date(archive)
    if is_sorted(archive):
        # The usual case, since every write comes through here: splice the new rows in
        # by zero-copy slices instead of sorting (and so copying) the whole history.
        start, stop = date_span(archive, backtest_date)
        merged = pa.concat_tables([archive.slice(0, start), rows, archive.slice(stop)])
        kept = _other_dates(archive, backtest_date)
    else:
        kept = _other_dates(archive, backtest_date).sort_by(_ORDER)
        merged = pa.concat_tables([kept, rows]).sort_by(_ORDER)
    after = row_counts_by_date(merged)
    changed = sorted(
        date
        for date in set(before) | set(after)
        if date != backtest_date and before[date] != after[date]
    )
    if changed:
        raise ArchiveIntegrityError(
            f"upserting {backtest_date} would change the row count of {', '.join(changed)}; "
            "refusing to write"
        )
    if not _other_dates(merged, backtest_date).equals(kept):
        raise ArchiveIntegrityError(
            f"upserting {backtest_date} would change values of other dates' rows; refusing to write"
        )
    return merged


def counts_if_unchanged(data: bytes, rows: pa.Table, backtest_date: str) -> Counter[str] | None:
    """The archive's row counts by date when upserting ``rows`` into the archive encoded
    as ``data`` would leave it as it is; None otherwise.

    Decided without decoding the whole archive: the date and rank columns, then only
    the row groups that hold ``backtest_date``. None also covers unreadable or unusual
    archives: the caller then runs the full upsert, which reports any problem.
    """
    try:
        parquet = pq.ParquetFile(pa.BufferReader(data))
        if not pa.types.is_string(parquet.schema_arrow.field(DATE_COLUMN).type):
            return None
        order = parquet.read(columns=[DATE_COLUMN, RANK_COLUMN])
        if not is_sorted(order):
            return None
        new = _conform_rows(rows, backtest_date, "the new daily rows")
        start, stop = date_span(order, backtest_date)
        if stop - start != new.num_rows:
            return None
        groups: list[int] = []
        first_row = offset = 0
        for group in range(parquet.metadata.num_row_groups):
            size = parquet.metadata.row_group(group).num_rows
            if first_row < stop and first_row + size > start:
                if not groups:
                    offset = first_row
                groups.append(group)
            first_row += size
        held = parquet.read_row_groups(groups).slice(start - offset, stop - start)
        held, new = unify(as_archive_rows(held, "the archive"), new, "the new daily rows")
    except (pa.ArrowException, OSError, KeyError, ArchiveIntegrityError):
        return None
    return row_counts_by_date(order) if held.equals(new) else None


def encode_archive(table: pa.Table) -> bytes:
    """The archive as parquet: zstd, statistics on, row groups of at most
    ``ARCHIVE_ROW_GROUP_ROWS`` rows that begin and end on date boundaries.

    Keeping each date inside one row group means "does date D exist, and how many rows"
    needs the footer and at most one column chunk; a row group holding one date only is
    counted from the footer's statistics alone. The newest date, the one the gate asks
    about every evening, always gets such a group of its own.
    """
    sink = io.BytesIO()
    with pq.ParquetWriter(sink, table.schema, compression="zstd", write_statistics=True) as writer:
        for start, stop in _row_groups(table.column(DATE_COLUMN)):
            writer.write_table(table.slice(start, stop - start), row_group_size=stop - start)
    return sink.getvalue()


def _row_groups(dates: pa.ChunkedArray) -> list[tuple[int, int]]:
    """``[start, stop)`` of each row group: whole dates packed up to the bound, and the
    last date (the newest, in a sorted archive) on its own."""
    total = len(dates)
    if total == 0:
        return []
    changes = pc.not_equal(dates[1:], dates[: total - 1])
    bounds = [0, *(index + 1 for index in pc.indices_nonzero(changes).to_pylist()), total]
    if len(bounds) == 2:
        return _pack(bounds)
    return [*_pack(bounds[:-1]), *_pack(bounds[-2:])]


def _pack(bounds: list[int]) -> list[tuple[int, int]]:
    """Row groups over the dates ``[bounds[i], bounds[i + 1])``: as many whole dates as
    fit the bound; a date larger than the bound fills whole groups of its own first."""
    groups: list[tuple[int, int]] = []
    group_start = bounds[0]
    for day_start, day_stop in itertools.pairwise(bounds):
        if day_stop - group_start <= ARCHIVE_ROW_GROUP_ROWS:
            continue
        if day_start > group_start:
            groups.append((group_start, day_start))
            group_start = day_start
        while day_stop - group_start > ARCHIVE_ROW_GROUP_ROWS:
            groups.append((group_start, group_start + ARCHIVE_ROW_GROUP_ROWS))
            group_start += ARCHIVE_ROW_GROUP_ROWS
    groups.append((group_start, bounds[-1]))
    return groups
